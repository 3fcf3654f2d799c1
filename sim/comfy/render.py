"""The files a simulated ComfyUI writes: PNGs, animated WebPs, H.264 MP4s and previews.

Pictures are gradients whose colours depend on the seed and the graph, so two prompts that
differ give different files, and they carry the graph where ComfyUI puts it: a PNG's `prompt`
text chunk (plus one chunk per `extra_pnginfo` key), an animated WebP's EXIF tag 0x0110 as
`prompt:<graph JSON>`, an MP4's QuickTime `mdta` metadata items (one JSON value per key,
as SaveVideo's PyAV container writes them with `movflags=use_metadata_tags`). MP4s are
encoded for real with PyAV's bundled FFmpeg and libx264, the library ComfyUI itself saves
video with, so players, decoders and metadata readers see a true file. Names follow
ComfyUI's `get_save_image_path`: the prefix's folder part becomes the subfolder, and a
counter per prefix starts at 1 (`ComfyUI_00001_.png`).
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import struct
import textwrap
import zlib
from collections.abc import Iterable
from fractions import Fraction
from typing import Any

import av
import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFont

EXIF_MODEL = 0x0110
"""The EXIF tag ComfyUI's SaveAnimatedWEBP writes `prompt:<graph JSON>` into."""
PREVIEW_SIDE = 64
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
IDAT_SIZE = 65536
"""Bytes of compressed pixels per IDAT chunk, as Pillow (so ComfyUI's SaveImage) splits them."""


def save_path(prefix: str, existing: Iterable[tuple[str, str]]) -> tuple[str, str, int]:
    """(subfolder, file name stem, counter) for the next file saved with `prefix`, given the
    (subfolder, file name) pairs already in the output folder."""
    subfolder, _, stem = prefix.rpartition("/")
    taken = [
        name for folder, name in existing if folder == subfolder and name.startswith(f"{stem}_")
    ]
    return subfolder, stem, len(taken) + 1


def png(
    size: tuple[int, int],
    seed: int,
    graph: dict[str, Any],
    caption: str,
    extra_pnginfo: dict[str, Any] | None = None,
    grain: int = 0,
) -> bytes:
    """A PNG for one image of a batch, with the graph in its `prompt` chunk; `grain` > 0
    adds per-pixel noise so the file weighs what a real picture does."""
    text = json.dumps(graph)
    texts = {"prompt": text}
    texts.update((key, json.dumps(value)) for key, value in (extra_pnginfo or {}).items())
    image = _frame(size, seed, text)
    if grain > 0:
        image = ImageChops.add(image, _grain(size, grain), offset=-grain)
    draw = ImageDraw.Draw(image)
    lines = ["SIMULATED", f"seed {seed}", *textwrap.wrap(caption, 48)[:6]]
    for index, line in enumerate(lines):
        draw.text((16, 16 + 14 * index), line, fill=(255, 255, 255), font=_caption_font())
    return _encode_png(image, texts)


def _encode_png(image: Image.Image, texts: dict[str, str]) -> bytes:
    """`image` (RGB) as a PNG with `texts` as its text chunks after IHDR, as ComfyUI's
    SaveImage writes them (tEXt, or iTXt for text Latin-1 cannot hold).

    Every row is written with the Sub filter (numpy, one pass) and deflated at zlib's
    fastest level: Pillow's adaptive filtering tries five filters a row, ~9 ms of CPU for a
    plain 1024² gradient (~7 ms so; ~17 KB) and ~72 ms for a grained one (~44 ms so, ~2.2 MB:
    the weight of a real picture)."""
    if image.mode != "RGB":
        raise ValueError(f"only RGB pictures are written here, not {image.mode}")
    width, height = image.size
    pixels = np.asarray(image).reshape(height, width * 3)
    rows = np.empty((height, 1 + width * 3), dtype=np.uint8)
    rows[:, 0] = 1  # Sub: each byte less the same channel's byte of the pixel before it
    rows[:, 1:4] = pixels[:, :3]
    np.subtract(pixels[:, 3:], pixels[:, :-3], out=rows[:, 4:])  # modulo 256, as PNG's
    compressed = zlib.compress(rows.tobytes(), 1)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    parts = [PNG_SIGNATURE, _chunk(b"IHDR", header)]
    parts.extend(_text_chunk(key, value) for key, value in texts.items())
    parts.extend(
        _chunk(b"IDAT", compressed[start : start + IDAT_SIZE])
        for start in range(0, len(compressed), IDAT_SIZE)
    )
    parts.append(_chunk(b"IEND", b""))
    return b"".join(parts)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _text_chunk(key: str, value: str) -> bytes:
    """A tEXt chunk, or an uncompressed iTXt one for a value Latin-1 cannot encode (what
    Pillow's `PngInfo.add_text` writes)."""
    keyword = key.encode("latin-1")
    try:
        return _chunk(b"tEXt", keyword + b"\0" + value.encode("latin-1"))
    except UnicodeEncodeError:
        return _chunk(b"iTXt", keyword + b"\0\0\0\0\0" + value.encode("utf-8"))


