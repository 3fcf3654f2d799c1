"""Workflow graphs as tables and properties: well-formed, well-typed, values in the right inputs."""

from __future__ import annotations

import copy
import json
import math
import tomllib
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.comfy.ipadapter import EMBEDS_SCALING, WEIGHT_TYPES
from core.comfy.presets import DEFAULT_PATH, Presets
from core.comfy.tokens import CLIP_WINDOW, estimate_clip_tokens, prompt_chunks
from core.comfy.tools import Tools
from core.comfy.workflows import (
    MAX_BATCH,
    MAX_REFERENCE_IMAGES,
    MAX_SEED,
    GenerationRequest,
    build_graph,
)
from core.errors import ConfigError, ValidationFailed
from sim.comfy.schema import classes, facts
from sim.comfy.validate import validate_prompt
from testing.factories import generation_request

PRESETS = Presets.load()
OUTPUT_KINDS = {"SaveImage": "image", "SaveAnimatedWEBP": "video", "SaveVideo": "video"}


def output_kind(graph: dict[str, Any]) -> str:
    """What the graph's single output node saves ("image" or "video"); it must have one."""
    kinds = [
        OUTPUT_KINDS[n["class_type"]] for n in graph.values() if n["class_type"] in OUTPUT_KINDS
    ]
    assert len(kinds) == 1, f"a graph needs exactly one output node, found {len(kinds)}"
    return kinds[0]


IMAGE_MODEL = "sdxl_base_1.0.safetensors"
VIDEO_MODEL = "wan2.1_t2v_1.3B_fp16.safetensors"

INSTALLED = {folder: sorted(names) for folder, names in PRESETS.required_models().items()}
"""What a provisioned instance has on disk: every model the presets require."""


def _is_link(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[0], str)


def refusal(graph: dict[str, dict[str, Any]], uploads: tuple[str, ...] = ()) -> Any:
    """What the real server (its `/object_info` facts) says of `graph`: error, node errors."""
    verdict = validate_prompt(copy.deepcopy(graph), installed=INSTALLED, uploads=set(uploads))
    return verdict.error, verdict.node_errors


def assert_well_formed(graph: dict[str, dict[str, Any]], uploads: tuple[str, ...] = ()) -> None:
    """Accepted as the real ComfyUI v0.3.64 would accept it (classes, every input's type,
    enum values and range, links of the right type to existing outputs), one output node,
    and every node feeding that output (nothing dangling)."""
    assert refusal(graph, uploads) == (None, {})
    outputs = [i for i, n in graph.items() if classes()[n["class_type"]].output_node]
    assert len(outputs) == 1
    reached, todo = set(), [outputs[0]]
    while todo:
        node_id = todo.pop()
        if node_id not in reached:
            reached.add(node_id)
            todo += [v[0] for v in graph[node_id]["inputs"].values() if _is_link(v)]
    assert reached == set(graph), f"nodes not feeding the output: {set(graph) - reached}"


def only(graph: dict[str, dict[str, Any]], class_type: str) -> dict[str, Any]:
    found = [node["inputs"] for node in graph.values() if node["class_type"] == class_type]
    assert len(found) == 1, f"{class_type}: {len(found)} nodes"
    return found[0]


def source(graph: dict[str, dict[str, Any]], link: list[Any]) -> dict[str, Any]:
    return graph[link[0]]


def request(**changes: Any) -> GenerationRequest:
    base = generation_request(
        PRESETS,
        positive="a lighthouse at dusk, film grain",
        model=IMAGE_MODEL,
        preset="medium",
        seed=1234,
    )
    return replace(base, **changes)


CASES = [
    (kind, name, model, refs)
    for kind, refs_options in (("image", ((), ("a.png",), ("a.png", "b.png"))), ("video", ((),)))
    for name in PRESETS.names(kind)
    for model in PRESETS.models(kind)
    for refs in refs_options
]


@pytest.mark.parametrize(("kind", "name", "model", "refs"), CASES)
def test_every_preset_builds_a_well_formed_graph_with_its_values(
    kind: str, name: str, model: str, refs: tuple[str, ...]
) -> None:
    preset = PRESETS.preset(name, kind)
    graph = build_graph(
        request(kind=kind, preset=name, model=model, seed=987654321, reference_images=refs),
        PRESETS,
    )
    assert_well_formed(graph, refs)
    assert output_kind(graph) == kind
    sampler = only(graph, "KSampler")
    assert sampler["seed"] == 987654321
    assert (sampler["steps"], sampler["cfg"]) == (preset.steps, preset.cfg)
    assert (sampler["sampler_name"], sampler["scheduler"]) == (
        preset.sampler_name,
        preset.scheduler,
    )
    assert sampler["denoise"] == 1.0
    latent = source(graph, sampler["latent_image"])["inputs"]
    assert (latent["width"], latent["height"]) == (preset.width, preset.height)
    texts = {source(graph, sampler[k])["inputs"]["text"] for k in ("positive", "negative")}
    assert texts == {"a lighthouse at dusk, film grain", "blurry"}
    assert source(graph, sampler["positive"])["inputs"]["text"].startswith("a lighthouse")
    json.dumps(graph)  # the API wants JSON


