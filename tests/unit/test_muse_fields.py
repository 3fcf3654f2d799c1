"""The form described from the schema covers every field once; any valid profile survives the
form's round trip; the graph encodes every trait; prompt chunks; Studio defaults."""

import tomllib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.comfy.presets import DEFAULT_PATH, Presets
from core.comfy.tokens import estimate_clip_tokens, prompt_chunks
from core.comfy.workflows import GenerationRequest, build_graph
from core.errors import ValidationFailed
from core.muses.fields import FieldSpec, build_profile, form_fields, value_at
from core.muses.prompt import compose, studio_defaults
from core.muses.schema import MuseProfile, validate_profile

PRESETS = Presets.load()
WORDS = st.text(alphabet="abcdefghij klmnop", max_size=24).map(str.strip)
LONG_WORDS = st.text(alphabet="abcdefghij klmnopqrstuvw", max_size=400).map(str.strip)
NOT_TRAITS = {"basic.name", "basic.age", "notes"}


def leaf_names(data, prefix=""):
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from leaf_names(value, f"{name}.")
        else:
            yield name


def value_for(spec: FieldSpec):
    """A strategy for any valid value of the field."""
    if spec.key == "basic.name":
        return WORDS.filter(bool)
    if spec.key in ("ai.width", "ai.height"):
        return st.none()  # both or neither: SIZES sets them together
    if spec.widget == "loras":
        names = st.sampled_from(["a.safetensors", "b.safetensors", "c.safetensors"])
        row = st.fixed_dictionaries(
            {"name": names, "weight": st.integers(-20, 20).map(lambda n: n / 10)}
        )
        return st.lists(row, max_size=spec.max_items or 5, unique_by=lambda r: r["name"])
    if spec.offered:
        return st.sampled_from(("", "some.safetensors"))
    if spec.widget == "choice":
        extra = ("",) if spec.section != "ai" and spec.key != "basic.gender" else ()
        return st.sampled_from((*extra, *spec.choices))
    if spec.widget == "number":
        numbers = st.integers(int(spec.minimum or 0), int(spec.maximum or 10**6))
        return st.none() | numbers if spec.optional else numbers
    if spec.widget == "slider":
        return st.integers(0, 15).map(lambda tenths: tenths / 10)
    if spec.widget == "toggle":
        return st.booleans()
    if spec.widget == "tags":
        return st.lists(WORDS.filter(bool), max_size=spec.max_items or 12)
    if spec.widget == "area":
        return WORDS | LONG_WORDS  # past a whole CLIP window on its own, at times
    return WORDS


SIZES = st.none() | st.tuples(st.integers(32, 320), st.integers(32, 320))


def with_size(values, size):
    if size is not None:
        values = values | {"ai.width": size[0] * 8, "ai.height": size[1] * 8}
    return values


PROFILES = st.builds(
    with_size, st.fixed_dictionaries({spec.key: value_for(spec) for spec in form_fields()}), SIZES
)


def encoded_texts(graph, link):
    """The texts of the CLIPTextEncode nodes feeding `link`, in the order they are joined."""
    node = graph[link[0]]
    if node["class_type"] == "CLIPTextEncode":
        return [node["inputs"]["text"]]
    assert node["class_type"] == "ConditioningConcat"
    inputs = node["inputs"]
    return encoded_texts(graph, inputs["conditioning_to"]) + encoded_texts(
        graph, inputs["conditioning_from"]
    )


def words(text):
    return text.replace(",", " ").split()


def contains_in_order(haystack, needle):
    """Whether the words of `needle` appear together, in order, in `haystack`'s words."""
    big, small = words(haystack), words(needle)
    return any(big[i : i + len(small)] == small for i in range(len(big) - len(small) + 1))


def test_the_form_has_every_schema_field_exactly_once():
    full = MuseProfile.model_validate({"basic": {"name": "Ava", "age": 30}}).model_dump()
    keys = [spec.key for spec in form_fields()]
    assert sorted(keys) == sorted(leaf_names(full)) and len(keys) == len(set(keys))


def test_widgets_and_limits_come_from_the_schema():
    specs = {spec.key: spec for spec in form_fields()}
    assert specs["eyes.color"].widget == "choice" and "green" in specs["eyes.color"].choices
    assert specs["fashion.footwear"].widget == "suggest" and specs["fashion.footwear"].choices
    assert specs["personality.traits"].widget == "tags" and specs["personality.traits"].max_items
    assert (specs["body.details"].widget, specs["body.details"].max_chars) == ("area", 400)
    assert (specs["basic.age"].minimum, specs["basic.height_cm"].optional) == (18, True)
    assert specs["ai.preset"].choices == ("low", "medium", "high", "ultra")
    assert specs["ai.reference_weight"].widget == "slider"


@settings(max_examples=60, deadline=None)
@given(values=PROFILES)
def test_any_valid_profile_round_trips_through_the_form_values(values):
    profile = validate_profile(build_profile(values))
    dumped = profile.model_dump()
    assert {spec.key: value_at(dumped, spec) for spec in form_fields()} == values


