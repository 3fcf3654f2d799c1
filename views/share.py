"""A shared picture, opened from a share link by anyone who passed the age gate."""

from __future__ import annotations

from datetime import datetime

import streamlit as st
from sqlmodel import Session

from core.errors import NotFound
from core.gallery import moderation, sharing
from ui import db, media, recipe, resources
from ui.auth import current_user
from ui.widgets import md_literal, report_picture

signer = resources.share_signer()

st.title("Shared picture")
token = st.query_params.get("token", "")
try:
    with db.reading() as session:
        asset = sharing.resolve_share(session, token=token, signer=signer)
except NotFound as exc:
    st.error(str(exc))
    st.stop()
media.show(asset)  # an MP4 in the player; a WebP animates in place
st.caption(md_literal(asset.title or "Untitled"))
viewer = current_user()
recipe.made_with(viewer.id if viewer else None, asset, key="share_made")


def send_report(session: Session, now: datetime, reason: str, details: str) -> None:
    try:
        moderation.report_shared(
            session, token=token, signer=signer, reason=reason, details=details, now=now
        )
    except NotFound:
        raise NotFound("This link is not valid any more.") from None


report_picture("share_report", send_report)
