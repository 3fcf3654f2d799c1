"""The face fix (issue 19): FaceDetailer graphs accepted by the Impact Pack's schema facts,
bad values refused by those facts as the real server would, and refused by the studio
before any graph; its price, metadata and the detector file a job needs."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import pytest

from core.comfy.presets import Presets
from core.comfy.tools import SAMPLERS, SCHEDULERS, FaceFix, Hires, Tools, output_size
from core.comfy.workflows import GenerationRequest, build_graph, required_nodes
from core.errors import ValidationFailed
from core.models import GenerationJob
from core.studio import metadata, needs, pricing
from sim.comfy.schema import classes, facts
from testing.factories import generation_request, unsaved_job
from tests.unit.test_workflows import assert_well_formed, only, refusal

PRESETS = Presets.load()
SDXL = "sdxl_base_1.0.safetensors"
SOURCE, MASK = "source.png", "mask.png"
UPLOADS = (SOURCE, MASK)
DETECTOR_DOWNLOAD = "ultralytics/bbox/face_yolov8m.pt"


def request(**tools: Any) -> GenerationRequest:
    portrait = "a portrait of a woman in a garden, 30 years old"
    return generation_request(
        PRESETS, positive=portrait, model=SDXL, preset="medium", tools=Tools(**tools)
    )


WITH_FACE_FIX = {
    "txt2img": {"face_fix": FaceFix()},
    "txt2img with hires fix": {"face_fix": FaceFix(denoise=0.3), "hires": Hires()},
    "img2img": {"mode": "img2img", "source": SOURCE, "face_fix": FaceFix(steps=12)},
    "inpaint": {"mode": "inpaint", "source": SOURCE, "mask": MASK, "face_fix": FaceFix()},
}


@pytest.mark.parametrize("tools", WITH_FACE_FIX.values(), ids=WITH_FACE_FIX.keys())
def test_face_fix_graphs_are_accepted_by_the_impact_pack_schema(tools: dict[str, Any]) -> None:
    graph = build_graph(request(**tools), PRESETS)
    assert_well_formed(graph, UPLOADS)
    save = only(graph, "SaveImage")
    assert graph[save["images"][0]]["class_type"] == "FaceDetailer"


@pytest.mark.parametrize("batch", [1, 3])
def test_a_face_fix_alone_redraws_the_faces_of_the_picture_as_it_is(batch: int) -> None:
    tools = Tools(mode="facefix", source=SOURCE, source_size=(641, 963), face_fix=FaceFix())
    graph = build_graph(replace(request(), tools=tools, batch_size=batch), PRESETS)
    assert_well_formed(graph, UPLOADS)
    kinds = {node["class_type"] for node in graph.values()}
    assert not kinds & {"KSampler", "EmptyLatentImage", "VAEEncode", "VAEDecode"}
    face = only(graph, "FaceDetailer")
    fed = graph[face["image"][0]]
    if batch == 1:
        assert fed["class_type"] == "LoadImage"
    else:
        assert (fed["class_type"], fed["inputs"]["amount"]) == ("RepeatImageBatch", batch)
    assert output_size(tools, (1024, 1024)) == (641, 963)  # never encoded: no multiple of 8


def test_face_detailer_takes_the_pictures_model_prompts_and_sampler() -> None:
    graph = build_graph(request(face_fix=FaceFix(denoise=0.35, confidence=0.6)), PRESETS)
    face = only(graph, "FaceDetailer")
    sampler = only(graph, "KSampler")
    for name in ("model", "positive", "negative", "seed", "cfg", "sampler_name", "scheduler"):
        assert face[name] == sampler[name], name
    assert (face["denoise"], face["bbox_threshold"], face["steps"]) == (0.35, 0.6, 28)
    assert graph[face["image"][0]]["class_type"] == "VAEDecode"
    detector = graph[face["bbox_detector"][0]]
    assert detector["class_type"] == "UltralyticsDetectorProvider"
    assert detector["inputs"]["model_name"] == "bbox/face_yolov8m.pt"
    # The inputs in the declared order: the editor's widget values follow it.
    declared = [spec.name for spec in classes()["FaceDetailer"].inputs]
    assert list(face) == [name for name in declared if name in face]


def test_the_facts_are_the_packs_source_at_its_pinned_commit() -> None:
    required = facts()["FaceDetailer"]["input"]["required"]
    assert required["denoise"] == [
        "FLOAT",
        {"default": 0.5, "max": 1.0, "min": 0.0001, "step": 0.01},
    ]
    assert required["sampler_name"][0] == list(SAMPLERS)
    assert required["scheduler"][0][: len(SCHEDULERS)] == list(SCHEDULERS)
    assert required["scheduler"][0][len(SCHEDULERS) :] == [
        "AYS SDXL",
        "AYS SD1",
        "AYS SVD",
        "GITS[coeff=1.2]",
    ]
    assert facts()["UltralyticsDetectorProvider"]["output"] == ["BBOX_DETECTOR", "SEGM_DETECTOR"]
    pinned = PRESETS.custom_nodes()
    assert pinned["ComfyUI-Impact-Pack"].endswith("@727295b52e5f7b5429e81ca2179172865aa83b99")
    assert pinned["ComfyUI-Impact-Pack/impact_subpack"].endswith(
        "@bd4dedc4ea514dda9cfa333a0f42e296e32b8c10"
    )
    assert {"FaceDetailer", "UltralyticsDetectorProvider"} <= set(required_nodes(PRESETS))


def _errors(graph: dict[str, Any]) -> list[tuple[str, str]]:
    _error, node_errors = refusal(graph, UPLOADS)
    return [
        (reason["type"], reason["extra_info"]["input_name"])
        for entry in node_errors.values()
        for reason in entry["errors"]
    ]


def _face_node(graph: dict[str, Any]) -> dict[str, Any]:
    return next(node for node in graph.values() if node["class_type"] == "FaceDetailer")


def test_the_facts_refuse_a_bad_enum_a_denoise_out_of_range_and_a_missing_detector() -> None:
    graph = build_graph(request(face_fix=FaceFix()), PRESETS)
    bad_enum = copy.deepcopy(graph)
    _face_node(bad_enum)["inputs"]["sam_mask_hint_use_negative"] = "Outer"  # it is 'Outter'
    assert _errors(bad_enum) == [("value_not_in_list", "sam_mask_hint_use_negative")]
    too_strong = copy.deepcopy(graph)
    _face_node(too_strong)["inputs"]["denoise"] = 1.5
    assert _errors(too_strong) == [("value_bigger_than_max", "denoise")]
    no_denoise = copy.deepcopy(graph)
    _face_node(no_denoise)["inputs"]["denoise"] = 0.0
    assert _errors(no_denoise) == [("value_smaller_than_min", "denoise")]
    other_model = copy.deepcopy(graph)
    detector = next(
        node for node in other_model.values() if node["class_type"] == "UltralyticsDetectorProvider"
    )
    detector["inputs"]["model_name"] = "bbox/hand_yolov8s.pt"  # not installed
    assert _errors(other_model) == [("value_not_in_list", "model_name")]
    wrong_link = copy.deepcopy(graph)
    face = _face_node(wrong_link)["inputs"]
    face["bbox_detector"] = [face["bbox_detector"][0], 1]  # the SEGM_DETECTOR slot
    assert _errors(wrong_link) == [("return_type_mismatch", "bbox_detector")]


BAD = {
    "a face denoise of 0": (FaceFix(denoise=0.0), "face fix denoise"),
    "a face denoise over 1": (FaceFix(denoise=1.2), "face fix denoise"),
    "a NaN face denoise": (FaceFix(denoise=float("nan")), "face fix denoise"),
    "a confidence of 0": (FaceFix(confidence=0.0), "confidence"),
    "face fix steps over the limit": (FaceFix(steps=61), "steps"),
}


@pytest.mark.parametrize(("face_fix", "message"), BAD.values(), ids=BAD.keys())
def test_bad_face_fixes_are_refused_before_any_graph(face_fix: FaceFix, message: str) -> None:
    with pytest.raises(ValidationFailed, match=message):
        build_graph(request(face_fix=face_fix), PRESETS)


@pytest.mark.parametrize(
    ("tools", "message"),
    [
        ({"mode": "facefix", "source": SOURCE}, "face fix's strength"),
        ({"mode": "facefix"}, "source picture"),
        ({"mode": "facefix", "source": SOURCE, "face_fix": FaceFix(), "hires": Hires()}, "Hires"),
    ],
)
def test_a_face_fix_alone_needs_a_picture_and_its_settings(
    tools: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationFailed, match=message):
        build_graph(request(**tools), PRESETS)


def test_an_upscale_with_a_face_fix_is_refused() -> None:
    tools = {"mode": "upscale", "source": SOURCE, "upscaler": "RealESRGAN_x4plus.pth"}
    with pytest.raises(ValidationFailed, match="not with upscale"):
        build_graph(request(**tools, face_fix=FaceFix()), PRESETS)


def test_without_a_face_detector_in_the_presets_no_face_fix_is_offered() -> None:
    raw = Presets.load()._spec.model_dump()
    raw["image"]["face_detector"] = None
    bare = Presets.from_mapping(raw)
    assert "ultralytics" not in bare.required_models()
    assert "FaceDetailer" not in required_nodes(bare)
    with pytest.raises(ValidationFailed, match="not offered"):
        build_graph(request(face_fix=FaceFix()), bare)


def _job(tools: Tools) -> GenerationJob:
    portrait = "a portrait of a woman in a garden, 30 years old"
    return unsaved_job(
        PRESETS, prompt=portrait, model=SDXL, seed=5, request={"tools": tools.to_json()}
    )


def test_the_picture_says_its_face_fix_in_adetailers_own_keys() -> None:
    text = metadata.a1111_parameters(_job(Tools(face_fix=FaceFix(denoise=0.45))), PRESETS, 0)
    settings = text.splitlines()[-1]
    assert "ADetailer model: face_yolov8m.pt, ADetailer confidence: 0.5" in settings
    assert "ADetailer denoising strength: 0.45" in settings
    assert "ADetailer steps" not in settings
    assert "Denoising strength" not in settings.replace("ADetailer denoising strength", "")
    plain = metadata.a1111_parameters(_job(Tools()), PRESETS, 0)
    assert "ADetailer" not in plain


def test_the_face_fix_is_priced_and_its_detector_is_a_needed_file() -> None:
    preset = PRESETS.preset("medium", "image")
    plain = pricing.workload_s(6.0, preset, Tools(), PRESETS)
    fixed = pricing.workload_s(6.0, preset, Tools(face_fix=FaceFix()), PRESETS)
    fewer_steps = pricing.workload_s(6.0, preset, Tools(face_fix=FaceFix(steps=7)), PRESETS)
    assert plain < fewer_steps < fixed
    alone = Tools(mode="facefix", source="abc", source_size=(832, 1216), face_fix=FaceFix())
    assert pricing.workload_s(6.0, preset, alone, PRESETS) == pytest.approx(fixed - plain)
    assert DETECTOR_DOWNLOAD in needs.job_files(_job(Tools(face_fix=FaceFix())), PRESETS)
    assert DETECTOR_DOWNLOAD not in needs.job_files(_job(Tools()), PRESETS)


def test_face_fix_survives_the_tools_json_form() -> None:
    tools = replace(Tools(mode="img2img", source="abc"), face_fix=FaceFix(0.3, 0.7, 9))
    assert Tools.from_json(tools.to_json()) == tools
