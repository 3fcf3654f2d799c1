"""Muse profiles: strict 18+ schema, deterministic composition, safe card import/export."""

import io
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from core.errors import ValidationFailed
from core.muses import cards
from core.muses.prompt import ADULT_NEGATIVE, compose
from core.muses.schema import validate_profile

BASE = {
    "basic": {"name": "Ava", "age": 27, "occupation": "violinist"},
    "eyes": {"color": "green"},
    "hair": {"color": "auburn", "length": "long", "style": "loose waves"},
    "fashion": {"outfit": "a velvet evening gown"},
    "personality": {"traits": ["warm"], "expression": "soft smile"},
    "ai": {"negative_prompt": "blurry"},
}


def profile(**changes):
    data = json.loads(json.dumps(BASE))
    for section, values in changes.items():
        data[section] = {**data.get(section, {}), **values} if isinstance(values, dict) else values
    return validate_profile(data)


@pytest.mark.parametrize(
    ("basic", "message"),
    [
        ({"name": "Ava", "age": 17}, "18 or older"),
        ({"name": "Ava", "age": "18 "}, "18 or older"),
        ({"name": "Ava", "age": 18.5}, "18 or older"),
        ({"name": "Ava"}, "18 or older"),
        ({"name": "", "age": 30}, "basic.name"),
        ({"name": "Ava", "age": 30, "favourite": "x"}, "basic.favourite"),
    ],
)
def test_strict_schema_refuses_minors_and_junk(basic, message):
    with pytest.raises(ValidationFailed, match=message):
        validate_profile({"basic": basic})


def test_composition_is_ordered_deterministic_and_adult():
    composed = compose(profile(), "on a rooftop at night")
    assert composed.positive.startswith(
        "portrait of Ava, a 27-year-old adult woman, on a rooftop at night, long auburn"
    )
    assert composed.positive.index("auburn") < composed.positive.index("green eyes")
    assert composed == compose(profile(), "on a rooftop at night")
    assert composed.negative == f"blurry, {ADULT_NEGATIVE}"


def test_variation_overrides_the_outfit():
    composed = compose(profile(), "beach", variation={"outfit": "a linen summer dress"})
    assert "wearing a linen summer dress" in composed.positive
    assert "velvet" not in composed.positive


def test_text_fields_cover_free_text_for_screening():
    fields = profile(notes="loves jazz").text_fields()
    assert fields["notes"] == "loves jazz" and fields["personality.traits[0]"] == "warm"


def card():
    return cards.CardData(profile(), ["fantasy"], [("gala", {"outfit": "a silver dress"})])


def test_json_and_png_cards_round_trip():
    assert cards.parse_card(cards.export_json(card()), "ava.json") == card()
    portrait = io.BytesIO()
    Image.new("RGB", (32, 32), "teal").save(portrait, format="PNG")
    png = cards.export_png(card(), portrait.getvalue())
    assert cards.parse_card(png, "ava.png") == card()
    assert cards.parse_card(cards.export_png(card()), "placeholder.png") == card()