@functools.cache
def _caption_font() -> ImageFont.ImageFont:
    """Pillow's bitmap font: a caption of 5 lines draws in ~0.04 ms instead of the ~1.4 ms
    its default FreeType font takes."""
    return ImageFont.load_default_imagefont()


@functools.lru_cache(maxsize=4)
def _grain(size: tuple[int, int], amplitude: int) -> Image.Image:
    """One noise layer per size, reused: the noise costs the simulator nothing per image."""
    return Image.effect_noise(size, amplitude).convert("RGB")


def animated_webp(
    size: tuple[int, int], seed: int, graph: dict[str, Any], frames: int, fps: float
) -> bytes:
    """An animated WebP of `frames` frames, the graph in EXIF as SaveAnimatedWEBP writes it."""
    text = json.dumps(graph)
    images = [_frame(size, seed, text, shift=index * 15) for index in range(max(frames, 1))]
    exif = Image.Exif()
    exif[EXIF_MODEL] = f"prompt:{text}"
    out = io.BytesIO()
    images[0].save(
        out,
        format="WEBP",
        save_all=True,
        append_images=images[1:],
        duration=int(1000 / max(fps, 1)),
        exif=exif,
        quality=60,
        method=0,
    )
    return out.getvalue()


def mp4(
    size: tuple[int, int], seed: int, metadata: dict[str, Any], frames: int, fps: float
) -> bytes:
    """An H.264 MP4 (yuv420p) of `frames` frames at `fps`, `metadata` as JSON-valued
    `mdta` items, as SaveVideo writes it. Odd sides are cut to even ones, as yuv420p needs."""
    width, height = size[0] // 2 * 2 or 2, size[1] // 2 * 2 or 2
    text = json.dumps(metadata.get("prompt", {}))
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4", options={"movflags": "use_metadata_tags"}) as box:
        for key, value in metadata.items():
            box.metadata[key] = json.dumps(value)
        stream = box.add_stream("libx264", rate=Fraction(round(fps * 1000), 1000))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "30"}
        for index in range(max(frames, 1)):
            picture = _frame((width, height), seed, text, shift=index * 15)
            frame = av.VideoFrame.from_ndarray(np.asarray(picture), format="rgb24")
            for packet in stream.encode(frame):
                box.mux(packet)
        for packet in stream.encode():
            box.mux(packet)
    return out.getvalue()


def preview_jpeg(seed: int, step: int) -> bytes:
    """A small JPEG latent preview for one sampler step."""
    out = io.BytesIO()
    _frame((PREVIEW_SIDE, PREVIEW_SIDE), seed, "preview", shift=step * 20).save(
        out, format="JPEG", quality=70
    )
    return out.getvalue()


def _colours(seed: int, text: str) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    digest = hashlib.sha256(f"{seed}:{text}".encode()).digest()
    return (digest[0], digest[1], digest[2]), (digest[3], digest[4], digest[5])


SMALL_FRAME_PIXELS = 256 * 256
"""Up to this size (the sampler's previews) a frame is blended with `Image.composite`
(~15 µs for 64²); above it through per-channel tables, which cost a fixed ~70 µs to build
but blend a 1024² picture in half composite's time."""


def _frame(size: tuple[int, int], seed: int, text: str, shift: int = 0) -> Image.Image:
    """A gradient from the seed and text's first colour to their second, turned by `shift`
    degrees. A large one maps the shared gradient through a 256-entry table per channel,
    the very pixels `Image.composite` of the two flat colours gives."""
    start, end = _colours(seed, text)
    gradient = _gradient(size, shift % 360)
    if size[0] * size[1] <= SMALL_FRAME_PIXELS:
        return Image.composite(Image.new("RGB", size, start), Image.new("RGB", size, end), gradient)
    bands = [
        gradient.point([(b * 255 + (a - b) * level + 127) // 255 for level in range(256)])
        for a, b in zip(start, end, strict=True)
    ]
    return Image.merge("RGB", bands)


@functools.lru_cache(maxsize=64)
def _gradient(size: tuple[int, int], degrees: int) -> Image.Image:
    """The blend mask of `_frame`, made once per size and angle (a resize of ~3 ms for a
    1024² picture, the same for every seed). Callers only read it. Room for a picture's
    masks besides the 18 angles of the sampler's previews, which would otherwise push them
    out on every job."""
    return Image.linear_gradient("L").rotate(degrees).resize(size)
