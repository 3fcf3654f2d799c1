"""What a rented machine runs: the ComfyUI image, its port, its token and its start script.

We rent `vastai/comfy` images (or an operator's prebuilt one). Their Caddy front publishes
ComfyUI on port 8188 with bearer authentication keyed by `OPEN_BUTTON_TOKEN`, and we send
that token on every ComfyUI call: an unauthenticated ComfyUI on a public IP would run
anyone's graphs on our bill. Each instance gets its own token, an HMAC under the deployment
secret of a random nonce kept in its row: different on every host, not computable from the
source, and never stored itself. Rows from before per-instance tokens (nonce NULL) and the
static provider's own servers keep the older pool-wide token.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from core.comfy.presets import ModelDownload, Presets
from core.db import read_scope
from core.errors import ConfigError
from core.models import LIVE_INSTANCE_STATES, GpuInstance, PoolConfig
from core.pool.provider import LaunchSpec

COMFY_PORT = 8188
COMFY_INTERNAL_PORT = 18188
PREVIEW_METHOD = "auto"
"""ComfyUI's `--preview-method`: without one it sends no previews and the studio's live
preview stays empty ("auto" is TAESD when its decoder is present, else latent2rgb)."""
COMFY_ARGS = (
    f"--disable-auto-launch --port {COMFY_INTERNAL_PORT} --enable-cors-header "
    f"--preview-method {PREVIEW_METHOD}"
)
"""ComfyUI's flags, for the image's supervisor (`COMFYUI_ARGS`) and our own start alike."""

MODEL_URL_ENV = "AIK_MODEL_"
"""Env var prefix on the instance: `AIK_MODEL_<n>=folder/file=url`, one per download (presets
`[downloads]`); one variable each because Vast refuses env values over 256 characters."""
MODEL_CHECK_ENV = "AIK_CHECK_"
"""`AIK_CHECK_<n>=<sha256>:<bytes>`: what download n must be, where the presets pin it
(either part may be empty)."""
CUSTOM_NODES_ENV = "AIK_CUSTOM_NODES"
"""Env var on the instance: space-separated git URLs of custom node packs (`[custom_nodes]`)."""
MODEL_TOKEN_ENVS = ("HF_TOKEN", "CIVITAI_TOKEN")
"""Download tokens the start script sends to huggingface.co and civitai.com respectively."""
MAX_ENV_VALUE_CHARS = 256
MAX_ONSTART_CHARS = 4096
ONSTART_TEMPLATE = Path(__file__).with_name("onstart.sh")
"""The start script every instance runs: installs ComfyUI, custom nodes and models, restarts."""


def comfy_token(secret: str, nonce: str) -> str:
    """The bearer token of the instance whose row holds `nonce`."""
    return hmac.new(secret.encode(), f"comfy-token:{nonce}".encode(), hashlib.sha256).hexdigest()


def pool_token(secret: str, pool: str) -> str:
    """The older pool-wide token: for rows without a nonce and the static provider's servers."""
    return comfy_token(secret, pool)


def bearer(token: str) -> dict[str, str]:
    """HTTP headers that authenticate us with `token`."""
    return {"Authorization": f"Bearer {token}"}


def headers_by_url(engine: Engine, *, pool: str, secret: str) -> Callable[[str], dict[str, str]]:
    """A lookup: the ComfyUI at a URL -> the headers for that live instance of `pool` (its own
    token; the pool-wide one for a row without a nonce or a URL no live row has)."""

    def headers(url: str) -> dict[str, str]:
        with read_scope(engine) as session:
            nonce = session.exec(
                select(GpuInstance.comfy_token_nonce)
                .where(
                    GpuInstance.pool == pool,
                    GpuInstance.comfy_url == url,
                    col(GpuInstance.state).in_(LIVE_INSTANCE_STATES),
                )
                .order_by(col(GpuInstance.id).desc())
            ).first()
        return bearer(comfy_token(secret, nonce) if nonce else pool_token(secret, pool))

    return headers


def launch_spec(
    config: PoolConfig,
    token_nonce: str,
    *,
    secret: str,
    downloads: Mapping[str, ModelDownload] | None = None,
    custom_nodes: Mapping[str, str] | None = None,
    model_tokens: Mapping[str, str] | None = None,
) -> LaunchSpec:
    """The launch of one instance of `config`'s pool: image, disk, port, token, start script.

    Models and custom nodes default to those `data/presets.toml` lists, so an instance
    fetches exactly what the health check will ask it for. `model_tokens` (`HF_TOKEN`,
    `CIVITAI_TOKEN`) go to the instance's environment only, never into its label.
    """
    if downloads is None or custom_nodes is None:
        presets = Presets.load()
        downloads = presets.downloads() if downloads is None else downloads
        custom_nodes = presets.custom_nodes() if custom_nodes is None else custom_nodes
    env = {
        f"-p {COMFY_PORT}:{COMFY_PORT}": "1",
        "OPEN_BUTTON_TOKEN": comfy_token(secret, token_nonce),
        "COMFYUI_ARGS": COMFY_ARGS,
    }
    for index, (path, download) in enumerate(sorted(downloads.items()), start=1):
        env[f"{MODEL_URL_ENV}{index}"] = f"{path}={download.url}"
        if download.sha256 is not None or download.size_bytes is not None:
            size = "" if download.size_bytes is None else str(download.size_bytes)
            env[f"{MODEL_CHECK_ENV}{index}"] = f"{download.sha256 or ''}:{size}"
    if custom_nodes:
        env[CUSTOM_NODES_ENV] = " ".join(url for _name, url in sorted(custom_nodes.items()))
    for name, value in sorted((model_tokens or {}).items()):
        if name not in MODEL_TOKEN_ENVS:
            raise ConfigError(f"unknown model download token {name}")
        env[name] = value
    onstart = ONSTART_TEMPLATE.read_text(encoding="utf-8")
    _check_vast_limits(env, onstart)
    return LaunchSpec(
        image=config.image, disk_gb=config.disk_gb, env=env, onstart=onstart, comfy_port=COMFY_PORT
    )


def _check_vast_limits(env: Mapping[str, str], onstart: str) -> None:
    """Refuse, before renting, what Vast's create would refuse (create_instance.yaml limits)."""
    for name, value in env.items():
        if len(value) > MAX_ENV_VALUE_CHARS:
            shown = "a model download token" if name in MODEL_TOKEN_ENVS else f"instance env {name}"
            raise ConfigError(
                f"{shown} is {len(value)} characters; Vast allows {MAX_ENV_VALUE_CHARS}"
                + ("" if name in MODEL_TOKEN_ENVS else " (shorten the URL in data/presets.toml)")
            )
    if len(onstart) > MAX_ONSTART_CHARS:
        raise ConfigError(f"the onstart script exceeds Vast's {MAX_ONSTART_CHARS} characters")
