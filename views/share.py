"""A shared picture, opened from a share link by anyone who passed the age gate."""

from __future__ import annotations

import streamlit as st

from core.db import read_scope, session_scope
from core.errors import NotFound
from core.gallery import moderation, sharing, store
from ui import resources

settings = resources.settings()
signer = resources.share_signer()
clock = resources.clock()

st.title("Shared picture")
token = st.query_params.get("token", "")
try:
    with read_scope(resources.engine()) as session:
        asset = sharing.resolve_share(session, token=token, signer=signer)
except NotFound as exc:
    st.error(str(exc))
    st.stop()
# Videos are animated WebP: the browser plays them in place.
st.image(store.read(settings.media_root, asset.sha256), caption=asset.title)

with st.expander("Report this picture"):
    reason = st.selectbox(
        "Reason",
        moderation.REPORT_REASONS,
        key="share_report_reason",
    )
    details = st.text_area("Details (optional)", max_chars=2000, key="share_report_details")
    if st.button("Report", key="share_report_send"):
        try:
            with session_scope(resources.engine()) as session:
                moderation.report_shared(
                    session,
                    token=token,
                    signer=signer,
                    reason=reason,
                    details=details,
                    now=clock.now(),
                )
        except NotFound:
            st.error("This link is not valid any more.")
        else:
            st.success("Reported. The picture is hidden until a moderator reviews it.")
