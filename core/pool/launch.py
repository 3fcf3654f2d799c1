"""What a rented machine runs: the ComfyUI image, its port, its token and its start script.

We rent `vastai/comfy` images. Their Caddy front publishes ComfyUI on port 8188 with bearer
authentication keyed by `OPEN_BUTTON_TOKEN`; we set that token ourselves (derived from the
audit secret, so every process of one deployment agrees on it without storing it) and send
it on every ComfyUI call. An unauthenticated ComfyUI on a public IP would run anyone's graphs
on our bill.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from pathlib import Path

from core.comfy.presets import Presets
from core.errors import ConfigError
from core.models import PoolConfig
from core.pool.provider import LaunchSpec

COMFY_PORT = 8188

MODEL_URL_ENV = "AIK_MODEL_"
"""Env var prefix on the instance: `AIK_MODEL_<n>=folder/file=url`, one per download (presets
`[downloads]`); one variable each because Vast refuses env values over 256 characters."""
MAX_ENV_VALUE_CHARS = 256
MAX_ONSTART_CHARS = 4096
CUSTOM_NODES_ENV = "AIK_CUSTOM_NODES"
"""Env var on the instance: space-separated git URLs of custom node packs (`[custom_nodes]`)."""
ONSTART_TEMPLATE = Path(__file__).with_name("onstart.sh")
"""The start script every instance runs: installs ComfyUI, custom nodes and models, restarts."""


def comfy_token(secret: str, pool: str) -> str:
    """The bearer token ComfyUI on `pool`'s instances expects; stable for a deployment."""
    return hmac.new(secret.encode(), f"comfy-token:{pool}".encode(), hashlib.sha256).hexdigest()


def comfy_headers(secret: str, pool: str) -> dict[str, str]:
    """HTTP headers that authenticate us to the pool's ComfyUI servers."""
    return {"Authorization": f"Bearer {comfy_token(secret, pool)}"}


def launch_spec(
    config: PoolConfig,
    *,
    secret: str,
    model_urls: Mapping[str, str] | None = None,
    custom_nodes: Mapping[str, str] | None = None,
) -> LaunchSpec:
    """The launch of one instance of `config`'s pool: image, disk, port, token, start script.

    Models and custom nodes default to those `data/presets.toml` lists, so an instance
    fetches exactly what the health check will ask it for.
    """
    if model_urls is None or custom_nodes is None:
        presets = Presets.load()
        model_urls = presets.downloads() if model_urls is None else model_urls
        custom_nodes = presets.custom_nodes() if custom_nodes is None else custom_nodes
    env = {
        f"-p {COMFY_PORT}:{COMFY_PORT}": "1",
        "OPEN_BUTTON_TOKEN": comfy_token(secret, config.name),
        "COMFYUI_ARGS": "--disable-auto-launch --port 18188 --enable-cors-header",
    }
    for index, (path, url) in enumerate(sorted(model_urls.items()), start=1):
        env[f"{MODEL_URL_ENV}{index}"] = f"{path}={url}"
    if custom_nodes:
        env[CUSTOM_NODES_ENV] = " ".join(url for _name, url in sorted(custom_nodes.items()))
    onstart = ONSTART_TEMPLATE.read_text(encoding="utf-8")
    _check_vast_limits(env, onstart)
    return LaunchSpec(
        image=config.image, disk_gb=config.disk_gb, env=env, onstart=onstart, comfy_port=COMFY_PORT
    )


def _check_vast_limits(env: Mapping[str, str], onstart: str) -> None:
    """Refuse, before renting, what Vast's create would refuse (create_instance.yaml limits)."""
    for name, value in env.items():
        if len(value) > MAX_ENV_VALUE_CHARS:
            raise ConfigError(
                f"instance env {name} is {len(value)} characters; Vast allows "
                f"{MAX_ENV_VALUE_CHARS} (shorten the URL in data/presets.toml)"
            )
    if len(onstart) > MAX_ONSTART_CHARS:
        raise ConfigError(f"the onstart script exceeds Vast's {MAX_ONSTART_CHARS} characters")