@pytest.mark.parametrize("model", PRESETS.models("image"))
def test_txt2img_loads_the_checkpoint_and_sizes_the_batch(model: str) -> None:
    graph = build_graph(request(model=model, batch_size=3), PRESETS)
    assert {n["class_type"] for n in graph.values()} == {
        "CheckpointLoaderSimple",
        "CLIPTextEncode",
        "EmptyLatentImage",
        "KSampler",
        "VAEDecode",
        "SaveImage",
    }
    assert only(graph, "CheckpointLoaderSimple")["ckpt_name"] == model
    assert only(graph, "EmptyLatentImage")["batch_size"] == 3
    sampler = only(graph, "KSampler")
    assert source(graph, sampler["model"])["class_type"] == "CheckpointLoaderSimple"


@pytest.mark.parametrize("refs", [("one.png",), ("one.png", "two.png", "three.png")])
def test_reference_images_feed_ip_adapters_into_the_sampler_model(refs: tuple[str, ...]) -> None:
    graph = build_graph(request(reference_images=refs, reference_weight=0.9), PRESETS)
    link = only(graph, "KSampler")["model"]
    chained: list[dict[str, Any]] = []
    while source(graph, link)["class_type"] == "IPAdapterAdvanced":
        adapter = source(graph, link)["inputs"]
        chained.append(adapter)
        link = adapter["model"]
    assert source(graph, link)["class_type"] == "CheckpointLoaderSimple"
    # Loaded by name, the names the health check verifies, not by a preset's file pattern.
    assert only(graph, "IPAdapterModelLoader") == {"ipadapter_file": PRESETS.ipadapter_model}
    assert only(graph, "CLIPVisionLoader") == {"clip_name": PRESETS.clip_vision_model}
    assert "IPAdapterUnifiedLoader" not in {n["class_type"] for n in graph.values()}
    chained.reverse()
    assert [source(graph, a["image"])["inputs"]["image"] for a in chained] == list(refs)
    assert all(
        source(graph, a["ipadapter"])["class_type"] == "IPAdapterModelLoader" for a in chained
    )
    assert all(source(graph, a["clip_vision"])["class_type"] == "CLIPVisionLoader" for a in chained)
    assert math.isclose(sum(a["weight"] for a in chained), 0.9)
    for adapter in chained:
        assert (adapter["weight_type"], adapter["start_at"], adapter["end_at"]) == (
            "linear",
            0.0,
            1.0,
        )
        assert (adapter["combine_embeds"], adapter["embeds_scaling"]) == ("concat", "V only")


@pytest.mark.parametrize(
    ("kind", "field", "typo", "reason"),
    [
        ("image", "scheduler", "Karras", "value_not_in_list"),
        ("image", "sampler_name", "dpmpp-2m", "value_not_in_list"),
        ("video", "sampler_name", "unipc", "value_not_in_list"),
    ],
)
def test_a_preset_typo_is_what_the_real_server_refuses(
    kind: str, field: str, typo: str, reason: str
) -> None:
    raw = tomllib.loads(DEFAULT_PATH.read_text())
    raw[kind]["presets"]["low"][field] = typo
    presets = Presets.from_mapping(raw)  # our own schema cannot know ComfyUI's lists
    model = presets.default_model(kind)
    graph = build_graph(request(kind=kind, preset="low", model=model), presets)
    _error, node_errors = refusal(graph)
    (sampler_errors,) = [e["errors"] for e in node_errors.values() if e["class_type"] == "KSampler"]
    assert [(e["type"], e["extra_info"]["input_name"]) for e in sampler_errors] == [(reason, field)]
    assert f"{field}: '{typo}' not in" in sampler_errors[0]["details"]


