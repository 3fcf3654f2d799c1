"""Moderation: reported pictures and outputs awaiting review, resolved with an audit trail."""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from core.gallery import moderation
from ui import db, media, resources, review_queues
from ui.auth import require_admin

DECISIONS: dict[moderation.Decision, str] = {
    "restore": "Restore (show it again)",
    "remove": "Delete (hidden everywhere; the file is kept as evidence)",
    "takedown": "Take down (delete and block identical copies)",
}

admin = require_admin()
admin_id = admin.id or 0
media_store = resources.media_store()

st.title("Moderation")
st.caption(
    "Reports are hidden at once and must be resolved within 7 business days; non-consensual "
    "imagery within 48 hours. A takedown also blocks identical copies."
)

review_queues.takedown_requests(admin_id=admin_id, media=media_store)
review_queues.flagged_outputs(admin_id=admin_id, media=media_store)

with db.reading() as session:
    queue = moderation.moderation_queue(session, limit=20, offset=0)

if not queue.reports and not queue.pending_assets:
    st.success("Nothing waits for review.")


def _resolve(report_id: int, action: moderation.Decision, *, alerts: DeltaGenerator) -> None:
    """Apply the moderator's decision on a report; a refusal is shown in `alerts`."""
    if db.attempt(
        lambda session, now: moderation.resolve_report(
            session,
            report_id=report_id,
            moderator_id=admin_id,
            action=action,
            now=now,
            media=media_store,
        ),
        alerts=alerts,
    ):
        st.rerun()


for report, asset in queue.reports:
    with media.review_card(asset) as right:
        right.write(
            f"**Report #{report.id}** · {report.reason} · {report.created_at:%Y-%m-%d %H:%M}"
        )
        if report.details:
            right.text(report.details)
        choice = right.radio(  # a radio wraps its long labels; a segmented control clipped them
            "Decision",
            list(DECISIONS),
            format_func=DECISIONS.__getitem__,
            index=None,
            key=f"m_choice_{report.id}",
        )
        if choice and right.button("Apply", key=f"m_apply_{report.id}"):
            _resolve(report.id or 0, choice, alerts=right)

if queue.pending_assets:
    st.subheader("Awaiting screening before they can be public")
    for asset in queue.pending_assets:
        with media.review_card(asset) as right:
            right.write(f"Asset #{asset.id} · owner #{asset.owner_id} · {asset.title}")
            if right.button("Approve", key=f"m_ok_{asset.id}"):
                with db.writing() as (session, now):
                    moderation.approve_asset(
                        session, asset_id=asset.id or 0, moderator_id=admin_id, now=now
                    )
                st.rerun()
