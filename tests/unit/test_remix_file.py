"""A file's settings as a Studio form (`core.studio.remix.of_file`): what the studio supports is
loaded, everything else named; uploads to the reader pass the upload checks first."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from core.comfy.presets import Presets
from core.comfy.tools import Lora, Tools
from core.errors import ValidationFailed
from core.studio.reader import ReadSettings, read_upload
from core.studio.remix import of_file
from tests.unit.test_settings_reader import A1111_PARAMETERS, mp4_with, png_with

PRESETS = Presets.load()
LORA = "sd_xl_offset_example-lora_1.0.safetensors"
LIMITS = {"max_bytes": 1_000_000, "max_pixels": 4_000_000}


def test_an_automatic1111_picture_loads_its_prompts_seed_and_sampling_and_names_the_rest():
    loaded = of_file(read_upload(png_with({"parameters": A1111_PARAMETERS}), **LIMITS), PRESETS)
    form = loaded.request
    assert form.prompt == "a lighthouse on a cliff at dusk,\noil painting"
    assert form.negative_prompt == "blurry, lowres\nwatermark"
    assert form.seed == 1234567890
    assert form.model == PRESETS.default_model("image")
    assert form.tools == Tools(
        width=832, height=1216, steps=28, cfg=6.5, sampler_name="dpmpp_2m", scheduler="karras"
    )
    left_out = " | ".join(loaded.left_out)
    for named in ("Hires upscale", "model sdxl_base", "LoRA film_grain", "denoising strength"):
        assert named in left_out


def test_an_installed_model_and_lora_are_found_by_their_names_without_extensions():
    read = ReadSettings(
        source="AUTOMATIC1111",
        prompt="a pier",
        model="realvis_xl_4.0",
        loras=(("sd_xl_offset_example-lora_1.0", 0.8), ("missing_lora", 0.5)),
    )
    loaded = of_file(read, PRESETS)
    assert loaded.request.model == "realvis_xl_4.0.safetensors"
    assert loaded.request.tools.loras == (Lora(LORA, 0.8),)
    assert loaded.left_out == ("LoRA missing_lora (not installed for this model, or repeated)",)


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"seed": 2**60}, "seed 1152921504606846976"),
        ({"steps": 500}, "steps 500"),
        ({"cfg": 80.0}, "CFG 80"),
        ({"width": 4000, "height": 4000}, "size 4000x4000"),
        ({"width": 1000, "height": 1001}, "size 1000x1001"),
        ({"sampler": "restart"}, "sampler restart"),
        ({"scheduler": "align_your_steps"}, "scheduler align_your_steps"),
    ],
)
def test_a_setting_past_the_studios_limits_is_named_not_loaded(fields, named):
    loaded = of_file(ReadSettings(source="ComfyUI", prompt="a pier", **fields), PRESETS)
    assert any(note.startswith(named) for note in loaded.left_out), loaded.left_out
    assert loaded.request.tools == Tools()
    assert loaded.request.seed is None


def test_a_comfyui_mp4_is_read_within_the_size_limit():
    graph = (
        '{"3": {"class_type": "KSampler", "inputs": {"seed": 7, "steps": 9, "cfg": 4, '
        '"sampler_name": "euler", "scheduler": "simple", "denoise": 1}}}'
    )
    clip = mp4_with({"prompt": graph})
    assert read_upload(clip, **LIMITS).seed == 7
    with pytest.raises(ValidationFailed, match="larger than"):
        read_upload(clip, max_bytes=len(clip) - 1, max_pixels=4_000_000)


def _png_declaring(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\0" * 64)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def _gif() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, format="GIF")
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (_png_declaring(3000, 3000), "megapixels"),
        (_gif(), "not a PNG, JPEG or WebP"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "damaged|not a PNG"),
    ],
)
def test_an_upload_to_the_reader_passes_the_upload_checks_first(data, message):
    with pytest.raises(ValidationFailed, match=message):
        read_upload(data, **LIMITS)
