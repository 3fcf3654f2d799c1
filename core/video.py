"""What an MP4 holds: frames and settings. The one MP4 reader of the studio.

Import it only where a video is handled (PyAV loads FFmpeg's libraries and numpy, ~40 MB
resident); what a file is comes from `core.mediatype`. MP4 frames are decoded with PyAV
(FFmpeg's decoders, the library ComfyUI's own `SaveVideo` writes with), bounded by a pixel
and frame cap; metadata is read from the container without decoding; settings go into
QuickTime `mdta` metadata keys, as ComfyUI's `SaveVideo` writes them
(`movflags=use_metadata_tags`), by remuxing without re-encoding.
"""

from __future__ import annotations

import io
from collections.abc import Mapping

import av
from av.error import FFmpegError
from PIL import Image

from core.errors import ValidationFailed
from core.mediatype import MP4, sniff_mime

MAX_MP4_FRAMES = 2048
"""More frames than any studio clip has (Wan's longest preset is 81): a longer file is
refused before it is decoded."""


def _container(data: bytes) -> av.container.InputContainer:
    if sniff_mime(data) != MP4:
        raise ValidationFailed("The file is not an MP4 video.")
    try:
        return av.open(io.BytesIO(data), mode="r", format="mp4")
    except (FFmpegError, ValueError) as exc:
        raise ValidationFailed("The MP4 file is damaged or truncated.") from exc


def mp4_frames(data: bytes, *, max_frames: int, max_pixels: int) -> list[Image.Image]:
    """Up to `max_frames` evenly spaced RGB frames of an MP4 (the first always among them),
    or ValidationFailed: not an MP4, no video track, frames larger than `max_pixels`, more
    than MAX_MP4_FRAMES frames, a damaged file."""
    with _container(data) as container:
        if not container.streams.video:
            raise ValidationFailed("The MP4 file has no video track.")
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        if width * height > max_pixels:
            raise ValidationFailed(
                f"The video is {width}x{height} pixels; the limit is "
                f"{max_pixels // 1_000_000} megapixels."
            )
        count = stream.frames
        if count > MAX_MP4_FRAMES:
            raise ValidationFailed(f"The video has more than {MAX_MP4_FRAMES} frames.")
        wanted = _picks(count, max_frames) if count else None
        frames: list[Image.Image] = []
        try:
            for index, frame in enumerate(container.decode(stream)):
                if index >= MAX_MP4_FRAMES:
                    raise ValidationFailed(f"The video has more than {MAX_MP4_FRAMES} frames.")
                if wanted is None or index in wanted:
                    frames.append(Image.fromarray(frame.to_ndarray(format="rgb24")))
                if wanted is None and len(frames) >= max_frames:
                    break
        except (FFmpegError, ValueError) as exc:
            raise ValidationFailed("The MP4 file is damaged or truncated.") from exc
    if not frames:
        raise ValidationFailed("The MP4 file has no frames.")
    return frames


def _picks(count: int, wanted: int) -> set[int]:
    """`wanted` frame indexes spread evenly over `count` frames, first and last included."""
    return {round(i * (count - 1) / max(1, wanted - 1)) for i in range(max(1, wanted))}


def mp4_poster(data: bytes, *, max_pixels: int) -> Image.Image:
    """The first frame of an MP4, as RGB (see `mp4_frames` for what is refused)."""
    return mp4_frames(data, max_frames=1, max_pixels=max_pixels)[0]


def mp4_with_metadata(data: bytes, metadata: Mapping[str, str]) -> bytes:
    """The MP4 remuxed (no re-encoding) with `metadata` as its only `mdta` metadata items,
    in moov/udta/meta keys + ilst, as ComfyUI's SaveVideo writes its `prompt`. Only the
    video and audio packets are copied, so nothing else of the source's metadata (titles,
    GPS, camera, XMP `uuid` boxes) survives: `{}` strips an uploaded MP4."""
    out = io.BytesIO()
    with _container(data) as source:
        target = av.open(out, mode="w", format="mp4", options={"movflags": "use_metadata_tags"})
        try:
            with target:
                for key, value in metadata.items():
                    target.metadata[key] = value
                kept = [*source.streams.video, *source.streams.audio]
                streams = {s.index: target.add_stream_from_template(s) for s in kept}
                for packet in source.demux(*kept):
                    if packet.dts is None:
                        continue
                    packet.stream = streams[packet.stream.index]
                    target.mux(packet)
        except (FFmpegError, ValueError) as exc:  # a stream of an unknown codec, bad packets
            raise ValidationFailed("The MP4 file is damaged or truncated.") from exc
    return out.getvalue()


def mp4_metadata(data: bytes) -> dict[str, str]:
    """The MP4's container metadata as FFmpeg reads it: its `mdta` items (`prompt`,
    `workflow`, `parameters` as ComfyUI's SaveVideo and `mp4_with_metadata` write them)
    beside the brand and title tags; no frame is decoded. ValidationFailed for a file that
    is not an MP4 or is damaged."""
    with _container(data) as container:
        return {str(key): str(value) for key, value in container.metadata.items()}
