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

from core.models import PoolConfig
from core.pool.provider import LaunchSpec

COMFY_PORT = 8188

MODEL_URL_ENV = "AIK_MODEL_URLS"
"""Optional env var on the instance: space-separated `folder/filename=url` downloads."""

ONSTART = """#!/bin/bash
# Written by AI KINGS. Fetch the models the pool's workflows need, then let the image's own
# supervisor start ComfyUI (behind Caddy on :8188, bearer token = $OPEN_BUTTON_TOKEN).
set -u
cd "${WORKSPACE:-/workspace}/ComfyUI/models" 2>/dev/null || exit 0
for item in ${AIK_MODEL_URLS:-}; do
  target="${item%%=*}"; url="${item#*=}"
  [ -s "$target" ] || wget -q -O "$target.part" "$url" && mv "$target.part" "$target"
done
"""


def comfy_token(secret: str, pool: str) -> str:
    """The bearer token ComfyUI on `pool`'s instances expects; stable for a deployment."""
    return hmac.new(secret.encode(), f"comfy-token:{pool}".encode(), hashlib.sha256).hexdigest()


def comfy_headers(secret: str, pool: str) -> dict[str, str]:
    """HTTP headers that authenticate us to the pool's ComfyUI servers."""
    return {"Authorization": f"Bearer {comfy_token(secret, pool)}"}


def launch_spec(
    config: PoolConfig, *, secret: str, model_urls: Mapping[str, str] | None = None
) -> LaunchSpec:
    """The launch of one instance of `config`'s pool: image, disk, port, token, start script."""
    env = {
        f"-p {COMFY_PORT}:{COMFY_PORT}": "1",
        "OPEN_BUTTON_TOKEN": comfy_token(secret, config.name),
        "COMFYUI_ARGS": "--disable-auto-launch --port 18188 --enable-cors-header",
    }
    if model_urls:
        env[MODEL_URL_ENV] = " ".join(f"{path}={url}" for path, url in sorted(model_urls.items()))
    return LaunchSpec(
        image=config.image,
        disk_gb=config.disk_gb,
        env=env,
        onstart=ONSTART,
        comfy_port=COMFY_PORT,
    )
