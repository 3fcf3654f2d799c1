"""The simulator's pictures: the cheaper blend gives composite's pixels, outputs differ by
seed and graph, and a grained PNG weighs what a real picture does."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from sim.comfy import render

GRAPH = {"3": {"class_type": "KSampler", "inputs": {"seed": 1}}}


def _composite(size: tuple[int, int], seed: int, text: str, shift: int) -> Image.Image:
    """The frame as the simulator drew it before: two flat colours blended by the gradient."""
    start, end = render._colours(seed, text)
    mask = Image.linear_gradient("L").rotate(shift % 360).resize(size)
    return Image.composite(Image.new("RGB", size, start), Image.new("RGB", size, end), mask)


@pytest.mark.parametrize("size", [(64, 64), (1024, 1024), (300, 200)])
@pytest.mark.parametrize("shift", [0, 40, 375])
def test_a_frame_has_the_pixels_of_two_colours_composited_by_the_gradient(size, shift):
    frame = render._frame(size, 7, "a lighthouse", shift)
    expected = _composite(size, 7, "a lighthouse", shift)
    assert frame.mode == "RGB" and frame.size == size
    assert np.array_equal(np.asarray(frame), np.asarray(expected))


def test_pictures_differ_by_seed_and_by_graph_and_carry_the_graph():
    one = render.png((128, 128), 1, GRAPH, "x")
    other_seed = render.png((128, 128), 2, GRAPH, "x")
    other_graph = render.png((128, 128), 1, {"4": GRAPH["3"]}, "x")
    pixels = [np.asarray(Image.open(io.BytesIO(data))) for data in (one, other_seed, other_graph)]
    assert not np.array_equal(pixels[0], pixels[1])
    assert not np.array_equal(pixels[0], pixels[2])
    assert json.loads(Image.open(io.BytesIO(one)).text["prompt"]) == GRAPH


def test_a_grained_1024_picture_weighs_two_to_three_megabytes():
    data = render.png((1024, 1024), 3, GRAPH, "x", grain=32)
    assert 2_000_000 <= len(data) <= 3_000_000
    assert Image.open(io.BytesIO(data)).size == (1024, 1024)


@pytest.mark.parametrize("grain", [0, 32])
def test_a_png_decodes_to_the_pixels_it_was_made_of_with_every_text_chunk(grain):
    extra = {"workflow": {"note": "naïve ✓"}}  # not Latin-1: written as iTXt, as Pillow does
    data = render.png((300, 200), 5, GRAPH, "a lighthouse", extra, grain=grain)
    image = Image.open(io.BytesIO(data))
    assert (image.format, image.mode, image.size) == ("PNG", "RGB", (300, 200))
    assert {key: json.loads(value) for key, value in image.text.items()} == {
        "prompt": GRAPH,
        **extra,
    }
    frame = render._frame((300, 200), 5, json.dumps(GRAPH))
    drawn = np.asarray(image)
    assert drawn.shape == (200, 300, 3)
    if grain == 0:  # away from the caption, the pixels are the frame's exactly
        assert np.array_equal(drawn[150:], np.asarray(frame)[150:])


def test_the_encoder_keeps_every_pixel_of_a_noisy_picture():
    noisy = Image.merge("RGB", [Image.effect_noise((257, 129), 60) for _ in range(3)])
    data = render._encode_png(noisy, {"prompt": "{}"})
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(data))), np.asarray(noisy))