def test_video_graph_is_wan_with_shifted_sampling_and_animated_webp() -> None:
    preset = PRESETS.preset("high", "video")
    webp = Tools(video_format="webp")
    graph = build_graph(
        request(kind="video", model=VIDEO_MODEL, preset="high", tools=webp), PRESETS
    )
    assert only(graph, "UNETLoader") == {"unet_name": VIDEO_MODEL, "weight_dtype": "default"}
    assert only(graph, "CLIPLoader") == {"clip_name": PRESETS.video_text_encoder, "type": "wan"}
    assert only(graph, "VAELoader") == {"vae_name": PRESETS.video_vae}
    latent = only(graph, "EmptyHunyuanLatentVideo")
    assert (latent["length"], latent["batch_size"]) == (preset.length, 1)
    sampler = only(graph, "KSampler")
    sampling = source(graph, sampler["model"])
    assert sampling["class_type"] == "ModelSamplingSD3"
    assert sampling["inputs"]["shift"] == 8.0
    save = only(graph, "SaveAnimatedWEBP")
    assert save["fps"] == preset.fps
    assert (save["lossless"], save["quality"], save["method"]) == (False, 90, "default")
    assert "CheckpointLoaderSimple" not in {n["class_type"] for n in graph.values()}


def test_video_is_an_h264_mp4_by_default_at_the_chosen_length_and_rate() -> None:
    tools = Tools(length=49, fps=24.0)
    graph = build_graph(request(kind="video", model=VIDEO_MODEL, tools=tools), PRESETS)
    assert_well_formed(graph)
    assert only(graph, "EmptyHunyuanLatentVideo")["length"] == 49
    save = only(graph, "SaveVideo")
    assert (save["format"], save["codec"]) == ("mp4", "h264")
    create = source(graph, save["video"])
    assert create["class_type"] == "CreateVideo"
    assert create["inputs"]["fps"] == 24.0
    assert source(graph, create["inputs"]["images"])["class_type"] == "VAEDecode"
    assert "SaveAnimatedWEBP" not in {n["class_type"] for n in graph.values()}


@pytest.mark.parametrize("video_format", ["mp4", "webp"])
def test_image_to_video_conditions_wan_on_the_still_and_its_clip_vision(
    video_format: str,
) -> None:
    assert PRESETS.i2v_model is not None
    preset = PRESETS.preset("low", "video")
    tools = Tools(
        mode="img2video", source="still.png", source_size=(768, 1152), video_format=video_format
    )
    req = request(kind="video", model=PRESETS.i2v_model, preset="low", tools=tools)
    graph = build_graph(req, PRESETS)
    assert_well_formed(graph, ("still.png",))
    assert output_kind(graph) == "video"
    assert only(graph, "UNETLoader")["unet_name"] == PRESETS.i2v_model
    wan = only(graph, "WanImageToVideo")
    assert source(graph, wan["start_image"])["inputs"] == {"image": "still.png"}
    vision = source(graph, wan["clip_vision_output"])
    assert vision["class_type"] == "CLIPVisionEncode"
    assert vision["inputs"]["image"] == wan["start_image"]
    loader = source(graph, vision["inputs"]["clip_vision"])["inputs"]
    assert loader == {"clip_name": PRESETS.i2v_clip_vision}
    # The still's shape at about the preset's pixels, sides in WanImageToVideo's steps of 16.
    assert (wan["width"] % 16, wan["height"] % 16) == (0, 0)
    assert wan["width"] / wan["height"] == pytest.approx(768 / 1152, rel=0.05)
    assert wan["width"] * wan["height"] == pytest.approx(preset.width * preset.height, rel=0.1)
    assert wan["length"] == preset.length
    sampler = only(graph, "KSampler")
    assert sampler["latent_image"] == [next(k for k, n in graph.items() if n["inputs"] is wan), 2]
    assert [source(graph, sampler[k])["class_type"] for k in ("positive", "negative")] == [
        "WanImageToVideo",
        "WanImageToVideo",
    ]
    assert (sampler["positive"][1], sampler["negative"][1]) == (0, 1)
    assert "EmptyHunyuanLatentVideo" not in {n["class_type"] for n in graph.values()}


def test_media_kind_enum_works_as_request_kind() -> None:
    from core.models import MediaKind

    graph = build_graph(request(kind=MediaKind.VIDEO, model=VIDEO_MODEL), PRESETS)
    assert output_kind(graph) == "video"