def envelope(**changes):
    data = json.loads(cards.export_json(card()))
    data.update(changes)
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"{" * 10_000 + b"}" * 10_000, "nested too deeply"),
        # An escaped quote once ended the counter's string early, so the nesting that
        # followed counted as text and json raised RecursionError (an unexpected error).
        (
            b'{"format": "aikings.muse", "x": "q\\"", "b": '
            + b"[" * 100_000
            + b"]" * 100_000
            + b"}",
            "nested too deeply",
        ),
        (b" " * (cards.MAX_JSON_BYTES + 1), "larger than 1 MB"),
        (b"\xff\xfe\x00", "neither"),
        (b"{not json", "not valid JSON"),
        (b'{"format": "other"}', "not an AI KINGS muse card"),
        (envelope(version=9), "version 9"),
        (envelope(extra=1), "Unknown card fields: extra"),
        (envelope(profile={**BASE, "basic": {"name": "Ava", "age": 17}}), "18 or older"),
        (envelope(profile={**BASE, "reference_images": ["../../etc/passwd"]}), "reference_images"),
        (
            envelope(
                profile={**BASE, "basic": {"name": "A", "age": 30, "photo": "http://x/y.png"}}
            ),
            "photo",
        ),
        (envelope(variations=[{"name": "x"}]), "name and overrides"),
        (envelope(variations=[{"name": "x", "overrides": {"outfit": 3}}]), "short text"),
        (envelope(variations=[{"name": "x", "overrides": {}, "id": 1}]), "variation fields: id"),
        (envelope(variations=[{"name": "x", "overrides": {}}] * 51), "at most 50"),
        (envelope(tags="not a list"), "tags"),
        (envelope(tags=[7]), "tags"),
        # Wrong types are refused by the envelope, never coerced:
        (envelope(version=True), "version True"),
        (envelope(version="1"), "version '1'"),
        (envelope(profile=[["basic", {"name": "Ava", "age": 30}]]), "profile must be an object"),
        (envelope(format=None), "not an AI KINGS muse card"),
        (b"[1, 2]", "not an AI KINGS muse card"),
        # A field given twice is refused (JSON would silently keep the last one):
        (
            b'{"format": "aikings.muse", "version": 1, "profile": {}, "profile": {}}',
            "gives the field 'profile' twice",
        ),
        (
            envelope()[:-1] + b', "basic": {"name": "Ava", "age": 17, "age": 30}}',
            "twice",
        ),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 50, "PNG card cannot be opened"),
        # The AI settings are checked as strictly as the form checks them:
        (envelope(profile={**BASE, "ai": {"loras": [{"name": "a", "weight": 9}]}}), "ai.loras"),
        (envelope(profile={**BASE, "ai": {"loras": [{"name": "a", "path": "../x"}]}}), "path"),
        (envelope(profile={**BASE, "ai": {"width": 832}}), "both a width and a height"),
        (envelope(profile={**BASE, "ai": {"reference_preset": "x" * 81}}), "reference_preset"),
    ],
)
def test_malformed_cards_are_refused_with_a_message(data, message):
    with pytest.raises(ValidationFailed, match=message):
        cards.parse_card(data, "card.json")


def test_png_without_a_card_is_refused():
    plain = io.BytesIO()
    Image.new("RGB", (8, 8)).save(plain, format="PNG")
    with pytest.raises(ValidationFailed, match="no AI KINGS muse card"):
        cards.parse_card(plain.getvalue(), "x.png")


def test_choices_come_from_the_editable_options_file():
    from core.muses.schema import options

    assert "pixie" in options()["hair_lengths"] and len(options()["hair_lengths"]) == 7
    with pytest.raises(ValidationFailed, match="hair.length: .*choose one of"):
        profile(hair={"length": "floor-length"})
    assert profile(hair={"length": ""}).hair.length == ""


@given(
    scene=st.text(max_size=200),
    outfit=st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=120),
)
def test_compose_properties(scene, outfit):
    base = profile(fashion={"outfit": outfit})
    first = compose(base, scene)
    assert first == compose(base, scene)  # deterministic
    assert "27-year-old adult" in first.positive and "child" in first.negative
    assert scene.strip() in first.positive


def test_detailed_fields_and_the_prompt_template():
    detailed = profile(
        face={"jawline": "soft", "makeup": "smoky eye"},
        fashion={"footwear": "ankle boots", "nails": "red"},
        ai={"prompt_template": "cinematic still, {scene}, featuring {muse}"},
    )
    composed = compose(detailed, "a rainy street")
    assert composed.positive.startswith(
        "cinematic still, a rainy street, featuring portrait of Ava"
    )
    for phrase in ("soft jawline", "smoky eye makeup", "ankle boots", "red nails"):
        assert phrase in composed.positive


