"""What a simulated ComfyUI server has installed, how it was started, and how it misbehaves."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sim.comfy.provision import SHIPPED_FILES, Provisioning

COMFYUI_VERSION = "0.3.64"
PREVIEW_METHODS = ("none", "auto", "latent2rgb", "taesd")
"""ComfyUI's `--preview-method` choices; "none" is its default (no previews are sent)."""


def shipped_models() -> dict[str, list[str]]:
    """Models folder -> the studio's shipped files (every model installed)."""
    folders: dict[str, list[str]] = {}
    for path in SHIPPED_FILES:
        folder, _, name = path.partition("/")
        folders.setdefault(folder, []).append(name)
    return folders


@dataclass
class ComfySimConfig:
    """One simulated server: its models, start flags, proxy token, timings and faults.

    The defaults are a ComfyUI started with no flags (so no previews), every shipped model
    on disk and no authenticating proxy in front.
    """

    models: dict[str, list[str]] = field(default_factory=shipped_models)
    """Models folder -> files on disk (from the start, or once `provisioning` is done)."""
    preview_method: str = "none"
    """`--preview-method`: anything but "none" sends a JPEG preview after each sampler step."""
    token: str | None = None
    """The bearer token the authenticating proxy in front (Caddy on vastai/comfy) expects."""
    step_delay_s: float = 0.0
    """Seconds each sampler step takes (the GPU's speed)."""
    load_s_per_gb: float = 0.0
    """Seconds a loader node takes per GB of its file when not cached (disk to VRAM)."""
    provisioning: Provisioning | None = None
    """A start in progress (downloads, then a restart); None: ready from the beginning."""
    bad_files: dict[str, str] = field(default_factory=dict)
    """`folder/file` -> "short" or "corrupt": the file on disk is not what was expected."""
    unhealthy: bool = False
    """Every request answers 502 from the proxy (ComfyUI never came up)."""
    unhealthy_until: float = 0.0
    """Clock time before which it is unhealthy (a slow start)."""
    fail_at_step: int | None = None
    """The sampler raises at this step: `execution_error`, history status error."""
    hang: bool = False
    """A prompt starts and never finishes."""
    output_grain: int = 0
    """Per-pixel noise amplitude in saved PNGs: 0 gives ~10 KB gradients; ~24 gives the
    2–3 MB a real 1024² picture weighs (what the benchmarks move and store)."""
    watches_for_downloads: bool = True
    """Whether its start script watches for downloads asked for later (False: an instance
    started by an older script, which never picks a want file up)."""
    drop_ws: bool = False
    """Close every WebSocket right after the first progress event."""
    clock: Callable[[], float] = time.monotonic
    """Seconds on the clock that `unhealthy_until` and `provisioning` are written in."""

    def __post_init__(self) -> None:
        if self.preview_method not in PREVIEW_METHODS:
            raise ValueError(
                f"preview_method {self.preview_method!r} is not one of {', '.join(PREVIEW_METHODS)}"
            )

    def argv(self) -> list[str]:
        """The command line `/system_stats` reports, as our onstart starts ComfyUI."""
        argv = ["main.py", "--listen", "127.0.0.1", "--port", "18188"]
        if self.preview_method != "none":
            argv += ["--preview-method", self.preview_method]
        return argv
