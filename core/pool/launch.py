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
import re
from collections.abc import Callable, Collection, Mapping
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
FIRST_FILES_ENV = "AIK_FIRST"
"""How many of the numbered downloads (the lowest numbers) a first image needs: the start
script fetches and verifies them first, reports, then fetches the others in the background."""
MODEL_CHECK_ENV = "AIK_CHECK_"
"""`AIK_CHECK_<n>=<sha256>:<bytes>`: what download n must be, where the presets pin it
(either part may be empty)."""
CUSTOM_NODE_ENV = "AIK_NODE_"
"""Env var prefix on the instance: `AIK_NODE_<n>=folder=git URL@commit`, one per custom node
pack (`[custom_nodes]`), parents before the folders inside them (one variable each: Vast
refuses env values over 256 characters)."""
MODEL_TOKEN_ENVS = ("HF_TOKEN", "CIVITAI_TOKEN")
"""Download tokens the start script sends to huggingface.co and civitai.com respectively."""
WANT_FILE = "aikings-want.tsv"
"""Downloads asked for after the start (a model added to the catalogue since): uploaded into
ComfyUI's input folder through its own `/upload/image` route, behind the instance's token,
and picked up by the start script's watcher (`want_file` says what it holds).

Why this way: a rented instance exposes only the ports we map (ComfyUI behind Caddy and the
instance's token); Vast's own remote `execute` is not a general shell, and SSH would mean
keeping keys. ComfyUI's upload route is real and already authenticated, and the file is
data the script validates (`WANT_PATH`, https only), never shell it runs. Waiting for or
waking a fresh instance instead would cost a whole cold boot (~27 GB, minutes) and a second
rental for a LoRA of a few hundred MB; the price here is the watcher's 10 s poll and the
start script's 4096-character budget. An instance started by an older script, without a
watcher, is replaced after `core.pool.manager.ASK_TIMEOUT`."""
WANT_PATH = re.compile(r"^[a-z_/]+/[A-Za-z0-9._-]+$")
"""The `folder/file` the watcher accepts (anything else could leave the models folder)."""
MAX_ENV_VALUE_CHARS = 256
MAX_ONSTART_CHARS = 4096
ONSTART_TEMPLATE = Path(__file__).with_name("onstart.sh")
"""The start script every instance runs (its text must fit Vast's 4096 characters):

1. installs ComfyUI if the image has none, and each custom node pack `AIK_NODE_<nn>` at its
   pinned commit (fetched by that commit, so git's own hashes verify it; a folder at
   another commit is replaced) with its requirements, then
   restarts ComfyUI with `COMFYUI_ARGS` (`--preview-method ...`) through the image's
   supervisor (:18188 behind Caddy :8188, token `OPEN_BUTTON_TOKEN`), else on localhost
   only. ComfyUI lists model files as they land, so it starts while they download;
2. fetches each `AIK_MODEL_<nn>` in number order, the first `AIK_FIRST` (a first image's)
   before the rest, `AIK_PARALLEL` (4) at a time, each over 8 connections (aria2c, installed
   if missing; else curl), resuming partial files; checks each against `AIK_CHECK_<nn>` or
   the source's metadata (Hugging Face X-Linked-Etag/Size) and fetches a bad file once more;
3. after the first files, and again at the end, writes every verdict and the files still
   `pending` to `input/aikings-provision.json`, which the health check reads. A file
   verified before (a prebuilt image) is neither fetched nor hashed again.
4. then watches for `input/aikings-want.tsv` (`WANT_FILE`, every `AIK_WATCH_S`, 10 s): the
   downloads asked for since (`want_file`), fetched and checked the same way and added to
   the report. Lines naming a path outside `folder[/sub]/file` or a URL not https are ignored.

`HF_TOKEN` / `CIVITAI_TOKEN` reach curl or aria2c on stdin, never a command line or the log.
"""


def comfy_token(secret: str, nonce: str) -> str:
    """The bearer token of the instance whose row holds `nonce`."""
    return hmac.new(secret.encode(), f"comfy-token:{nonce}".encode(), hashlib.sha256).hexdigest()


def pool_token(secret: str, pool: str) -> str:
    """The older pool-wide token: for rows without a nonce and the static provider's servers."""
    return comfy_token(secret, pool)


