"""Presets load from the data file; every request builds a well-formed ComfyUI graph."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.comfy.presets import Presets
from core.comfy.workflows import GenerationRequest, build_graph
from core.errors import ConfigError, ValidationFailed

PRESETS = Presets.load()


def request(**fields):
    values = {
        "positive": "a lighthouse at dusk",
        "negative": "blurry",
        "model": PRESETS.default_model("image"),
        "preset": "medium",
        "seed": 7,
    }
    values.update(fields)
    return GenerationRequest(**values)


def links(graph):
    for node_id, node in graph.items():
        for name, value in node["inputs"].items():
            if isinstance(value, list):
                yield node_id, name, value


def assert_well_formed(graph):
    for node_id, name, (target, index) in links(graph):
        assert target in graph, f"{node_id}.{name} links to missing node {target}"
        assert isinstance(index, int)
    outputs = [n for n in graph.values() if n["class_type"] in ("SaveImage", "SaveAnimatedWEBP")]
    assert len(outputs) == 1


def of_class(graph, class_type):
    return [node for node in graph.values() if node["class_type"] == class_type]


@pytest.mark.parametrize("kind", ["image", "video"])
def test_every_preset_builds_a_well_formed_graph(kind):
    for name in PRESETS.names(kind):
        preset = PRESETS.preset(name, kind)
        graph = build_graph(
            request(kind=kind, preset=name, model=PRESETS.default_model(kind)), PRESETS
        )
        assert_well_formed(graph)
        (sampler,) = of_class(graph, "KSampler")
        assert (sampler["inputs"]["steps"], sampler["inputs"]["seed"]) == (preset.steps, 7)


def test_presets_are_ordered_low_to_ultra_and_sizes_land_in_the_latent():
    assert PRESETS.names("image") == ["low", "medium", "high", "ultra"]
    graph = build_graph(request(preset="high", batch_size=3), PRESETS)
    (latent,) = of_class(graph, "EmptyLatentImage")
    high = PRESETS.preset("high", "image")
    assert latent["inputs"] == {"width": high.width, "height": high.height, "batch_size": 3}


def test_reference_images_chain_ip_adapters_into_the_sampler_model():
    graph = build_graph(request(reference_images=("a.png", "b.png"), reference_weight=0.6), PRESETS)
    assert_well_formed(graph)
    adapters = of_class(graph, "IPAdapterAdvanced")
    assert [a["inputs"]["weight"] for a in adapters] == [0.6, 0.6]
    (sampler,) = of_class(graph, "KSampler")
    last_adapter = [nid for nid, n in graph.items() if n is adapters[-1]][0]
    assert sampler["inputs"]["model"] == [last_adapter, 0]
    assert sorted(n["inputs"]["image"] for n in of_class(graph, "LoadImage")) == ["a.png", "b.png"]


def test_video_uses_wan_loaders_and_animated_webp():
    graph = build_graph(
        request(kind="video", model=PRESETS.default_model("video"), preset="low"), PRESETS
    )
    assert of_class(graph, "CLIPLoader")[0]["inputs"]["type"] == "wan"
    low = PRESETS.preset("low", "video")
    assert of_class(graph, "EmptyHunyuanLatentVideo")[0]["inputs"]["length"] == low.length
    assert of_class(graph, "SaveAnimatedWEBP")[0]["inputs"]["fps"] == float(low.fps)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"preset": "extreme"}, "Unknown quality"),
        ({"model": "other.safetensors"}, "not offered"),
        ({"positive": "  "}, "empty"),
        ({"seed": -1}, "seed"),
        ({"batch_size": 9}, "batch"),
        (
            {
                "kind": "video",
                "model": "wan2.1_t2v_1.3B_fp16.safetensors",
                "reference_images": ("a",),
            },
            "images only",
        ),
        ({"kind": "audio"}, "Unknown kind"),
    ],
)
def test_bad_requests_are_refused_with_a_message(fields, message):
    with pytest.raises(ValidationFailed, match=message):
        build_graph(request(**fields), PRESETS)


def test_required_models_cover_every_loader():
    needed = PRESETS.required_models()
    assert PRESETS.default_model("image") in needed["checkpoints"]
    assert PRESETS.video_vae in needed["vae"]


@pytest.mark.parametrize(
    "text",
    [
        "not toml [",
        "[image]\nmodels = []\n",
        '[image]\nmodels=["a"]\ndefault_model="b"\nipadapter_preset="x"\n[image.presets]\n[video]\n',
    ],
)
def test_malformed_presets_file_is_a_config_error(tmp_path, text):
    path = tmp_path / "presets.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="presets.toml"):
        Presets.load(path)


def test_missing_presets_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="missing"):
        Presets.load(tmp_path / "nope.toml")


@settings(max_examples=60, deadline=None)
@given(
    preset=st.sampled_from(["low", "medium", "high", "ultra"]),
    seed=st.integers(0, 2**63 - 1),
    batch=st.integers(1, 8),
    refs=st.lists(st.text("abc", min_size=1, max_size=5), max_size=3),
    text=st.text(min_size=1, max_size=200).filter(str.strip),
)
def test_any_valid_image_request_is_well_formed(preset, seed, batch, refs, text):
    graph = build_graph(
        request(
            positive=text, preset=preset, seed=seed, batch_size=batch, reference_images=tuple(refs)
        ),
        PRESETS,
    )
    assert_well_formed(graph)