@settings(max_examples=60, deadline=None)
@given(values=PROFILES, scene=WORDS | LONG_WORDS, outfit=WORDS, expression=WORDS)
def test_every_non_empty_trait_is_in_the_encoded_text(values, scene, outfit, expression):
    """Read back from the built graph: the CLIPTextEncode nodes feeding the sampler's positive
    input, each at most one CLIP window, hold every trait of the profile and the variation."""
    profile = validate_profile(build_profile(values))
    variation = {"outfit": outfit, "expression": expression} if outfit else None
    composed = compose(profile, scene, variation=variation)
    graph = build_graph(
        GenerationRequest(composed.positive, composed.negative, PRESETS.default_model("image"),
                          "low", 1),
        PRESETS,
    )  # fmt: skip
    (sampler,) = [n["inputs"] for n in graph.values() if n["class_type"] == "KSampler"]
    texts = encoded_texts(graph, sampler["positive"])
    assert len(texts) == len(prompt_chunks(composed.positive))
    assert len(texts) == 1 or all(estimate_clip_tokens(text) <= 75 for text in texts)
    positive = " ".join(texts)
    assert words(positive) == words(composed.positive)
    overridden = {"fashion.outfit": outfit, "personality.expression": expression}
    for spec in form_fields():
        value = value_at(profile.model_dump(), spec)
        if variation and spec.key in overridden:
            value = overridden[spec.key]
        if spec.section == "ai" or spec.key in NOT_TRAITS or spec.key == "basic.age":
            continue
        if spec.key == "fashion.lingerie" and not profile.ai.nsfw:
            continue  # described only for an explicit muse (test_compose_table)
        for item in value if isinstance(value, list) else [value]:
            if item not in (None, ""):
                assert contains_in_order(positive, str(item)), (spec.key, positive)
    assert contains_in_order(positive, scene)
    assert contains_in_order(positive, f"{profile.basic.age}-year-old adult")


@given(text=st.lists(WORDS, max_size=60).map(", ".join))
def test_chunks_fit_the_window_and_keep_every_word(text):
    chunks = prompt_chunks(text)
    assert all(chunk.tokens <= 75 for chunk in chunks)
    assert all(chunk.tokens == estimate_clip_tokens(chunk.text) for chunk in chunks)
    words = [w for phrase in text.split(",") for w in phrase.split()]
    assert [w for chunk in chunks for w in chunk.text.replace(",", " ").split()] == words


def test_a_long_profile_falls_into_several_chunks_with_identity_first():
    profile = validate_profile(
        {
            "basic": {"name": "Ava", "age": 30, "occupation": "violinist"},
            "body": {"details": "long elegant limbs " * 10},
            "skin": {"details": "a small scar above the left eyebrow " * 5},
        }
    )
    chunks = prompt_chunks(compose(profile, "at a gala").positive)
    assert len(chunks) >= 2 and chunks[0].text.startswith("portrait of Ava, a 30-year-old")
    assert "violinist" in " ".join(chunk.text for chunk in chunks)


def test_studio_defaults_follow_the_muse_settings():
    model = PRESETS.default_model("image")
    lora = PRESETS.catalogue.loras_for(model)[0]
    profile = validate_profile(
        {
            "basic": {"name": "Ava", "age": 30},
            "ai": {
                "model": model,
                "preset": "high",
                "seed": 7,
                "nsfw": True,
                "loras": [{"name": lora.name, "weight": 0.6}],
                "width": 832,
                "height": 1216,
                "reference_weight": 0.7,
                "reference_preset": "face",
            },
        }
    )
    offered = studio_defaults(profile, PRESETS, model="any")
    assert (offered.model, offered.preset, offered.seed, offered.explicit) == (
        model,
        "high",
        7,
        True,
    )
    assert offered.loras == ((lora, 0.6),) and offered.size == (832, 1216)
    assert (offered.reference_weight, offered.reference_preset) == (0.7, "face")
    assert offered.left_out == () and offered.negative_prompt is None


def test_settings_that_no_longer_apply_are_named_not_dropped_silently():
    profile = validate_profile(
        {
            "basic": {"name": "Ava", "age": 30},
            "ai": {
                "model": "gone.safetensors",
                "loras": [{"name": "gone-lora.safetensors"}],
                "reference_preset": "gone",
            },
        }
    )
    offered = studio_defaults(profile, PRESETS, model=PRESETS.default_model("image"))
    assert (offered.model, offered.loras, offered.reference_preset) == (None, (), None)
    assert offered.left_out == (
        "the model 'gone.safetensors' is no longer offered",
        "Unknown LoRA 'gone-lora.safetensors'",
        "the IP-Adapter preset 'gone' is no longer offered",
    )


@pytest.mark.parametrize(
    ("ai", "message"),
    [
        ({"width": 832}, "both a width and a height"),
        ({"width": 830, "height": 1216}, "multiple of 8"),
        ({"loras": [{"name": "a"}, {"name": "a"}]}, "each LoRA can be used once"),
        ({"loras": [{"name": str(n)} for n in range(6)]}, "at most 5"),
        ({"loras": [{"name": "a", "weight": 2.5}]}, "less than or equal to 2"),
    ],
)
def test_a_size_needs_both_sides_and_loras_are_bounded(ai, message):
    with pytest.raises(ValidationFailed, match=message):
        validate_profile({"basic": {"name": "Ava", "age": 30}, "ai": ai})


def test_a_lora_of_another_family_than_the_model_is_left_out_with_the_reason():
    raw = tomllib.loads(DEFAULT_PATH.read_text(encoding="utf-8"))
    raw["catalogue"]["loras"]["pony-style.safetensors"] = {"family": "pony", "label": "Pony style"}
    presets = Presets.from_mapping(raw)
    profile = validate_profile(
        {"basic": {"name": "Ava", "age": 30}, "ai": {"loras": [{"name": "pony-style.safetensors"}]}}
    )
    offered = studio_defaults(profile, presets, model=presets.default_model("image"))
    assert offered.loras == ()
    assert offered.left_out == (
        "The LoRA 'Pony style' is made for Pony models; 'sdxl_base_1.0.safetensors' is SDXL",
    )
