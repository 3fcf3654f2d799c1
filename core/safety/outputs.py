"""Screening generated outputs: a detector judges every image (and sampled video frames).

`OutputScreener` is the small protocol the job runner depends on. `NudeNetScreener` runs the
NudeNet detector (MIT; its ONNX model ships inside the `nudenet` wheel, so nothing is
downloaded at run time) on onnxruntime's CPU provider. It reports a score per body-part label
and calls an output explicit when an exposed-part label reaches `EXPLICIT_THRESHOLD`.

What a verdict does to an asset (hidden, flagged, queued for review) is decided in
`core.gallery.screening`; a detector never makes anything public: a moderator does.
NudeNet estimates no age: an apparent-age model that ships in a wheel is still to be found.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata, resources
from typing import TYPE_CHECKING, Any, Literal, Protocol

from PIL import Image

from core.config import OutputScreenerKind, get_settings
from core.mediatype import MP4, sniff_mime

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

log = logging.getLogger(__name__)

# The detector's classes, in the order of its output rows (nudenet 3.4, model 320n.onnx).
NUDENET_LABELS = (
    "FEMALE_GENITALIA_COVERED",
    "FACE_FEMALE",
    "BUTTOCKS_EXPOSED",
    "FEMALE_BREAST_EXPOSED",
    "FEMALE_GENITALIA_EXPOSED",
    "MALE_BREAST_EXPOSED",
    "ANUS_EXPOSED",
    "FEET_EXPOSED",
    "BELLY_COVERED",
    "FEET_COVERED",
    "ARMPITS_COVERED",
    "ARMPITS_EXPOSED",
    "FACE_MALE",
    "BELLY_EXPOSED",
    "MALE_GENITALIA_EXPOSED",
    "ANUS_COVERED",
    "FEMALE_BREAST_COVERED",
    "BUTTOCKS_COVERED",
)
EXPLICIT_LABELS = frozenset(
    {
        "BUTTOCKS_EXPOSED",
        "FEMALE_BREAST_EXPOSED",
        "FEMALE_GENITALIA_EXPOSED",
        "MALE_GENITALIA_EXPOSED",
        "ANUS_EXPOSED",
    }
)
# NudeNet's own examples keep detections from 0.2 and treat about 0.5 as a clear one; a
# lower bar flags more for review (a moderator decides), a missed one would be shown.
EXPLICIT_THRESHOLD = 0.4
INPUT_SIDE = 320
MAX_VIDEO_FRAMES = 8
MAX_SCREEN_PIXELS = 64_000_000
"""The largest video frame decoded for screening (the store's own output cap)."""


@dataclass(frozen=True)
class ScreeningResult:
    """What a screener saw in one output.

    `flagged`: it looks explicit; `passed`: the detector found nothing explicit; `pending`:
    nothing could be judged (no detector). `labels` maps each label to its highest score.
    """

    verdict: Literal["passed", "flagged", "pending"]
    reason: str
    labels: Mapping[str, float] = field(default_factory=dict)
    model: str = ""


class OutputScreener(Protocol):
    """Judges a generated image or video before it may be shown or become public."""

    def screen(
        self, data: bytes, mime: str, *, image: Image.Image | None = None
    ) -> ScreeningResult:
        """The verdict on one output (a still image, or an animation's sampled frames);
        `image` is `data` decoded already, if the caller has it (not decoded twice)."""
        ...


class PendingReviewScreener:
    """No detector: every output stays private until a moderator approves it."""

    def screen(
        self, data: bytes, mime: str, *, image: Image.Image | None = None
    ) -> ScreeningResult:
        """Always `pending`: nothing becomes public unreviewed."""
        return ScreeningResult("pending", "awaiting moderator review (no detector configured)")


def sample_frames(
    data: bytes, *, max_frames: int = MAX_VIDEO_FRAMES, image: Image.Image | None = None
) -> list[Image.Image]:
    """The image as RGB, or up to `max_frames` evenly spaced frames of an animation or an
    MP4 (`image`: `data` decoded already, if it is a still or an animation)."""
    if sniff_mime(data) == MP4:
        from core import video  # here only: PyAV loads FFmpeg, which an image never needs

        return video.mp4_frames(data, max_frames=max_frames, max_pixels=MAX_SCREEN_PIXELS)
    if image is None:
        image = Image.open(io.BytesIO(data), formats=["PNG", "JPEG", "WEBP", "GIF"])
    count = max(1, int(getattr(image, "n_frames", 1)))
    picks = sorted({round(i * (count - 1) / max(1, max_frames - 1)) for i in range(max_frames)})
    frames = []
    for index in picks[:count]:
        image.seek(index)
        frames.append(image.convert("RGB"))
    return frames


class NudeNetScreener:
    """NudeNet's detector on onnxruntime (CPU): label scores, explicit above the threshold.

    Build it once per process (`shared_screener`): loading the model takes about a second,
    a 320x320 inference tens of milliseconds. `run` is safe to call from several threads.
    """

    def __init__(
        self,
        *,
        threshold: float = EXPLICIT_THRESHOLD,
        max_frames: int = MAX_VIDEO_FRAMES,
        threads: int = 1,
    ) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        model = resources.files("nudenet").joinpath("320n.onnx")
        with resources.as_file(model) as path:
            self._session = onnxruntime.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        self._input = self._session.get_inputs()[0].name
        self.threshold, self.max_frames = threshold, max_frames
        self.model = f"nudenet-{metadata.version('nudenet')}-320n"

    def scores(self, frame: Image.Image) -> dict[str, float]:
        """Each label's highest score in one RGB frame."""
        outputs = self._session.run(None, {self._input: _input_blob(frame)})
        rows: npt.NDArray[np.float32] = outputs[0][0, 4:, :]
        best = rows.max(axis=1)
        return {label: float(score) for label, score in zip(NUDENET_LABELS, best, strict=True)}

    def screen(
        self, data: bytes, mime: str, *, image: Image.Image | None = None
    ) -> ScreeningResult:
        """See `OutputScreener.screen`: the highest score of each label over the frames."""
        labels: dict[str, float] = dict.fromkeys(NUDENET_LABELS, 0.0)
        for frame in sample_frames(data, max_frames=self.max_frames, image=image):
            for label, score in self.scores(frame).items():
                labels[label] = max(labels[label], score)
        explicit = sorted(k for k in EXPLICIT_LABELS if labels[k] >= self.threshold)
        rounded = {label: round(score, 3) for label, score in labels.items()}
        if explicit:
            reason = "explicit: " + ", ".join(explicit)
            return ScreeningResult("flagged", reason, rounded, self.model)
        return ScreeningResult("passed", "nothing explicit detected", rounded, self.model)


def _input_blob(frame: Image.Image) -> Any:
    """The detector's input: padded square (bottom/right), 320x320, 0..1, BGR, NCHW.

    The same tensor nudenet's own reader builds from a file (cv2 reads BGR; its two channel
    swaps cancel), so its scores are the library's."""
    import numpy as np

    side = max(frame.size)
    square = frame  # a square frame needs no padding: resized as it is, not copied first
    if frame.size != (side, side):
        square = Image.new("RGB", (side, side))
        square.paste(frame, (0, 0))
    resized = square.resize((INPUT_SIDE, INPUT_SIDE), Image.Resampling.BILINEAR)
    # One pass: the bytes' planes (BGR, as views) divided straight into the tensor, not
    # widened, reversed and copied again (the same floats in ~0.16 ms of CPU, not ~1.6).
    planes = np.asarray(resized).transpose(2, 0, 1)[::-1]
    blob = np.empty((1, 3, INPUT_SIDE, INPUT_SIDE), dtype=np.float32)
    np.divide(planes, np.float32(255), out=blob[0], dtype=np.float32)
    return blob


_LOCK = threading.Lock()


@cache
def _build(kind: OutputScreenerKind) -> OutputScreener:
    if kind is OutputScreenerKind.NUDENET:
        screener: OutputScreener = NudeNetScreener()
        log.info("screener.loaded", extra={"model": "nudenet"})
        return screener
    return PendingReviewScreener()


def shared_screener(kind: OutputScreenerKind | None = None) -> OutputScreener:
    """The process's one screener of `kind` (default: the OUTPUT_SCREENER setting)."""
    with _LOCK:  # one model load even if two workers ask at once
        return _build(kind or get_settings().output_screener)
