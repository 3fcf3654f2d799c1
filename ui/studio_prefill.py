"""Filling the Studio's widgets from elsewhere: a muse's AI settings, or a job to remix.

Another page (or a callback) stores the values with `request`; the Studio calls `apply`
before drawing its widgets, so they start from those values and stay editable.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from core.muses.prompt import StudioDefaults

PENDING = "studio_prefill"


def request(values: dict[str, Any]) -> None:
    """Ask the Studio to start from `values` (widget key -> value) on its next run."""
    st.session_state[PENDING] = {**st.session_state.get(PENDING, {}), **values}


def apply() -> None:
    """Put the requested values into the Studio's widgets (once); call before drawing them."""
    for key, value in st.session_state.pop(PENDING, {}).items():
        st.session_state[key] = value


def from_muse(defaults: StudioDefaults) -> dict[str, Any]:
    """The Studio widget values a muse's AI settings give (unset settings leave the form)."""
    values: dict[str, Any] = {
        "studio_preset": defaults.preset,
        "studio_random_seed": defaults.seed is None,
        "studio_nsfw": defaults.explicit,
    }
    if defaults.seed is not None:
        values["studio_seed"] = defaults.seed
    if defaults.model is not None:
        values["studio_model"] = defaults.model
    if defaults.negative_prompt is not None:
        values["studio_negative"] = defaults.negative_prompt
    return values