# (changes to the base profile, variation, scene) -> phrases in this order / absent.
COMPOSE_TABLE = [
    (
        {"eyes": {"size": "large", "shape": "almond"}, "hair": {"texture": "wavy"}},
        None,
        "at a gala",
        ["at a gala", "long wavy auburn hair", "loose waves", "large almond green eyes"],
        [],
    ),
    (
        {"skin": {"tone": "olive", "texture": "smooth", "marks": "freckles"}},
        None,
        "in a garden",
        ["in a garden", "green eyes", "freckles", "smooth olive skin"],
        [],
    ),
    (
        {},
        {"scenario": "at a jazz club", "outfit": "a black suit"},
        "evening light",
        ["evening light", "at a jazz club", "wearing a black suit"],
        ["velvet"],
    ),
    (
        {"fashion": {"lingerie": "silk slip"}},
        None,
        "a bedroom",
        ["a bedroom"],
        ["silk slip"],
    ),
    (
        {"fashion": {"lingerie": "silk slip"}, "ai": {"nsfw": True}},
        None,
        "a bedroom",
        ["a bedroom", "soft smile", "silk slip"],
        [],
    ),
    (
        {"basic": {"height_cm": 170, "nationality": "Irish"}},
        None,
        "a harbour",
        ["portrait of Ava", "a harbour", "green eyes", "170 cm tall", "violinist", "Irish"],
        [],
    ),
]


@pytest.mark.parametrize(("changes", "variation", "scene", "order", "absent"), COMPOSE_TABLE)
def test_compose_table(changes, variation, scene, order, absent):
    composed = compose(profile(**changes), scene, variation=variation)
    positions = [composed.positive.index(phrase) for phrase in order]
    assert positions == sorted(positions), composed.positive
    for phrase in absent:
        assert phrase not in composed.positive


def test_every_listed_profile_field_is_in_the_schema():
    """The issue's profile, field by field (a missing one fails validation as unknown)."""
    full = validate_profile(
        {
            "basic": {
                "name": "Ava",
                "age": 30,
                "nationality": "Irish",
                "ethnicity": "white",
                "occupation": "pilot",
                "height_cm": 172,
            },
            "body": {"body_type": "athletic", "shape": "hourglass", "measurements": "90-65-92"},
            "face": {"shape": "oval", "jawline": "soft", "cheekbones": "high", "makeup": "none"},
            "eyes": {"color": "green", "shape": "almond", "size": "large"},
            "hair": {"color": "red", "length": "very long", "style": "braid", "texture": "curly"},
            "lips": {"description": "full"},
            "nose": {"description": "straight"},
            "skin": {"tone": "fair", "texture": "smooth", "marks": "freckles"},
            "fashion": {"style": "boho", "lingerie": "lace", "footwear": "boots", "nails": "red"},
            "personality": {"traits": ["bold"]},
            "ai": {
                "prompt_template": "{scene}, {muse}",
                "negative_prompt": "blurry",
                "model": "sdxl_base_1.0.safetensors",
                "seed": 7,
                "reference_weight": 0.6,
            },
            "notes": "a pilot",
        }
    )
    assert full.hair.texture == "curly" and full.eyes.size == "large" and full.skin.marks
    from core.muses.schema import options

    assert options()["hair_lengths"][0] == "pixie" and options()["hair_lengths"][-1] == "very long"


def test_an_oversized_png_card_is_refused_before_decoding():
    data = b"\x89PNG\r\n\x1a\n" + b"\x00" * cards.MAX_PNG_BYTES
    with pytest.raises(ValidationFailed, match="larger than 8 MB"):
        cards.parse_card(data, "../../big.png")


def test_a_card_declaring_a_huge_canvas_is_refused():
    """A small file whose header claims 100 megapixels (a decompression bomb) never decodes."""
    big = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(big, format="PNG")
    with pytest.raises(ValidationFailed, match="megapixels|too many pixels"):
        cards.parse_card(big.getvalue(), "bomb.png")


def test_quotes_and_brackets_inside_text_are_not_nesting():
    """Before: a note holding an escaped quote and then brackets (`says \\"[[[[`) was
    refused as nested too deeply: the depth counter left the string at the escaped quote."""
    quoted = {**BASE, "notes": 'she says "[[[[[[[[[[ {{{{ hi" and \\ "]]" back'}
    data = envelope(profile=quoted)
    assert cards.parse_card(data, "card.json").profile.notes == quoted["notes"]
