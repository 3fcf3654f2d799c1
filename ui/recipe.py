"""How a picture was made, as the Gallery and Share pages show it, and its Remix button."""

from __future__ import annotations

import streamlit as st

from core.gallery import details
from core.models import Asset
from core.studio import remix
from ui import db, resources, studio_prefill
from ui.widgets import md_literal


def made_with(viewer_id: int | None, asset: Asset, *, key: str) -> None:
    """Model, quality, seed, settings and prompts (plain text) of the visible `asset`, when
    `viewer_id` may see them (its owner, or anyone once the owner allowed it), and a Remix
    button for a signed-in viewer; nothing otherwise."""
    with db.reading() as session:
        made = details.made_with(
            session, viewer_id=viewer_id, asset=asset, presets=resources.presets()
        )
    if made is None:
        return
    with st.expander("How it was made", expanded=True):
        facts = {"Model": made.model, "Quality": made.preset, "Seed": str(made.seed)}
        st.caption(
            " · ".join(
                f"{name}: {md_literal(value)}" for name, value in (facts | made.settings).items()
            )
        )
        st.text_area("Prompt", made.prompt, disabled=True, key=f"{key}_prompt")
        if made.negative_prompt is not None:
            st.text_area("Negative prompt", made.negative_prompt, disabled=True, key=f"{key}_neg")
        if viewer_id is not None and st.button(
            "Remix", key=f"{key}_remix", help="Load its settings into the Studio to change."
        ):
            _remix(viewer_id, asset)


def _remix(viewer_id: int, asset: Asset) -> None:
    """Open the Studio with the picture's settings (what is the owner's alone left out)."""
    loaded = db.attempt_read(
        lambda session: remix.of_asset(session, viewer_id=viewer_id, asset=asset)
    )
    if not loaded:
        return
    studio_prefill.load_remix(
        loaded.value, user_id=viewer_id, presets=resources.presets(), origin=f"picture #{asset.id}"
    )
