"""What a rented instance is told to run: its own token, port, flags, models to fetch and check."""

import subprocess

import pytest

from core.comfy.health import PROVISION_REPORT
from core.comfy.presets import ModelDownload, Presets
from core.errors import ConfigError
from core.models import PoolConfig
from core.pool.launch import (
    CUSTOM_NODE_ENV,
    MAX_ENV_VALUE_CHARS,
    MAX_ONSTART_CHARS,
    ONSTART_TEMPLATE,
    comfy_token,
    launch_spec,
    pool_token,
    want_file,
)

CONFIG = PoolConfig(name="main", image="vastai/comfy:latest", disk_gb=60)


def test_launch_fetches_every_required_model_and_the_custom_nodes():
    spec = launch_spec(CONFIG, "a1b2", secret="s3cret")
    presets = Presets.load()
    fetched = {
        value.split("=", 1)[0] for key, value in spec.env.items() if key.startswith("AIK_MODEL_")
    }
    required = {
        f"{folder}/{n}" for folder, names in presets.required_models().items() for n in names
    }
    assert required <= fetched
    packs = {value for key, value in spec.env.items() if key.startswith(CUSTOM_NODE_ENV)}
    assert packs == {f"{folder}={source}" for folder, source in presets.custom_nodes().items()}
    assert spec.env[f"{CUSTOM_NODE_ENV}01"].startswith("ComfyUI-Impact-Pack=https://")
    assert spec.env[f"{CUSTOM_NODE_ENV}02"].startswith("ComfyUI-Impact-Pack/impact_subpack=")
    assert all(len(value) <= MAX_ENV_VALUE_CHARS for value in spec.env.values())
    assert spec.onstart == ONSTART_TEMPLATE.read_text() and len(spec.onstart) <= MAX_ONSTART_CHARS
    assert (spec.image, spec.disk_gb, spec.env["-p 8188:8188"]) == ("vastai/comfy:latest", 60, "1")


def test_each_instance_gets_its_own_token_none_computable_from_the_pool_name():
    first = launch_spec(CONFIG, "nonce-one", secret="s3cret").env["OPEN_BUTTON_TOKEN"]
    second = launch_spec(CONFIG, "nonce-two", secret="s3cret").env["OPEN_BUTTON_TOKEN"]
    assert first == comfy_token("s3cret", "nonce-one")
    assert len({first, second, pool_token("s3cret", "main")}) == 3
    assert comfy_token("other-secret", "nonce-one") != first


def test_comfyui_is_started_with_a_preview_method():
    args = launch_spec(CONFIG, "n", secret="s").env["COMFYUI_ARGS"].split()
    assert args[args.index("--preview-method") + 1] == "auto"


def test_pinned_sha256_and_size_travel_beside_their_download():
    downloads = {
        "checkpoints/a.safetensors": ModelDownload("https://e.test/a", "f" * 64, 123),
        "vae/b.safetensors": ModelDownload("https://e.test/b", None, 45),
        "loras/c.safetensors": ModelDownload("https://e.test/c"),
    }
    env = launch_spec(CONFIG, "n", secret="s", downloads=downloads, custom_nodes={}).env
    checks = {
        env[key].split("=", 1)[0]: env.get(key.replace("AIK_MODEL_", "AIK_CHECK_"))
        for key in env
        if key.startswith("AIK_MODEL_")
    }
    assert checks == {
        "checkpoints/a.safetensors": "f" * 64 + ":123",
        "vae/b.safetensors": ":45",
        "loras/c.safetensors": None,
    }


def test_download_tokens_reach_the_environment_only():
    spec = launch_spec(
        CONFIG, "n", secret="s", model_tokens={"HF_TOKEN": "hf_x", "CIVITAI_TOKEN": "cv_y"}
    )
    assert (spec.env["HF_TOKEN"], spec.env["CIVITAI_TOKEN"]) == ("hf_x", "cv_y")
    with pytest.raises(ConfigError, match="unknown model download token"):
        launch_spec(CONFIG, "n", secret="s", model_tokens={"AWS_SECRET": "z"})
    with pytest.raises(ConfigError, match="a model download token is 300 characters") as info:
        launch_spec(CONFIG, "n", secret="s", model_tokens={"HF_TOKEN": "t" * 300})
    assert "t" * 20 not in str(info.value)


def test_a_model_url_vast_would_refuse_stops_the_launch_before_renting():
    too_long = {"checkpoints/x": ModelDownload("https://e.test/" + "a" * 300)}
    with pytest.raises(ConfigError, match="256"):
        launch_spec(CONFIG, "n", secret="s", downloads=too_long)


def test_onstart_template_is_valid_bash_and_writes_the_report_the_health_check_reads():
    assert subprocess.run(["bash", "-n", str(ONSTART_TEMPLATE)], check=False).returncode == 0
    assert f"input/{PROVISION_REPORT}" in ONSTART_TEMPLATE.read_text()


def test_downloads_are_numbered_in_fetch_order_the_first_images_checkpoint_first():
    presets = Presets.load()
    spec = launch_spec(CONFIG, "n", secret="s")
    numbered = sorted(key for key in spec.env if key.startswith("AIK_MODEL_"))
    order = [spec.env[key].split("=", 1)[0] for key in numbered]
    assert order == presets.download_order()
    assert order[0] == f"checkpoints/{presets.default_model('image')}"
    assert spec.env["AIK_FIRST"] == "1"
    video = [i for i, path in enumerate(order) if path.startswith(("diffusion_models/", "vae/"))]
    image = [i for i, path in enumerate(order) if path.startswith(("loras/", "ipadapter/"))]
    assert max(image) < min(video)  # the video models come last


def test_the_want_file_pins_each_download_and_ends_with_its_marker():
    wanted = want_file(
        {
            "loras/style.safetensors": ModelDownload(
                "https://civitai.com/api/download/models/1", "ab" * 32, 42
            ),
            "upscale_models/x.pth": ModelDownload("https://huggingface.co/a/b/resolve/main/x.pth"),
        }
    )
    assert wanted.decode().split("\n") == [
        f"1\tloras/style.safetensors=https://civitai.com/api/download/models/1\t{'ab' * 32}:42",
        "2\tupscale_models/x.pth=https://huggingface.co/a/b/resolve/main/x.pth\t:",
        ".",
        "",
    ]


@pytest.mark.parametrize(
    ("path", "url"),
    [
        ("loras/../../etc/x", "https://civitai.com/x"),
        ("loras/..", "https://civitai.com/x"),
        ("Loras/x.safetensors", "https://civitai.com/x"),
        ("loras/x.safetensors", "http://civitai.com/x"),
    ],
)
def test_the_want_file_refuses_what_the_watcher_would_ignore(path, url):
    with pytest.raises(ConfigError, match="cannot be fetched on a running instance"):
        want_file({path: ModelDownload(url)})
