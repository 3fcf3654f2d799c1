"""The muse profile: sections of descriptive fields, strictly validated (adults only).

Unknown fields are refused everywhere (a card from another tool is not silently half-read),
every string is bounded, and `age` must be a real integer of at least 18: "18 " or 17.9 are
refused, not coerced.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import core_schema

from core.accounts.inputs import has_control_characters
from core.comfy.catalogue import MAX_SIDE, MIN_SIDE
from core.comfy.tools import MAX_LORA_WEIGHT, MAX_LORAS
from core.config import REPO_ROOT
from core.errors import ConfigError, PolicyRefusal, ValidationFailed
from core.safety import MINOR_MESSAGE

Short = Annotated[str, Field(max_length=80)]
Text = Annotated[str, Field(max_length=400)]

PRESETS = ("low", "medium", "high", "ultra")
VARIATION_FIELDS = ("outfit", "scenario", "style", "accessories", "expression")
"""What a variation may override: an outfit, a scenario added to the scene, and the look."""


@lru_cache(maxsize=1)
def options() -> dict[str, tuple[str, ...]]:
    """The form's choices from `data/muse_options.toml` (genders, body_types, eye_colors, ...)."""
    path = REPO_ROOT / "data" / "muse_options.toml"
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        return {str(key): tuple(str(v) for v in values) for key, values in raw.items()}
    except (OSError, tomllib.TOMLDecodeError, TypeError) as exc:
        raise ConfigError(f"{path} is invalid: {exc}") from exc


@dataclass(frozen=True)
class OneOf:
    """Field metadata: the value must be one of the `list_name` options (or empty).

    The form reads the same marker to offer the list, so the choices live in one place."""

    list_name: str

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def _check(self, value: str) -> str:
        allowed = options().get(self.list_name, ())
        if value and value not in allowed:
            raise ValueError(f"choose one of: {', '.join(allowed)}")
        return value


@dataclass(frozen=True)
class Suggest:
    """Field metadata: the form suggests the `list_name` options; any other text is allowed."""

    list_name: str


@dataclass(frozen=True)
class Offered:
    """Field metadata: the form offers what the studio offers now under `list_name`
    ("models", "loras", "reference_presets"). Any short value is stored (a card from another
    install keeps its settings); what is no longer offered is left out when the muse is used."""

    list_name: str


def _one_of(list_name: str) -> OneOf:
    return OneOf(list_name)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        """No NUL or other control character (line breaks aside) in any text of a profile."""
        texts = value if isinstance(value, list) else [value]
        if any(isinstance(t, str) and has_control_characters(t, multiline=True) for t in texts):
            raise ValueError("contains control characters; remove them")
        return value


class Basic(_Section):
    name: Annotated[str, Field(min_length=1, max_length=80)]
    age: Annotated[StrictInt, Field(ge=18, le=120)]
    gender: Annotated[Short, _one_of("genders")] = "woman"
    nationality: Short = ""
    ethnicity: Short = ""
    occupation: Short = ""
    height_cm: Annotated[StrictInt, Field(ge=140, le=220)] | None = None


class Body(_Section):
    body_type: Annotated[Short, _one_of("body_types")] = ""
    shape: Short = ""
    measurements: Short = ""
    details: Text = ""


class Face(_Section):
    shape: Short = ""
    jawline: Short = ""
    cheekbones: Short = ""
    makeup: Short = ""
    features: Text = ""


class Eyes(_Section):
    color: Annotated[Short, _one_of("eye_colors")] = ""
    shape: Short = ""
    size: Annotated[Short, _one_of("eye_sizes")] = ""


class Hair(_Section):
    color: Short = ""
    length: Annotated[Short, _one_of("hair_lengths")] = ""
    style: Short = ""
    texture: Annotated[Short, _one_of("hair_textures")] = ""


class Lips(_Section):
    description: Short = ""


class Nose(_Section):
    description: Short = ""


class Skin(_Section):
    tone: Annotated[Short, _one_of("skin_tones")] = ""
    texture: Annotated[Short, _one_of("skin_textures")] = ""
    marks: Short = ""
    """Freckles, beauty marks, tattoos: what makes the skin recognisable."""
    details: Text = ""


