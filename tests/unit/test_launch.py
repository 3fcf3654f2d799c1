"""What a rented instance is told to run: token, port, the onstart template, models to fetch."""

import subprocess

import pytest

from core.comfy.presets import Presets
from core.errors import ConfigError
from core.models import PoolConfig
from core.pool.launch import (
    CUSTOM_NODES_ENV,
    MAX_ENV_VALUE_CHARS,
    ONSTART_TEMPLATE,
    comfy_token,
    launch_spec,
)

CONFIG = PoolConfig(name="main", image="vastai/comfy:latest", disk_gb=60)


def test_launch_fetches_every_required_model_and_the_custom_nodes():
    spec = launch_spec(CONFIG, secret="s3cret")
    presets = Presets.load()
    fetched = {
        value.split("=", 1)[0] for key, value in spec.env.items() if key.startswith("AIK_MODEL_")
    }
    required = {
        f"{folder}/{n}" for folder, names in presets.required_models().items() for n in names
    }
    assert required <= fetched
    assert spec.env[CUSTOM_NODES_ENV] == "https://github.com/cubiq/ComfyUI_IPAdapter_plus"
    assert all(len(value) <= MAX_ENV_VALUE_CHARS for value in spec.env.values())
    assert spec.onstart == ONSTART_TEMPLATE.read_text() and len(spec.onstart) <= 4096
    assert (spec.image, spec.disk_gb, spec.env["-p 8188:8188"]) == ("vastai/comfy:latest", 60, "1")
    assert spec.env["OPEN_BUTTON_TOKEN"] == comfy_token("s3cret", "main")


def test_a_model_url_vast_would_refuse_stops_the_launch_before_renting():
    with pytest.raises(ConfigError, match="256"):
        launch_spec(CONFIG, secret="s", model_urls={"checkpoints/x": "https://e.test/" + "a" * 300})


def test_onstart_template_is_valid_bash():
    assert subprocess.run(["bash", "-n", str(ONSTART_TEMPLATE)], check=False).returncode == 0
