"""PNG metadata spliced at the chunk level: same text as Pillow reads, pixels byte for byte."""

from __future__ import annotations

import io
import zlib

import pytest
from PIL import Image, PngImagePlugin

from core.errors import ValidationFailed
from core.gallery import pngchunks, store


def comfy_png(size=(64, 48)) -> bytes:
    """A PNG as ComfyUI writes it: noisy pixels and its own `prompt`/`workflow` text."""
    image = Image.effect_noise(size, 40).convert("RGB")
    info = PngImagePlugin.PngInfo()
    info.add_text("prompt", '{"3": {"class_type": "KSampler"}}')
    info.add_text("workflow", '{"nodes": []}')
    out = io.BytesIO()
    image.save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def test_spliced_text_replaces_comfyuis_and_reads_back_with_pillow():
    data = pngchunks.with_text(comfy_png(), {"parameters": "a lighthouse\nSteps: 20", "é": "ü"})
    image = Image.open(io.BytesIO(data))
    assert image.text == {"parameters": "a lighthouse\nSteps: 20", "é": "ü"}
    image.load()  # Pillow checks every chunk's CRC on the way


def test_the_pixels_are_copied_not_reencoded():
    original = comfy_png()
    spliced = pngchunks.with_text(original, {"seed": "7"})
    kept = [c for kind, c in pngchunks.chunks(original) if kind not in pngchunks.TEXT_CHUNKS]
    assert [c for kind, c in pngchunks.chunks(spliced) if kind != b"iTXt"] == kept
    assert Image.open(io.BytesIO(spliced)).tobytes() == Image.open(io.BytesIO(original)).tobytes()


def test_the_chunk_crc_covers_type_and_data():
    chunk = pngchunks.itxt_chunk("seed", "7")
    assert int.from_bytes(chunk[-4:], "big") == zlib.crc32(chunk[4:-4])


@pytest.mark.parametrize(
    "data", [b"GIF89a...", comfy_png()[:40], pngchunks.SIGNATURE + b"\0\0\0\0IEND\xaeB`\x82"]
)
def test_a_file_that_is_not_a_whole_png_is_refused(data):
    with pytest.raises(ValidationFailed):
        store.embed_png_metadata(data, {"seed": "7"})


def test_a_keyword_png_cannot_hold_is_refused():
    with pytest.raises(ValidationFailed):
        pngchunks.itxt_chunk("x" * 80, "text")
