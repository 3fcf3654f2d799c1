"""The muse form, generated from `core.muses.fields`: one widget per profile field.

Every section is shown open (nothing collapsed hides a refusal), every field the profile has
is read and written back, and a value the option lists no longer hold stays selectable, so
saving an unchanged form never changes the muse.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

from core.comfy.presets import Presets
from core.comfy.tools import MAX_LORA_WEIGHT
from core.muses.fields import SECTION_TITLES, FieldSpec, build_profile, form_fields, value_at
from core.muses.schema import Basic, MuseProfile

COLUMNS = 3
WIDE = ("area", "tags", "loras")
"""Widgets given the form's whole width, after the section's short fields."""
NEW_PROFILE = MuseProfile(basic=Basic(name="-", age=25)).model_dump()
NEW_PROFILE["basic"]["name"] = ""
"""What a new muse's form starts from (every default; the name is to be written)."""


def offered_choices(presets: Presets) -> dict[str, tuple[str, ...]]:
    """What the studio offers now, by the schema's `Offered` list names."""
    return {
        "models": tuple(presets.models("image")),
        "loras": tuple(lora.name for lora in presets.catalogue.loras()),
        "reference_presets": tuple(presets.reference_preset_names()),
    }


def _with_current(choices: tuple[str, ...], current: Any, *, blank: bool) -> list[str]:
    values = [*([""] if blank else []), *choices]
    if isinstance(current, str) and current not in values:
        values.append(current)
    return values


def _widget(spec: FieldSpec, current: Any, key: str, choices: tuple[str, ...]) -> Any:
    """The widget for one field, showing `current`; returns what the user left in it."""
    label, wkey = spec.label, f"{key}_{spec.key}"
    if spec.widget == "loras":
        return _lora_rows(spec, list(current or []), wkey, choices)
    if spec.widget in ("choice", "suggest"):
        values = _with_current(choices, current, blank=spec.key != "ai.preset")
        return st.selectbox(
            label,
            values,
            index=values.index(current) if current in values else 0,
            key=wkey,
            accept_new_options=spec.widget == "suggest",
        )
    if spec.widget == "tags":
        items = list(current or [])
        return st.multiselect(
            label,
            [*dict.fromkeys([*choices, *items])],
            default=items,
            key=wkey,
            accept_new_options=True,
            max_selections=spec.max_items,
        )
    if spec.widget == "number":
        return st.number_input(
            label,
            min_value=int(spec.minimum) if spec.minimum is not None else None,
            max_value=int(spec.maximum) if spec.maximum is not None else None,
            value=current,
            step=1,
            key=wkey,
        )
    if spec.widget == "slider":
        low, high = float(spec.minimum or 0.0), float(spec.maximum or 1.0)
        return st.slider(label, low, high, float(current), step=0.05, key=wkey)
    if spec.widget == "toggle":
        return st.toggle(label, bool(current), key=wkey)
    if spec.widget == "area":
        return st.text_area(label, current or "", max_chars=spec.max_chars, key=wkey, height=80)
    return st.text_input(label, current or "", max_chars=spec.max_chars, key=wkey)


def _lora_rows(
    spec: FieldSpec, current: list[dict[str, Any]], key: str, choices: tuple[str, ...]
) -> list[dict[str, Any]]:
    """One (LoRA, weight) row per allowed LoRA; a row left on "" is no LoRA."""
    st.caption(spec.label)
    rows = []
    for index in range(spec.max_items or 1):
        saved = current[index] if index < len(current) else {}
        saved_name, saved_weight = str(saved.get("name") or ""), float(saved.get("weight", 1.0))
        names = _with_current(choices, saved_name, blank=True)
        name_col, weight_col = st.columns([3, 1])
        name = name_col.selectbox(
            f"LoRA {index + 1}", names, index=names.index(saved_name), key=f"{key}_{index}"
        )
        weight = weight_col.number_input(
            f"Weight {index + 1}",
            -MAX_LORA_WEIGHT,
            MAX_LORA_WEIGHT,
            saved_weight,
            0.05,
            key=f"{key}_{index}_weight",
        )
        rows.append({"name": name, "weight": float(weight)})
    return rows


def _sections() -> dict[str, list[FieldSpec]]:
    grouped: dict[str, list[FieldSpec]] = {}
    for spec in form_fields():
        grouped.setdefault(spec.section, []).append(spec)
    return grouped


def profile_form(
    existing: MuseProfile | None,
    tags: list[str],
    *,
    key: str,
    offered: Mapping[str, tuple[str, ...]],
    submit_label: str,
) -> dict[str, Any] | None:
    """The whole profile as one form (sections in schema order, all open); on submit, the raw
    `{"profile": ..., "tags": [...]}` to validate, else None. `offered` are the studio's
    current choices by list name (`offered_choices`): models, LoRAs, IP-Adapter presets."""
    current = existing.model_dump() if existing is not None else NEW_PROFILE
    values: dict[str, Any] = {}

    def choices(spec: FieldSpec) -> tuple[str, ...]:
        return tuple(offered.get(spec.offered, ())) if spec.offered else spec.choices

    with st.form(key):
        for section, specs in _sections().items():
            st.markdown(f"**{SECTION_TITLES.get(section, section.title())}**")
            short = [spec for spec in specs if spec.widget not in WIDE]
            for start in range(0, len(short), COLUMNS):
                row = short[start : start + COLUMNS]
                for spec, column in zip(row, st.columns(COLUMNS), strict=False):
                    with column:
                        values[spec.key] = _widget(
                            spec, value_at(current, spec), key, choices(spec)
                        )
            for spec in (spec for spec in specs if spec.widget in WIDE):
                values[spec.key] = _widget(spec, value_at(current, spec), key, choices(spec))
        tag_text = st.text_input(
            "Tags (comma-separated)", ", ".join(tags), max_chars=400, key=f"{key}_tags"
        )
        if not st.form_submit_button(submit_label, type="primary"):
            return None
    return {
        "profile": build_profile(values),
        "tags": [t.strip() for t in tag_text.split(",") if t.strip()],
    }
