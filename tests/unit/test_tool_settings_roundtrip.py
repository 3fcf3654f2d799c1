"""A tool job's stored settings read back by the settings reader (issue 20) as the job that
made them: LoRAs, sampler controls, size (A1111's first-pass size under a hires fix) and
denoise, so loading a picture's settings never doubles a hires fix or drops a LoRA."""

from __future__ import annotations

from typing import Any

import pytest

from core.comfy.presets import Presets
from core.comfy.tools import FaceFix, Hires, Lora, Tools
from core.comfy.workflows import build_graph
from core.gallery import store
from core.studio import metadata
from core.studio.needs import request_of
from core.studio.reader import read_settings
from sim.comfy import render
from testing.factories import unsaved_job

PRESETS = Presets.load()
LORA = "sd_xl_offset_example-lora_1.0.safetensors"


def read_back(tools: Tools) -> Any:
    job = unsaved_job(PRESETS, request={"tools": tools.to_json()})
    source = "source.png" if tools.source else None
    graph = build_graph(
        request_of(job, tools=tools.with_images(source, None), reference_images=()), PRESETS
    )
    picture = render.png((64, 64), job.seed, graph, job.prompt)
    return read_settings(
        store.embed_png_metadata(picture, metadata.generation_metadata(job, PRESETS, graph, 0))
    )


@pytest.mark.parametrize("scale", [1.5, 2.0])
def test_a_lora_hires_job_reads_back_at_its_first_pass_size(scale: float) -> None:
    tools = Tools(
        width=832,
        height=1216,
        loras=(Lora(LORA, -0.5),),
        steps=22,
        cfg=4.5,
        sampler_name="euler",
        scheduler="beta",
        hires=Hires(scale=scale, denoise=0.35, steps=10),
    )
    settings = read_back(tools)
    assert settings.prompt == "a lighthouse at dusk"
    assert settings.loras == (("sd_xl_offset_example-lora_1.0", -0.5),)
    assert (settings.steps, settings.cfg) == (22, 4.5)
    assert (settings.sampler, settings.scheduler) == ("euler", "beta")
    assert (settings.width, settings.height) == (832, 1216)
    assert settings.denoise == 0.35


def test_an_img2img_job_reads_back_its_strength_and_the_source_s_size() -> None:
    tools = Tools(mode="img2img", source="abc", source_size=(640, 512), denoise=0.45)
    settings = read_back(tools)
    assert settings.denoise == 0.45
    assert (settings.width, settings.height) == (640, 512)


def test_a_face_fix_job_reads_back_as_its_picture_not_its_face_pass() -> None:
    settings = read_back(Tools(face_fix=FaceFix(denoise=0.45, steps=9)))
    assert settings.prompt == "a lighthouse at dusk"
    assert settings.steps == PRESETS.preset("medium", "image").steps  # not the face pass's 9
    assert settings.denoise is None  # ADetailer's denoise is not the picture's
    assert (settings.width, settings.height) == (1024, 1024)
