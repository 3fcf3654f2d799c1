"""A rented instance's start, as the simulator models it: ComfyUI's restart, then downloads
over the offer's link, then the verification report our onstart script leaves behind.

The container's ComfyUI restarts at once (custom nodes, `--preview-method`) while the files
download: the first image's files first, the rest after them. Downloads run `parallel` at a
time, each file over `segments` connections; each connection is capped at `stream_mbps` (a
CDN serves one connection at a bounded rate) and together they share the offer's
`inet_down`. The report, `input/aikings-provision.json`, is what `core/pool/onstart.sh`
writes once the first files are checked (the others `pending`) and again at the end: each
file's size, sha256, whether it matched what was expected and from where the expectation
came. A file can be set to arrive short or corrupt (a fault), in which case the report says
so, as the real script would after its one re-download also failed.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

REPORT_NAME = "aikings-provision.json"
WANT_NAME = "aikings-want.tsv"
"""Downloads asked for after the start, which the start script's watcher picks up from
ComfyUI's input folder (lines `<n>\t<folder/file>=<https url>\t<sha256>:<bytes>`, then `.`)."""
WANT_LINE = re.compile(r"^(\d+)\t([a-z_/]+/[A-Za-z0-9._-]+)=https://\S+\t(.*)$")
"""The verification report's name in ComfyUI's input folder (`/view?type=input`)."""
MODEL_ENV = "AIK_MODEL_"
CHECK_ENV = "AIK_CHECK_"
DEFAULT_SIZE_BYTES = 2_000_000_000

SHIPPED_FILES: dict[str, tuple[int, str | None]] = {
    "checkpoints/sdxl_base_1.0.safetensors": (
        6_938_078_334,
        "31e35c80fc4829d14f90153f4c74cd59c90b779f6afe05a74cd6120b893f7e5b",
    ),
    "checkpoints/realvis_xl_4.0.safetensors": (6_938_000_000, None),
    "ipadapter/ip-adapter-plus_sdxl_vit-h.safetensors": (848_000_000, None),
    "ipadapter/ip-adapter-plus-face_sdxl_vit-h.safetensors": (848_000_000, None),
    "clip_vision/CLIP-ViT-H-14-laion2B-s32B-b79K.safetensors": (2_528_000_000, None),
    "diffusion_models/wan2.1_t2v_1.3B_fp16.safetensors": (2_838_000_000, None),
    "diffusion_models/wan2.1_i2v_480p_14B_fp8_e4m3fn.safetensors": (16_400_000_000, None),
    "clip_vision/clip_vision_h.safetensors": (1_264_000_000, None),
    "text_encoders/umt5_xxl_fp8_e4m3fn_scaled.safetensors": (6_736_000_000, None),
    "vae/wan_2.1_vae.safetensors": (253_815_318, None),
    "loras/sd_xl_offset_example-lora_1.0.safetensors": (49_600_000, None),
    "upscale_models/RealESRGAN_x4plus.pth": (67_040_989, None),
    "upscale_models/4x-UltraSharp.pth": (66_961_958, None),
    "ultralytics/bbox/face_yolov8m.pt": (
        52_026_019,
        "f02b8a23e6f12bd2c1b1f6714f66f984c728fa41ed749d033e7d6dea511ef70c",
    ),
}
"""The model files the studio ships, as the simulator knows them: bytes (exact where the
sha256 is given, else rounded from the model pages, for timing only) and the true sha256
where known. A file without a known hash gets a stable stand-in digest."""


@dataclass(frozen=True)
class ModelFile:
    """One file the start script fetches: where it goes, how big it is, its true sha256."""

    path: str
    size_bytes: int
    sha256: str
    pinned: bool
    """Whether the launch named the expected sha256 and size (else the source's metadata)."""


def true_file(path: str) -> tuple[int, str]:
    """(bytes, sha256) of the real file at `path` (`folder/file`) as the simulator knows it."""
    size, digest = SHIPPED_FILES.get(path, (DEFAULT_SIZE_BYTES, None))
    return size, digest or hashlib.sha256(f"sim-model:{path}".encode()).hexdigest()


def files_from_env(env: Mapping[str, str]) -> list[ModelFile]:
    """The files a launch asks for: `AIK_MODEL_<n>=folder/file=url`, and optionally
    `AIK_CHECK_<n>=<sha256>:<bytes>` pinning what the file must be."""
    files = []
    for name, value in sorted(env.items()):
        if not name.startswith(MODEL_ENV):
            continue
        path = value.split("=", 1)[0]
        size, digest = true_file(path)
        check = env.get(CHECK_ENV + name[len(MODEL_ENV) :], "")
        pinned = bool(check)
        if pinned:
            digest, _, size_text = check.partition(":")
            size = int(size_text or size)
        files.append(ModelFile(path, size, digest, pinned))
    return files


