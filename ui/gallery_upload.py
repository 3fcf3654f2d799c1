"""The gallery's upload form: pictures and MP4 videos into one's own gallery, through the
reference uploads' checks (core.gallery.uploads); refusals shown and audited."""

from __future__ import annotations

import streamlit as st

from core import safety
from core.gallery import uploads
from core.models import Asset
from ui import db, resources
from ui.references import IMAGE_TYPES

UPLOAD_TYPES = [*IMAGE_TYPES, "mp4"]


def store_upload(*, user_id: int, data: bytes, title: str, consent_given: bool) -> Asset:
    """Store an uploaded picture or MP4 in `user_id`'s gallery (private, pending review).

    Raises the CoreError the page shows; a content-policy refusal is audited."""
    settings = resources.settings()
    return db.written(
        lambda session, now: uploads.upload_to_gallery(
            session,
            owner_id=user_id,
            data=data,
            title=title,
            consent_given=consent_given,
            screener=resources.screener(),
            media=resources.media_store(),
            max_image_bytes=settings.max_upload_bytes,
            max_video_bytes=settings.max_video_upload_bytes,
            max_pixels=settings.max_image_pixels,
            now=now,
        ),
        actor=f"user:{user_id}",
        target="gallery.upload",
    )


def upload_form(*, user_id: int, key: str) -> Asset | None:
    """The form (file, title, the uploader's consent statement, "Upload"): the stored asset
    on the run it was uploaded, else None; a refusal is shown (a policy one audited)."""
    with st.form(key, clear_on_submit=True):
        file = st.file_uploader("Picture or MP4 video", type=UPLOAD_TYPES, key=f"{key}_file")
        title = st.text_input("Title of the upload", max_chars=200, key=f"{key}_title")
        consent = st.checkbox(safety.CONSENT_STATEMENT, key=f"{key}_consent")
        sent = st.form_submit_button("Upload")
    if not sent or file is None:
        return None
    stored = db.shown(
        lambda: store_upload(
            user_id=user_id, data=file.getvalue(), title=title, consent_given=consent
        )
    )
    if not stored:
        return None
    st.success("Uploaded. It stays private until a moderator has reviewed it.")
    return stored.value
