"""Reference-image uploads from any page: size, format and consent checks, refusals audited."""

from __future__ import annotations

import streamlit as st

from core import safety
from core.models import ReferenceImage
from core.muses import service
from ui import db, resources

IMAGE_TYPES = ["png", "jpg", "jpeg", "webp"]


def attach(
    *, user_id: int, muse_id: int | None, data: bytes, consent_given: bool, target: str
) -> ReferenceImage:
    """Store an uploaded reference for `user_id` (on a muse, or loose for one generation).

    Raises the CoreError the page shows; a content-policy refusal is audited under `target`.
    """
    settings = resources.settings()
    return db.written(
        lambda session, now: service.attach_reference(
            session,
            owner_id=user_id,
            muse_id=muse_id,
            data=data,
            consent_given=consent_given,
            media=resources.media_store(),
            max_bytes=settings.max_upload_bytes,
            max_pixels=settings.max_image_pixels,
            now=now,
        ),
        actor=f"user:{user_id}",
        target=target,
    )


def upload_reference(
    *, user_id: int, muse_id: int | None, target: str, key: str
) -> ReferenceImage | None:
    """The upload form (picture, the uploader's consent statement, "Add reference"): the
    stored reference on the run it was added, else None; a refusal is shown (and audited)."""
    with st.form(key):
        picture = st.file_uploader(
            "Reference image (IP-Adapter)", type=IMAGE_TYPES, key=f"{key}_file"
        )
        consent = st.checkbox(safety.CONSENT_STATEMENT, key=f"{key}_consent")
        added = st.form_submit_button("Add reference")
    if not added or picture is None:
        return None
    added_reference = db.shown(
        lambda: attach(
            user_id=user_id,
            muse_id=muse_id,
            data=picture.getvalue(),
            consent_given=consent,
            target=target,
        )
    )
    return added_reference.value if added_reference else None
