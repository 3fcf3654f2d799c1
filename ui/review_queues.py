"""Moderation sections for content safety: takedown requests with their 48-hour clock, and
outputs the screener flagged. Rendered by views/admin_moderation.py."""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from core.gallery import screening, store, takedown
from ui import db, resources
from ui.media import review_card
from ui.widgets import either


def takedown_requests(*, admin_id: int, media: store.Media) -> None:
    """Open removal requests, most urgent first, each with the time left of its 48 hours."""
    now = resources.clock().now()
    with db.reading() as session:
        requests = takedown.open_requests(session)
    st.subheader(f"Takedown requests ({len(requests)} open)")
    if not requests:
        st.caption("No open takedown requests.")
    for request in requests:
        left = takedown.time_left(request, now)
        with st.container(border=True):
            label = takedown.clock_label(request, now)
            if left < timedelta(0):
                st.error(f"Request #{request.id} · {label}")
            elif left < timedelta(hours=12):
                st.warning(f"Request #{request.id} · {label}")
            else:
                st.info(f"Request #{request.id} · {label}")
            st.text(
                f"Where: {request.location}\n"
                f"From: {request.requester_name} <{request.requester_email}> "
                f"({takedown.RELATIONSHIPS.get(request.relationship, request.relationship)})\n"
                f"Signed: {request.signature}"
            )
            if request.description:
                st.text(request.description)
            asset_id = st.number_input(
                "Picture (asset number)",
                min_value=0,
                value=request.asset_id or 0,
                key=f"tk_asset_{request.id}",
            )
            note = st.text_input("Note", key=f"tk_note_{request.id}", max_chars=500)
            decision = either(
                st.container(),
                "Remove and block copies",
                "Reject (show it again)",
                key=f"tk_decide_{request.id}",
            )
            if decision is not None:
                _resolve_request(
                    request.id or 0,
                    remove=decision,
                    note=note,
                    asset_id=int(asset_id) or None,
                    admin_id=admin_id,
                    media=media,
                )


def _resolve_request(
    request_id: int,
    *,
    remove: bool,
    note: str,
    asset_id: int | None,
    admin_id: int,
    media: store.Media,
) -> None:
    """Decide a takedown request (remove the picture or show it again); a refusal is shown."""
    if db.attempt(
        lambda session, now: takedown.resolve_request(
            session,
            request_id=request_id,
            moderator_id=admin_id,
            remove=remove,
            note=note,
            media=media,
            now=now,
            asset_id=asset_id,
        )
    ):
        st.rerun()


def flagged_outputs(*, admin_id: int, media: store.Media) -> None:
    """Outputs the screener flagged (explicit from a non-explicit request, or unjudged)."""
    with db.reading() as session:
        flagged = screening.flagged_outputs(session)
    if not flagged:
        return
    st.subheader("Held by the output screener")
    for asset in flagged:
        with review_card(asset) as right:
            top = sorted(asset.screen_labels.items(), key=lambda item: -item[1])[:3]
            right.write(f"Asset #{asset.id} · owner #{asset.owner_id} · {asset.screen_model}")
            right.caption(", ".join(f"{label} {score:.2f}" for label, score in top))
            decision = either(right, "Release to its owner", "Remove", key=f"fl_{asset.id}")
            if decision is not None:
                with db.writing() as (session, now):
                    screening.decide_flagged(
                        session,
                        asset_id=asset.id or 0,
                        moderator_id=admin_id,
                        release=decision,
                        now=now,
                    )
                st.rerun()