INVALID = [
    ("unknown preset", {"preset": "extreme"}, "quality 'extreme'"),
    ("unknown kind", {"kind": "audio"}, "Unknown kind"),
    ("unknown model", {"model": "other.safetensors"}, "not offered for image"),
    ("video model for image", {"model": VIDEO_MODEL}, "not offered for image"),
    ("image model for video", {"kind": "video"}, "not offered for video"),
    ("empty prompt", {"positive": ""}, "prompt is empty"),
    ("blank prompt", {"positive": "  \n "}, "prompt is empty"),
    ("negative seed", {"seed": -1}, "seed"),
    ("seed too large", {"seed": MAX_SEED + 1}, "seed"),
    ("batch zero", {"batch_size": 0}, "batch size"),
    ("batch too large", {"batch_size": MAX_BATCH + 1}, "batch size"),
    ("video batch", {"kind": "video", "model": VIDEO_MODEL, "batch_size": 2}, "one clip"),
    (
        "t2v model animating a still",
        {"kind": "video", "model": VIDEO_MODEL, "tools": Tools(mode="img2video", source="a.png")},
        "not offered for video",
    ),
    (
        "animating nothing",
        {"kind": "video", "model": PRESETS.i2v_model, "tools": Tools(mode="img2video")},
        "source picture",
    ),
    (
        "length not 4n+1",
        {"kind": "video", "model": VIDEO_MODEL, "tools": Tools(length=50)},
        "4n\\+1",
    ),
    (
        "unknown video format",
        {"kind": "video", "model": VIDEO_MODEL, "tools": Tools(video_format="gif")},
        "Unknown video format",
    ),
    (
        "image tool on video",
        {"kind": "video", "model": VIDEO_MODEL, "tools": Tools(steps=5)},
        "image generation only",
    ),
    ("clip length on an image", {"tools": Tools(length=33)}, "video only"),
    (
        "references on video",
        {"kind": "video", "model": VIDEO_MODEL, "reference_images": ("a.png",)},
        "image generation only",
    ),
    (
        "too many references",
        {"reference_images": tuple(f"{i}.png" for i in range(MAX_REFERENCE_IMAGES + 1))},
        "at most",
    ),
    ("unnamed reference", {"reference_images": ("a.png", " ")}, "no name"),
    ("zero weight", {"reference_images": ("a.png",), "reference_weight": 0.0}, "strength"),
    ("huge weight", {"reference_images": ("a.png",), "reference_weight": 2.5}, "strength"),
    ("nan weight", {"reference_images": ("a.png",), "reference_weight": math.nan}, "strength"),
]


