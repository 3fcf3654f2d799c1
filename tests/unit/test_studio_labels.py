"""Models by display name, quality presets by what they mean."""

import pytest

from core.comfy.presets import Presets
from core.studio.labels import model_name, preset_summary


@pytest.mark.parametrize(
    ("file_name", "shown"),
    [
        ("sdxl_base_1.0.safetensors", "SDXL Base 1.0"),
        ("realvis_xl_4.0.safetensors", "Realvis XL 4.0"),
        ("wan2.1_t2v_1.3B_fp16.safetensors", "Wan2.1 T2V 1.3B FP16"),
    ],
)
def test_model_files_read_as_names(file_name, shown):
    assert model_name(file_name) == shown


def test_presets_say_their_steps_size_and_time():
    presets = Presets.load()
    image = presets.preset("medium", "image")
    assert preset_summary(image) == (
        f"Medium · {image.steps} steps · {image.width}×{image.height} · "
        f"about {image.expected_seconds:g} s each"
    )
    video = presets.preset("low", "video")
    assert f"{video.length / video.fps:.1f} s clip" in preset_summary(video)