def bearer(token: str) -> dict[str, str]:
    """HTTP headers that authenticate us with `token`."""
    return {"Authorization": f"Bearer {token}"}


def instance_headers(secret: str, *, pool: str, nonce: str | None) -> dict[str, str]:
    """The headers that authenticate us at the ComfyUI of `pool`'s instance whose row holds
    `nonce`: its own token; the pool-wide one for a row without a nonce."""
    return bearer(comfy_token(secret, nonce) if nonce else pool_token(secret, pool))


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
        return instance_headers(secret, pool=pool, nonce=nonce)

    return headers


def launch_spec(
    config: PoolConfig,
    token_nonce: str,
    *,
    secret: str,
    downloads: Mapping[str, ModelDownload] | None = None,
    custom_nodes: Mapping[str, str] | None = None,
    model_tokens: Mapping[str, str] | None = None,
    first_files: Collection[str] | None = None,
) -> LaunchSpec:
    """The launch of one instance of `config`'s pool: image, disk, port, token, start script.

    Models and custom nodes default to those `data/presets.toml` lists, so an instance
    fetches exactly what the health check will ask it for, numbered in the order it fetches
    them: `first_files` (default: the first image's, `Presets.first_image_files`) first,
    the rest in `downloads`' order (default `Presets.download_order`) after them.
    `model_tokens` (`HF_TOKEN`, `CIVITAI_TOKEN`) go to the instance's environment only,
    never into its label.
    """
    if downloads is None or custom_nodes is None or first_files is None:
        presets = Presets.load()
        if downloads is None:
            downloads = {path: presets.downloads()[path] for path in presets.download_order()}
        custom_nodes = presets.custom_nodes() if custom_nodes is None else custom_nodes
        first_files = presets.first_image_files() if first_files is None else first_files
    env = {
        f"-p {COMFY_PORT}:{COMFY_PORT}": "1",
        "OPEN_BUTTON_TOKEN": comfy_token(secret, token_nonce),
        "COMFYUI_ARGS": COMFY_ARGS,
    }
    order = sorted(downloads, key=lambda path: path not in first_files)  # stable
    for index, path in enumerate(order, start=1):
        download = downloads[path]
        env[f"{MODEL_URL_ENV}{index:02d}"] = f"{path}={download.url}"
        if download.sha256 is not None or download.size_bytes is not None:
            size = "" if download.size_bytes is None else str(download.size_bytes)
            env[f"{MODEL_CHECK_ENV}{index:02d}"] = f"{download.sha256 or ''}:{size}"
    env[FIRST_FILES_ENV] = str(sum(path in first_files for path in order))
    for index, (folder, source) in enumerate(sorted(custom_nodes.items()), start=1):
        env[f"{CUSTOM_NODE_ENV}{index:02d}"] = f"{folder}={source}"
    for name, value in sorted((model_tokens or {}).items()):
        if name not in MODEL_TOKEN_ENVS:
            raise ConfigError(f"unknown model download token {name}")
        env[name] = value
    onstart = ONSTART_TEMPLATE.read_text(encoding="utf-8")
    _check_vast_limits(env, onstart)
    return LaunchSpec(
        image=config.image, disk_gb=config.disk_gb, env=env, onstart=onstart, comfy_port=COMFY_PORT
    )


def want_file(downloads: Mapping[str, ModelDownload]) -> bytes:
    """The file asking a running instance for `downloads`: one line per file, `<n>`, TAB,
    `folder/file=url`, TAB, `<sha256>:<bytes>` (what `AIK_CHECK_<n>` says at a start), and a
    last line `.` so a half-written file is never read. The watcher checks each file as the
    start does (the pinned size and sha256, else the source's metadata; one download more
    for a bad file), reports it in the verification report (listed `pending` meanwhile), and
    skips a file it verified before. ConfigError for a path or URL it would refuse."""
    lines = []
    for index, (path, download) in enumerate(sorted(downloads.items()), start=1):
        name = path.rpartition("/")[2]
        if (
            not WANT_PATH.match(path)
            or name in (".", "..")
            or not download.url.startswith("https://")
        ):
            raise ConfigError(f"{path} cannot be fetched on a running instance ({download.url})")
        size = "" if download.size_bytes is None else str(download.size_bytes)
        lines.append(f"{index}\t{path}={download.url}\t{download.sha256 or ''}:{size}\n")
    return ("".join(lines) + ".\n").encode()


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
