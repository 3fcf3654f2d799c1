"""The muse form, described from the profile schema: one `FieldSpec` per profile field.

Every field of `MuseProfile` appears exactly once, in schema order, with the widget its type
calls for, its limits and its option list (from the schema's `OneOf` / `Suggest` markers), so
a form built from `form_fields()` writes back every field it read: edit and create round-trip
the whole profile. Pure: no Streamlit here.
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from annotated_types import Ge, Le, MaxLen
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from core.muses.schema import MuseProfile, Offered, OneOf, Suggest, options

Widget = Literal["text", "area", "choice", "suggest", "tags", "number", "slider", "toggle", "loras"]

SECTION_TITLES = {
    "basic": "Basics",
    "body": "Body",
    "face": "Face",
    "eyes": "Eyes",
    "hair": "Hair",
    "lips": "Lips",
    "nose": "Nose",
    "skin": "Skin",
    "fashion": "Style",
    "personality": "Personality",
    "ai": "AI settings",
    "notes": "Notes",
}

LABELS = {
    "basic.age": "Age (18+)",
    "basic.height_cm": "Height (cm)",
    "body.body_type": "Build",
    "body.details": "Body details",
    "face.shape": "Face shape",
    "face.features": "Other face features",
    "eyes.color": "Eye colour",
    "eyes.shape": "Eye shape",
    "eyes.size": "Eye size",
    "hair.color": "Hair colour",
    "hair.length": "Hair length",
    "hair.style": "Hair style",
    "hair.texture": "Hair texture",
    "lips.description": "Lips",
    "nose.description": "Nose",
    "skin.tone": "Skin tone",
    "skin.texture": "Skin texture",
    "skin.marks": "Skin marks (freckles, tattoos)",
    "skin.details": "Skin details",
    "fashion.style": "Fashion style",
    "fashion.outfit": "Signature outfit",
    "personality.traits": "Personality traits",
    "ai.model": "Preferred model",
    "ai.loras": "LoRAs (for models of their family)",
    "ai.width": "Width (empty: the quality's)",
    "ai.height": "Height (empty: the quality's)",
    "ai.reference_preset": "IP-Adapter preset (how the look-book guides)",
    "ai.prompt_template": "Prompt template (use {muse} and {scene})",
    "ai.preset": "Quality",
    "ai.negative_prompt": "Negative prompt",
    "ai.seed": "Fixed seed (empty = random)",
    "ai.reference_weight": "IP-Adapter weight",
    "ai.nsfw": "Explicit mode",
    "notes": "Notes",
}

AREA_FROM_CHARS = 400
"""Text fields this long or longer get a text area."""


@dataclass(frozen=True)
class FieldSpec:
    """One profile field as the form shows it."""

    path: tuple[str, ...]
    """("body", "details"), or ("notes",) for a top-level field."""
    label: str
    widget: Widget
    choices: tuple[str, ...] = ()
    max_chars: int | None = None
    minimum: float | None = None
    maximum: float | None = None
    optional: bool = False
    """The value may be None (an unset number)."""
    max_items: int | None = None
    offered: str | None = None
    """The choices are what the studio offers now under this name (the page passes them)."""

    @property
    def key(self) -> str:
        """The dotted name, e.g. "body.details" (also the widget key's suffix)."""
        return ".".join(self.path)

    @property
    def section(self) -> str:
        """The section the field belongs to ("notes" for the top-level notes)."""
        return self.path[0]


def _flatten(annotation: Any, metadata: list[Any]) -> tuple[Any, list[Any]]:
    """The bare type under `Annotated` layers, and every constraint found on the way."""
    found = list(metadata)
    while get_origin(annotation) is Annotated:
        annotation, *extra = get_args(annotation)
        found += extra
    expanded: list[Any] = []
    for meta in found:
        expanded += meta.metadata if isinstance(meta, FieldInfo) else [meta]
    return annotation, expanded


def _bounds(metadata: list[Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for meta in metadata:
        if isinstance(meta, MaxLen):
            found["max_len"] = meta.max_length
        elif isinstance(meta, Ge):
            found["minimum"] = meta.ge
        elif isinstance(meta, Le):
            found["maximum"] = meta.le
        elif isinstance(meta, OneOf | Suggest | Offered):
            found["marker"] = meta
    return found


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return args[0], len(args) < len(get_args(annotation))
    return annotation, False


def _spec(path: tuple[str, ...], info: FieldInfo) -> FieldSpec:
    annotation, optional = _unwrap_optional(info.annotation)
    annotation, metadata = _flatten(annotation, info.metadata)
    bounds = _bounds(metadata)
    marker = bounds.get("marker")
    label = LABELS.get(".".join(path), path[-1].replace("_", " ").capitalize())
    common: dict[str, Any] = {"path": path, "label": label, "optional": optional}
    origin = get_origin(annotation)
    offered = marker.list_name if isinstance(marker, Offered) else None
    if origin is list and offered is not None:
        return FieldSpec(**common, widget="loras", offered=offered, max_items=bounds.get("max_len"))
    if offered is not None:
        return FieldSpec(**common, widget="choice", offered=offered)
    if origin is list:
        (item,) = get_args(annotation)
        item_max = _bounds(_flatten(item, [])[1]).get("max_len")
        choices = options().get(marker.list_name, ()) if marker else ()
        return FieldSpec(
            **common,
            widget="tags",
            choices=choices,
            max_chars=item_max,
            max_items=bounds.get("max_len"),
        )
    if origin is Literal:
        return FieldSpec(**common, widget="choice", choices=tuple(get_args(annotation)))
    if annotation is bool:
        return FieldSpec(**common, widget="toggle")
    if annotation in (int, float):
        widget: Widget = "slider" if annotation is float else "number"
        return FieldSpec(
            **common, widget=widget, minimum=bounds.get("minimum"), maximum=bounds.get("maximum")
        )
    max_chars = bounds.get("max_len")
    if isinstance(marker, OneOf | Suggest):
        widget = "choice" if isinstance(marker, OneOf) else "suggest"
        choices = options().get(marker.list_name, ())
        return FieldSpec(**common, widget=widget, choices=choices, max_chars=max_chars)
    long_text = max_chars is not None and max_chars >= AREA_FROM_CHARS
    return FieldSpec(**common, widget="area" if long_text else "text", max_chars=max_chars)


@lru_cache(maxsize=1)
def form_fields() -> tuple[FieldSpec, ...]:
    """Every profile field, section by section in schema order (the form's whole layout)."""
    specs: list[FieldSpec] = []
    for name, info in MuseProfile.model_fields.items():
        section = info.annotation
        if isinstance(section, type) and issubclass(section, BaseModel):
            specs += [_spec((name, field), sub) for field, sub in section.model_fields.items()]
        else:
            specs.append(_spec((name,), info))
    return tuple(specs)


def value_at(data: dict[str, Any], spec: FieldSpec) -> Any:
    """The field's value in a profile dump (None when absent)."""
    node: Any = data
    for part in spec.path:
        node = node.get(part) if isinstance(node, dict) else None
    return node


def build_profile(values: dict[str, Any]) -> dict[str, Any]:
    """Raw profile data from form values keyed by `FieldSpec.key` (validate it next).

    Text is stripped; an optional field left empty is None; a tag list drops empty entries,
    a LoRA list the rows without a name."""
    data: dict[str, Any] = {}
    for spec in form_fields():
        value = values.get(spec.key)
        if isinstance(value, str):
            value = value.strip()
        elif spec.widget == "loras":
            value = [dict(row) for row in value or () if str(row.get("name") or "").strip()]
        elif isinstance(value, list):
            value = [str(v).strip() for v in value if str(v).strip()]
        if spec.optional and value in (None, ""):
            value = None
        node = data
        for part in spec.path[:-1]:
            node = node.setdefault(part, {})
        node[spec.path[-1]] = value
    return data