@pytest.mark.parametrize(
    ("changes", "fragment"), [(c, f) for _, c, f in INVALID], ids=[i[0] for i in INVALID]
)
def test_invalid_request_is_refused_with_a_clear_message(
    changes: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(ValidationFailed, match=fragment):
        build_graph(request(**changes), PRESETS)


def test_seed_limits_are_inclusive() -> None:
    for seed in (0, MAX_SEED):
        assert only(build_graph(request(seed=seed), PRESETS), "KSampler")["seed"] == seed


prompts = st.text(min_size=1, max_size=200).filter(lambda text: text.strip() != "")
image_requests = st.builds(
    GenerationRequest,
    positive=prompts,
    negative=st.text(max_size=200),
    model=st.sampled_from(PRESETS.models("image")),
    preset=st.sampled_from(PRESETS.names("image")),
    seed=st.integers(0, MAX_SEED),
    batch_size=st.integers(1, MAX_BATCH),
    kind=st.just("image"),
    reference_images=st.lists(
        st.text(min_size=1, max_size=40).filter(lambda n: n.strip() != ""),
        max_size=MAX_REFERENCE_IMAGES,
    ).map(tuple),
    reference_weight=st.floats(0.01, 2.0),
)
video_requests = st.builds(
    GenerationRequest,
    positive=prompts,
    negative=st.text(max_size=200),
    model=st.sampled_from(PRESETS.models("video")),
    preset=st.sampled_from(PRESETS.names("video")),
    seed=st.integers(0, MAX_SEED),
    kind=st.just("video"),
)


@settings(max_examples=150, deadline=None)
@given(image_requests | video_requests)
def test_any_valid_request_yields_one_output_and_no_dangling_links(
    req: GenerationRequest,
) -> None:
    graph = build_graph(req, PRESETS)
    assert_well_formed(graph, req.reference_images)
    assert output_kind(graph) == req.kind
    assert only(graph, "KSampler")["seed"] == req.seed
    adapters = [n for n in graph.values() if n["class_type"] == "IPAdapterAdvanced"]
    assert len(adapters) == len(req.reference_images)
    assert json.loads(json.dumps(graph)) == graph


# ---- long prompts in 75-token chunks; IP-Adapter presets (issue 21) ----------------------


def conditioning_texts(graph: dict[str, dict[str, Any]], link: list[Any]) -> list[str]:
    """The CLIPTextEncode texts feeding `link`, in the order ConditioningConcat joins them."""
    node = source(graph, link)
    if node["class_type"] == "CLIPTextEncode":
        return [node["inputs"]["text"]]
    assert node["class_type"] == "ConditioningConcat"
    inputs = node["inputs"]
    return conditioning_texts(graph, inputs["conditioning_to"]) + conditioning_texts(
        graph, inputs["conditioning_from"]
    )


def test_a_short_prompt_is_one_encode_of_the_text_as_written() -> None:
    graph = build_graph(request(positive="a lighthouse,at dusk"), PRESETS)
    sampler = only(graph, "KSampler")
    assert conditioning_texts(graph, sampler["positive"]) == ["a lighthouse,at dusk"]
    assert "ConditioningConcat" not in {n["class_type"] for n in graph.values()}


def test_a_long_prompt_is_encoded_in_chunks_joined_in_order_as_the_real_server_takes() -> None:
    phrases = [f"detail number {n} in soft light" for n in range(40)]
    graph = build_graph(request(positive=", ".join(phrases), negative="blurry, " * 60), PRESETS)
    assert_well_formed(graph)
    sampler = only(graph, "KSampler")
    texts = conditioning_texts(graph, sampler["positive"])
    assert len(texts) >= 3 and all(estimate_clip_tokens(t) <= CLIP_WINDOW for t in texts)
    assert [p for text in texts for p in text.split(", ")] == phrases  # none cut or lost
    assert len(conditioning_texts(graph, sampler["negative"])) >= 2


def test_weights_in_brackets_stay_in_one_chunk() -> None:
    weighted = "(red silk dress, lace trim:1.2)"
    text = ", ".join([*(f"phrase {n} of the scene" for n in range(14)), weighted])
    chunks = prompt_chunks(text)
    assert len(chunks) >= 2 and any(weighted in chunk.text for chunk in chunks)


def test_video_prompts_are_not_cut_the_text_encoder_reads_them_whole() -> None:
    long = ", ".join(f"detail {n}" for n in range(80))
    graph = build_graph(
        request(kind="video", model=VIDEO_MODEL, preset="low", positive=long), PRESETS
    )
    texts = [n["inputs"]["text"] for n in graph.values() if n["class_type"] == "CLIPTextEncode"]
    assert long in texts


def test_the_ipadapter_lists_are_the_real_servers() -> None:
    required = facts()["IPAdapterAdvanced"]["input"]["required"]
    assert WEIGHT_TYPES == tuple(required["weight_type"][0])
    assert EMBEDS_SCALING == tuple(required["embeds_scaling"][0])


@pytest.mark.parametrize("name", PRESETS.reference_preset_names())
def test_every_reference_preset_builds_a_graph_the_real_server_takes(name: str) -> None:
    chosen = PRESETS.reference_preset(name)
    graph = build_graph(request(reference_images=("a.png",), reference_preset=name), PRESETS)
    assert_well_formed(graph, uploads=("a.png",))
    adapter = only(graph, "IPAdapterAdvanced")
    assert only(graph, "IPAdapterModelLoader") == {"ipadapter_file": chosen.model}
    assert (adapter["weight_type"], adapter["embeds_scaling"]) == (
        chosen.weight_type,
        chosen.embeds_scaling,
    )
    assert chosen.model in PRESETS.required_models()["ipadapter"]  # the health check's files


def test_the_face_preset_loads_the_face_adapter_and_the_style_preset_transfers_style() -> None:
    face = build_graph(request(reference_images=("a.png",), reference_preset="face"), PRESETS)
    assert "face" in only(face, "IPAdapterModelLoader")["ipadapter_file"]
    style = build_graph(request(reference_images=("a.png",), reference_preset="style"), PRESETS)
    assert only(style, "IPAdapterAdvanced")["weight_type"] == "style transfer"


def test_an_unknown_reference_preset_is_refused_with_the_names() -> None:
    with pytest.raises(ValidationFailed, match="Unknown reference preset 'faces'; choose one of"):
        build_graph(request(reference_images=("a.png",), reference_preset="faces"), PRESETS)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("weight_type", "Linear", "weight_type 'Linear' is not one of"),
        ("embeds_scaling", "V", "embeds_scaling 'V' is not one of"),
        ("end_at", 0.0, "start_at and end_at"),
    ],
)
def test_a_reference_preset_typo_is_refused_when_the_presets_load(
    field: str, value: Any, message: str
) -> None:
    raw = tomllib.loads(DEFAULT_PATH.read_text())
    raw["image"]["reference_presets"]["style"][field] = value
    with pytest.raises(ConfigError, match=message):
        Presets.from_mapping(raw)
