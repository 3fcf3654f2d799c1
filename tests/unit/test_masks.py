"""Inpaint masks: drawn or uploaded, made the single-channel PNG the graph reads, or refused
with a reason (wrong size, empty, too large to decode safely)."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageDraw

from core.errors import ValidationFailed
from core.studio.sources import drawn_mask_png, mask_png

MAX_PIXELS = 40_000_000


def encoded(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_opaque_strokes_on_transparency_are_what_is_repainted() -> None:
    layer = Image.new("RGBA", (64, 48), (0, 0, 0, 0))
    ImageDraw.Draw(layer).rectangle((10, 10, 19, 19), fill=(255, 0, 0, 255))  # any colour
    mask = decoded(mask_png(encoded(layer), size=(64, 48), max_pixels=MAX_PIXELS))
    assert mask.mode == "L" and mask.size == (64, 48)
    assert mask.getbbox() == (10, 10, 20, 20)
    assert set(mask.get_flattened_data()) == {0, 255}


def test_an_opaque_mask_counts_its_bright_pixels() -> None:
    image = Image.new("RGB", (32, 32), "black")
    ImageDraw.Draw(image).rectangle((0, 0, 7, 7), fill=(200, 200, 200))
    mask = decoded(mask_png(encoded(image), size=(32, 32), max_pixels=MAX_PIXELS))
    assert mask.getbbox() == (0, 0, 8, 8)


def test_a_mask_of_another_size_names_both_sizes() -> None:
    with pytest.raises(ValidationFailed, match="mask is 32x32 but the picture is 64x64"):
        mask_png(encoded(Image.new("L", (32, 32), 255)), size=(64, 64), max_pixels=MAX_PIXELS)


def test_an_empty_mask_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="empty"):
        mask_png(encoded(Image.new("L", (32, 32), 0)), size=(32, 32), max_pixels=MAX_PIXELS)


def test_a_mask_declaring_too_many_pixels_is_refused_before_decoding() -> None:
    with pytest.raises(ValidationFailed, match="megapixels"):
        mask_png(encoded(Image.new("1", (8000, 6000))), size=(8000, 6000), max_pixels=MAX_PIXELS)


def test_a_drawing_over_a_scaled_view_is_stretched_to_the_picture() -> None:
    drawing = Image.new("RGBA", (100, 50), (0, 0, 0, 0))
    ImageDraw.Draw(drawing).rectangle((0, 0, 49, 24), fill=(255, 255, 255, 255))
    mask = decoded(drawn_mask_png(drawing, size=(400, 200), max_pixels=MAX_PIXELS))
    assert mask.size == (400, 200) and mask.getbbox() == (0, 0, 200, 100)