def want_files(data: bytes) -> list[ModelFile] | None:
    """The files a want file asks for, as the watcher reads it: None while it is incomplete
    (no last `.` line); lines it refuses (a path outside `folder/file`, no https) left out."""
    text = data.decode(errors="replace")
    if not (text == ".\n" or text.endswith("\n.\n")):
        return None
    files = []
    for line in text.splitlines()[:-1]:
        match = WANT_LINE.match(line)
        if match is None:
            continue
        path, check = match[2], match[3]
        size, digest = true_file(path)
        pinned = check not in ("", ":")
        if pinned:
            pinned_digest, _, size_text = check.partition(":")
            digest, size = pinned_digest or digest, int(size_text or size)
        files.append(ModelFile(path, size, digest, pinned))
    return files


def installed(files: list[ModelFile]) -> dict[str, list[str]]:
    """Models folder -> file names, for the given files."""
    folders: dict[str, list[str]] = {}
    for item in files:
        folder, _, name = item.path.partition("/")
        folders.setdefault(folder, []).append(name)
    return folders


def download_s(
    sizes_bytes: list[int],
    *,
    link_mbps: float,
    stream_mbps: float,
    parallel: int,
    segments: int = 1,
) -> float:
    """Seconds to fetch files of `sizes_bytes`, `parallel` at a time, each over `segments`
    connections capped at `stream_mbps` apiece, all sharing `link_mbps` (fair share, as TCP
    roughly gives)."""
    remaining = sorted(float(size) * 8 / 1e6 for size in sizes_bytes if size > 0)  # megabits
    waiting = list(reversed(remaining))
    active: list[float] = []
    elapsed = 0.0
    while waiting or active:
        while waiting and len(active) < max(1, parallel):
            active.append(waiting.pop())
        rate = min(stream_mbps * max(1, segments), link_mbps / len(active))
        step = min(active) / rate
        elapsed += step
        active = [left - step * rate for left in active if left - step * rate > 1e-9]
    return elapsed


def report(
    files: list[ModelFile], faults: Mapping[str, str], pending: Sequence[str] = ()
) -> dict[str, Any]:
    """The verification report onstart writes when it is done with `files` (`pending`: the
    files it has still to fetch); `faults` maps `folder/file` to "short" or "corrupt", what
    arrived instead of the expected file (twice: the script re-downloads a bad file once
    before reporting it)."""
    entries: dict[str, Any] = {}
    for item in files:
        fault = faults.get(item.path)
        size = item.size_bytes // 2 if fault == "short" else item.size_bytes
        digest = item.sha256
        if fault is not None:
            digest = hashlib.sha256(f"{fault}:{item.path}".encode()).hexdigest()
        entries[item.path] = {
            "size_bytes": size,
            "sha256": digest,
            "expected": "pinned" if item.pinned else "source",
            "ok": fault is None,
            "attempts": 1 if fault is None else 2,
        }
    failed = sorted(path for path, entry in entries.items() if not entry["ok"])
    return {"version": 1, "files": entries, "failed": failed, "pending": sorted(pending)}


def report_bytes(
    files: list[ModelFile], faults: Mapping[str, str], pending: Sequence[str] = ()
) -> bytes:
    """The report file's bytes."""
    return json.dumps(report(files, faults, pending), sort_keys=True).encode()


@dataclass(frozen=True)
class Provisioning:
    """One start of a rented instance, on the simulator's clock.

    The container runs from `started_at`: ComfyUI restarts for `comfy_start_s` (answering
    502 meanwhile) while the downloads run. The first `first_count` files (all when None)
    are in place and checked `download_s` later, when the first report appears; the others
    `rest_s` after that, when the report is written again without `pending` files.
    """

    started_at: float
    files: list[ModelFile]
    download_s: float
    comfy_start_s: float
    first_count: int | None = None
    rest_s: float = 0.0
    fetch_s: Callable[[list[ModelFile]], float] = field(default=lambda _files: 0.0)
    """Seconds the watcher takes to fetch and check files asked for later."""

    @property
    def downloaded_at(self) -> float:
        """When the first files (and their checks) are done: the first report."""
        return self.started_at + self.download_s

    @property
    def done_at(self) -> float:
        """When the last download (and its check) finished."""
        return self.downloaded_at + self.rest_s

    @property
    def ready_at(self) -> float:
        """When ComfyUI is up with the first files in place."""
        return max(self.downloaded_at, self.started_at + self.comfy_start_s)

    def restarting(self, now: float) -> bool:
        """Whether ComfyUI is down for its restart at `now`."""
        return self.started_at <= now < self.started_at + self.comfy_start_s

    def landed(self, now: float) -> list[ModelFile]:
        """The files in place and checked at `now`."""
        if now < self.downloaded_at:
            return []
        if now >= self.done_at or self.first_count is None:
            return list(self.files)
        return self.files[: self.first_count]

    def pending(self, now: float) -> list[str]:
        """The files still to come at `now`."""
        done = {item.path for item in self.landed(now)}
        return [item.path for item in self.files if item.path not in done]
