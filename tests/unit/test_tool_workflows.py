"""The creative tools' graphs: each tool and combination accepted by the real ComfyUI schema,
values landing in the right inputs, and bad requests refused before any graph exists."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from core.comfy.catalogue import Catalogue, CatalogueSpec
from core.comfy.presets import Presets
from core.comfy.tools import (
    LATENT_UPSCALE_METHODS,
    SAMPLERS,
    SCHEDULERS,
    Hires,
    Lora,
    Tools,
    output_size,
)
from core.comfy.workflows import GenerationRequest, build_graph
from core.errors import ValidationFailed
from sim.comfy.schema import facts
from testing.factories import generation_request
from tests.unit.test_workflows import assert_well_formed, only

PRESETS = Presets.load()
SDXL = "sdxl_base_1.0.safetensors"
LORA = "sd_xl_offset_example-lora_1.0.safetensors"
UPSCALER = "RealESRGAN_x4plus.pth"
SOURCE, MASK = "source.png", "mask.png"
UPLOADS = (SOURCE, MASK)


def request(**tools: Any) -> GenerationRequest:
    return generation_request(PRESETS, model=SDXL, preset="medium", seed=7, tools=Tools(**tools))


def classes_in(graph: dict[str, Any]) -> list[str]:
    return [node["class_type"] for node in graph.values()]


def linked(graph: dict[str, Any], link: list[Any]) -> dict[str, Any]:
    node: dict[str, Any] = graph[link[0]]
    return node


COMBINATIONS = {
    "txt2img with a LoRA": {"loras": (Lora(LORA, 0.7),)},
    "custom size and sampler controls": {
        "width": 896,
        "height": 1152,
        "steps": 22,
        "cfg": 4.5,
        "sampler_name": "euler",
        "scheduler": "beta",
        "clip_skip": 2,
    },
    "latent hires fix": {"hires": Hires(scale=1.5, denoise=0.35, steps=12)},
    "model hires fix with a LoRA": {
        "hires": Hires(scale=2.0, upscaler=UPSCALER),
        "loras": (Lora(LORA, -1.2),),
    },
    "img2img": {"mode": "img2img", "source": SOURCE, "denoise": 0.55},
    "img2img with hires": {"mode": "img2img", "source": SOURCE, "hires": Hires()},
    "inpaint, noise mask, grown and feathered": {
        "mode": "inpaint",
        "source": SOURCE,
        "mask": MASK,
        "mask_grow": 12,
        "mask_feather": 8,
    },
    "inpaint, VAEEncodeForInpaint": {
        "mode": "inpaint",
        "source": SOURCE,
        "mask": MASK,
        "inpaint_method": "vae_inpaint",
        "loras": (Lora(LORA),),
    },
    "upscale": {"mode": "upscale", "source": SOURCE, "upscaler": UPSCALER},
    "upscale by 2 with a 4x model": {
        "mode": "upscale",
        "source": SOURCE,
        "upscaler": "4x-UltraSharp.pth",
        "upscale_by": 2.0,
    },
}


@pytest.mark.parametrize("tools", COMBINATIONS.values(), ids=COMBINATIONS.keys())
def test_every_tool_graph_is_accepted_by_the_real_schema(tools: dict[str, Any]) -> None:
    assert_well_formed(build_graph(request(**tools), PRESETS), UPLOADS)


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("mode", ["img2img", "inpaint"])
def test_source_graphs_make_the_whole_batch(mode: str, batch: int) -> None:
    graph = build_graph(
        replace(request(mode=mode, source=SOURCE, mask=MASK), batch_size=batch), PRESETS
    )
    assert_well_formed(graph, UPLOADS)
    repeats = [n["inputs"] for n in graph.values() if n["class_type"] == "RepeatLatentBatch"]
    assert [r["amount"] for r in repeats] == ([] if batch == 1 else [batch])


def test_our_enum_lists_are_the_real_servers() -> None:
    ksampler = facts()["KSampler"]["input"]["required"]
    assert list(SAMPLERS) == ksampler["sampler_name"][0]
    assert list(SCHEDULERS) == ksampler["scheduler"][0]
    upscale = facts()["LatentUpscaleBy"]["input"]["required"]["upscale_method"][0]
    assert list(LATENT_UPSCALE_METHODS) == upscale


def test_loras_chain_model_and_clip_at_their_weights_into_sampler_and_prompts() -> None:
    graph = build_graph(request(loras=(Lora(LORA, 0.7),)), PRESETS)
    lora = only(graph, "LoraLoader")
    assert (lora["lora_name"], lora["strength_model"], lora["strength_clip"]) == (LORA, 0.7, 0.7)
    sampler = only(graph, "KSampler")
    assert linked(graph, sampler["model"])["class_type"] == "LoraLoader"
    clip_users = [n for n in graph.values() if n["class_type"] == "CLIPTextEncode"]
    assert all(linked(graph, n["inputs"]["clip"])["class_type"] == "LoraLoader" for n in clip_users)


def test_sampler_controls_and_size_replace_the_presets() -> None:
    graph = build_graph(
        request(
            width=832,
            height=1216,
            steps=22,
            cfg=4.5,
            sampler_name="euler",
            scheduler="beta",
            clip_skip=2,
        ),
        PRESETS,
    )
    sampler = only(graph, "KSampler")
    assert (sampler["steps"], sampler["cfg"], sampler["sampler_name"], sampler["scheduler"]) == (
        22,
        4.5,
        "euler",
        "beta",
    )
    latent = only(graph, "EmptyLatentImage")
    assert (latent["width"], latent["height"]) == (832, 1216)
    assert only(graph, "CLIPSetLastLayer")["stop_at_clip_layer"] == -2


def test_without_tools_the_graph_keeps_the_preset() -> None:
    preset = PRESETS.preset("medium", "image")
    graph = build_graph(request(), PRESETS)
    sampler = only(graph, "KSampler")
    assert (sampler["steps"], sampler["denoise"]) == (preset.steps, 1.0)
    assert "CLIPSetLastLayer" not in classes_in(graph)  # SDXL needs no clip skip
    assert "LoraLoader" not in classes_in(graph)


def test_img2img_encodes_the_source_and_samples_at_the_denoise() -> None:
    graph = build_graph(request(mode="img2img", source=SOURCE, denoise=0.55), PRESETS)
    assert "EmptyLatentImage" not in classes_in(graph)
    sampler = only(graph, "KSampler")
    assert sampler["denoise"] == 0.55
    encoded = linked(graph, sampler["latent_image"])
    assert encoded["class_type"] == "VAEEncode"
    assert linked(graph, encoded["inputs"]["pixels"])["inputs"]["image"] == SOURCE


def test_noise_mask_inpaint_grows_feathers_and_composites_onto_the_source() -> None:
    graph = build_graph(
        request(
            mode="inpaint", source=SOURCE, mask=MASK, mask_grow=12, mask_feather=8, denoise=0.8
        ),
        PRESETS,
    )
    assert only(graph, "LoadImageMask") == {"image": MASK, "channel": "red"}
    assert only(graph, "GrowMask")["expand"] == 12
    assert only(graph, "FeatherMask")["left"] == 8
    sampler = only(graph, "KSampler")
    assert sampler["denoise"] == 0.8
    assert linked(graph, sampler["latent_image"])["class_type"] == "SetLatentNoiseMask"
    composite = only(graph, "ImageCompositeMasked")
    assert linked(graph, composite["destination"])["class_type"] == "LoadImage"
    assert linked(graph, composite["mask"])["class_type"] == "FeatherMask"
    save = only(graph, "SaveImage")
    assert linked(graph, save["images"])["class_type"] == "ImageCompositeMasked"


def test_vae_inpaint_grows_in_the_encoder_and_denoises_fully() -> None:
    graph = build_graph(
        request(mode="inpaint", source=SOURCE, mask=MASK, inpaint_method="vae_inpaint"), PRESETS
    )
    assert only(graph, "VAEEncodeForInpaint")["grow_mask_by"] == 6
    assert "GrowMask" not in classes_in(graph)
    assert only(graph, "KSampler")["denoise"] == 1.0


def test_latent_hires_fix_runs_a_second_low_denoise_pass_on_the_enlarged_latent() -> None:
    graph = build_graph(request(hires=Hires(scale=1.5, denoise=0.35, steps=12)), PRESETS)
    first, second = (n["inputs"] for n in graph.values() if n["class_type"] == "KSampler")
    assert (second["denoise"], second["steps"]) == (0.35, 12)
    upscale = linked(graph, second["latent_image"])
    assert upscale["class_type"] == "LatentUpscaleBy"
    assert upscale["inputs"]["scale_by"] == 1.5
    assert first["denoise"] == 1.0


def test_model_hires_fix_scales_the_upscaled_pixels_to_the_target_size() -> None:
    graph = build_graph(
        request(width=832, height=1216, hires=Hires(scale=1.5, upscaler=UPSCALER)), PRESETS
    )
    assert only(graph, "UpscaleModelLoader")["model_name"] == UPSCALER
    scale = only(graph, "ImageScale")
    assert (scale["width"], scale["height"]) == (1248, 1824)
    assert output_size(Tools(width=832, height=1216, hires=Hires(scale=1.5)), (1, 1)) == (
        1248,
        1824,
    )


def test_upscale_needs_no_checkpoint_or_prompt() -> None:
    graph = build_graph(
        replace(request(mode="upscale", source=SOURCE, upscaler=UPSCALER), positive=""), PRESETS
    )
    assert classes_in(graph) == [
        "LoadImage",
        "UpscaleModelLoader",
        "ImageUpscaleWithModel",
        "SaveImage",
    ]


BAD = {
    "a LoRA of another family": ({"loras": (Lora("pony_style.safetensors"),)}, "Unknown LoRA"),
    "too many LoRAs": ({"loras": tuple(Lora(f"l{i}") for i in range(6))}, "at most 5"),
    "a LoRA weight over 2": ({"loras": (Lora(LORA, 2.5),)}, "LoRA weight"),
    "an unknown upscaler": (
        {"mode": "upscale", "source": SOURCE, "upscaler": "nope.pth"},
        "Unknown upscale model",
    ),
    "an oversized custom size": ({"width": 2048, "height": 2048 + 8}, "size"),
    "a size not a multiple of 8": ({"width": 1001, "height": 1000}, "steps of 8"),
    "only a width": ({"width": 1024}, "both"),
    "an unknown sampler": ({"sampler_name": "euler_fast"}, "sampler"),
    "an unknown scheduler": ({"scheduler": "cosine"}, "scheduler"),
    "steps over the limit": ({"steps": 151}, "Steps"),
    "img2img without a source": ({"mode": "img2img"}, "source"),
    "inpaint without a mask": ({"mode": "inpaint", "source": SOURCE}, "mask"),
    "inpaint with hires": (
        {"mode": "inpaint", "source": SOURCE, "mask": MASK, "hires": Hires()},
        "not inpaint",
    ),
    "a hires scale of 3": ({"hires": Hires(scale=3.0)}, "hires scale"),
    "a denoise of 0": ({"mode": "img2img", "source": SOURCE, "denoise": 0.0}, "denoise"),
    "a NaN CFG": ({"cfg": float("nan")}, "CFG"),
    "an oversized source": (
        {"mode": "img2img", "source": SOURCE, "source_size": (4096, 4096)},
        "too large",
    ),
}


@pytest.mark.parametrize(("tools", "message"), BAD.values(), ids=BAD.keys())
def test_bad_tools_are_refused_before_any_graph(tools: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationFailed, match=message):
        build_graph(request(**tools), PRESETS)


def test_a_lora_of_another_family_names_both_families() -> None:
    raw = Presets.load().catalogue.spec.model_dump()
    raw["loras"]["pony_style.safetensors"] = {"family": "pony", "label": "Pony style"}
    catalogue = Catalogue(CatalogueSpec.model_validate(raw))
    with pytest.raises(ValidationFailed, match="made for Pony models.*is SDXL"):
        catalogue.lora("pony_style.safetensors", checkpoint=SDXL)
    assert [lora.name for lora in catalogue.loras_for(SDXL)] == [LORA]


def test_video_refuses_image_tools() -> None:
    video = generation_request(
        PRESETS,
        positive="waves",
        negative="",
        model=PRESETS.default_model("video"),
        seed=1,
        kind="video",
        tools=Tools(loras=(Lora(LORA),)),
    )
    with pytest.raises(ValidationFailed, match="image generation only"):
        build_graph(video, PRESETS)


def test_tools_survive_their_json_form() -> None:
    tools = Tools(
        mode="img2img",
        source="abc",
        source_size=(640, 960),
        loras=(Lora(LORA, 0.3),),
        hires=Hires(upscaler=UPSCALER),
    )
    assert Tools.from_json(tools.to_json()) == tools
    assert Tools.from_json(None) == Tools()
