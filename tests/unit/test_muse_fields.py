"""The form described from the schema covers every field once; any valid profile survives the
form's round trip; composition keeps every trait; prompt chunks; Studio defaults."""

from hypothesis import given, settings
from hypothesis import strategies as st

from core.comfy.tokens import estimate_clip_tokens
from core.muses.fields import FieldSpec, build_profile, form_fields, value_at
from core.muses.prompt import compose, prompt_chunks, studio_defaults
from core.muses.schema import MuseProfile, validate_profile

WORDS = st.text(alphabet="abcdefghij klmnop", max_size=24).map(str.strip)
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
    return WORDS


PROFILES = st.fixed_dictionaries({spec.key: value_for(spec) for spec in form_fields()})


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
@given(values=PROFILES, scene=WORDS, outfit=WORDS, expression=WORDS)
def test_every_non_empty_trait_is_in_the_encoded_text(values, scene, outfit, expression):
    profile = validate_profile(build_profile(values))
    variation = {"outfit": outfit, "expression": expression} if outfit else None
    positive = compose(profile, scene, variation=variation).positive
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
                assert str(item) in positive, (spec.key, positive)
    assert scene in positive and f"{profile.basic.age}-year-old adult" in positive


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
    profile = validate_profile(
        {
            "basic": {"name": "Ava", "age": 30},
            "ai": {"model": "sdxl.safetensors", "preset": "high", "seed": 7, "nsfw": True},
        }
    )
    offered = studio_defaults(profile, models=("sdxl.safetensors",))
    assert (offered.model, offered.preset, offered.seed, offered.explicit) == (
        "sdxl.safetensors",
        "high",
        7,
        True,
    )
    assert studio_defaults(profile, models=("other",)).model is None
    assert studio_defaults(profile, models=()).negative_prompt is None
