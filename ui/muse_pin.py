""" "Pin to muse" under one of the user's own generated pictures (gallery, Studio result)."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from core.models import Asset, MediaKind, Muse
from core.muses import lookbook, service
from ui import db


def pin_to_muse(
    asset: Asset, *, user_id: int, key: str, muses: Sequence[Muse] | None = None
) -> None:
    """A muse choice and a "Pin to muse" button for the user's own generated still picture
    (nothing for anything else); the outcome is shown in place. `muses` are the user's
    muses when the page has read them already (a list of pictures then reads them once, not
    once a picture); otherwise they are read here."""
    if asset.owner_id != user_id or asset.job_id is None or asset.kind is not MediaKind.IMAGE:
        return
    if muses is None:
        with db.reading() as session:
            muses = service.list_muses(session, owner_id=user_id, limit=200)
    if not muses:
        return
    labels = {f"{m.name} (#{m.id})": m.id or 0 for m in muses}
    ids = list(labels.values())
    first = ids.index(asset.muse_id) if asset.muse_id in ids else 0
    choice = st.selectbox("Muse", list(labels), index=first, key=f"{key}_muse")
    if st.button("Pin to muse", key=f"{key}_pin"):
        if db.attempt(
            lambda session, now: lookbook.pin_picture(
                session, owner_id=user_id, muse_id=labels[choice], asset_id=asset.id or 0, now=now
            )
        ):
            st.success(f"Pinned to {choice.rsplit(' (#', 1)[0]}'s look-book.")