class Fashion(_Section):
    style: Annotated[Short, Suggest("fashion_styles")] = ""
    outfit: Text = ""
    lingerie: Annotated[Short, Suggest("lingerie")] = ""
    footwear: Annotated[Short, Suggest("footwear")] = ""
    nails: Annotated[Short, Suggest("nails")] = ""
    accessories: Text = ""


class Personality(_Section):
    traits: Annotated[list[Short], Field(max_length=12), Suggest("personality_traits")] = []
    expression: Short = ""


class LoraSetting(_Section):
    """One LoRA the muse is drawn with, at `weight` (model and CLIP)."""

    name: Annotated[str, Field(min_length=1, max_length=120)]
    weight: Annotated[float, Field(ge=-MAX_LORA_WEIGHT, le=MAX_LORA_WEIGHT)] = 1.0


Side = Annotated[StrictInt, Field(ge=MIN_SIDE, le=MAX_SIDE, multiple_of=8)]


class AiSettings(_Section):
    model: Annotated[Short, Offered("models")] = ""
    loras: Annotated[list[LoraSetting], Field(max_length=MAX_LORAS), Offered("loras")] = []
    """Applied when the muse is used with a checkpoint of the LoRA's family."""
    prompt_template: Annotated[str, Field(max_length=400)] = ""
    """Optional: how `{muse}` (the traits) and `{scene}` are combined, e.g. "{scene}, {muse}"."""
    preset: Literal["low", "medium", "high", "ultra"] = "medium"
    negative_prompt: Text = ""
    seed: Annotated[StrictInt, Field(ge=0, le=2**48)] | None = None
    width: Side | None = None
    """With `height`, the picture size (empty: the quality preset's)."""
    height: Side | None = None
    reference_weight: Annotated[float, Field(ge=0.0, le=1.5)] = 0.8
    reference_preset: Annotated[Short, Offered("reference_presets")] = ""
    """How the look-book guides (an IP-Adapter preset; empty: the studio's default)."""
    nsfw: bool = False

    @model_validator(mode="after")
    def _both_sides(self) -> AiSettings:
        if (self.width is None) != (self.height is None):
            raise ValueError("give both a width and a height, or neither")
        if len({lora.name for lora in self.loras}) != len(self.loras):
            raise ValueError("each LoRA can be used once")
        return self


class MuseProfile(_Section):
    """Everything that describes one character."""

    basic: Basic
    body: Body = Body()
    face: Face = Face()
    eyes: Eyes = Eyes()
    hair: Hair = Hair()
    lips: Lips = Lips()
    nose: Nose = Nose()
    skin: Skin = Skin()
    fashion: Fashion = Fashion()
    personality: Personality = Personality()
    ai: AiSettings = AiSettings()
    notes: Annotated[str, Field(max_length=4000)] = ""

    def text_fields(self) -> dict[str, str]:
        """Every free-text value by dotted name, for content screening."""
        found: dict[str, str] = {}

        def walk(prefix: str, value: Any) -> None:
            if isinstance(value, str) and value:
                found[prefix] = value
            elif isinstance(value, list):
                for index, item in enumerate(value):
                    walk(f"{prefix}[{index}]", item)
            elif isinstance(value, dict):
                for key, item in value.items():
                    walk(f"{prefix}.{key}" if prefix else key, item)

        settings = {"model", "preset", "loras", "reference_preset"}  # names of files and lists
        walk("", self.model_dump(exclude={"ai": settings}))
        return found


def _whole_number_under_18(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value < 18


def validate_profile(data: Mapping[str, Any]) -> MuseProfile:
    """A profile from untrusted data; ValidationFailed names the first bad field."""
    try:
        return MuseProfile.model_validate(dict(data))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "profile"
        if where == "basic.age" and _whole_number_under_18(first.get("input")):
            raise PolicyRefusal(f"basic.age: {MINOR_MESSAGE}", rule="minor_age") from None
        if where == "basic.age":
            raise ValidationFailed(
                "basic.age: every character must be a whole number of years, 18 or older."
            ) from None
        raise ValidationFailed(f"{where}: {first['msg']}") from None
