"""The muse form, generated from `core.muses.fields`: one widget per profile field.

Every section is shown open (nothing collapsed hides a refusal), every field the profile has
is read and written back, and a value the option lists no longer hold stays selectable, so
saving an unchanged form never changes the muse.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from core.muses.fields import SECTION_TITLES, FieldSpec, build_profile, form_fields, value_at
from core.muses.schema import Basic, MuseProfile

COLUMNS = 3
WIDE = ("area", "tags")
"""Widgets given the form's whole width, after the section's short fields."""
NEW_PROFILE = MuseProfile(basic=Basic(name="-", age=25)).model_dump()
NEW_PROFILE["basic"]["name"] = ""
"""What a new muse's form starts from (every default; the name is to be written)."""


def _with_current(choices: tuple[str, ...], current: Any, *, blank: bool) -> list[str]:
    values = [*([""] if blank else []), *choices]
    if isinstance(current, str) and current not in values:
        values.append(current)
    return values


def _widget(spec: FieldSpec, current: Any, key: str, choices: tuple[str, ...]) -> Any:
    """The widget for one field, showing `current`; returns what the user left in it."""
    label, wkey = spec.label, f"{key}_{spec.key}"
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
    models: tuple[str, ...],
    submit_label: str,
) -> dict[str, Any] | None:
    """The whole profile as one form (sections in schema order, all open); on submit, the raw
    `{"profile": ..., "tags": [...]}` to validate, else None. `models` are the preferred-model
    choices."""
    current = existing.model_dump() if existing is not None else NEW_PROFILE
    extra_choices = {"ai.model": models}
    values: dict[str, Any] = {}
    with st.form(key):
        for section, specs in _sections().items():
            st.markdown(f"**{SECTION_TITLES.get(section, section.title())}**")
            short = [spec for spec in specs if spec.widget not in WIDE]
            for start in range(0, len(short), COLUMNS):
                row = short[start : start + COLUMNS]
                for spec, column in zip(row, st.columns(COLUMNS), strict=False):
                    with column:
                        choices = extra_choices.get(spec.key, spec.choices)
                        values[spec.key] = _widget(spec, value_at(current, spec), key, choices)
            for spec in (spec for spec in specs if spec.widget in WIDE):
                values[spec.key] = _widget(spec, value_at(current, spec), key, spec.choices)
        tag_text = st.text_input(
            "Tags (comma-separated)", ", ".join(tags), max_chars=400, key=f"{key}_tags"
        )
        if not st.form_submit_button(submit_label, type="primary"):
            return None
    return {
        "profile": build_profile(values),
        "tags": [t.strip() for t in tag_text.split(",") if t.strip()],
    }
