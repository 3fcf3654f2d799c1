"""Reference-image uploads from any page: size, format and consent checks, refusals audited."""

from __future__ import annotations

from core.db import session_scope
from core.models import ReferenceImage
from core.muses import service
from core.refusals import audited_refusals
from ui import resources


def attach(
    *, user_id: int, muse_id: int | None, data: bytes, consent_given: bool, target: str
) -> ReferenceImage:
    """Store an uploaded reference for `user_id` (on a muse, or loose for one generation).

    Raises the CoreError the page shows; a content-policy refusal is audited under `target`.
    """
    settings, engine, clock = resources.settings(), resources.engine(), resources.clock()
    with (
        audited_refusals(engine, actor=f"user:{user_id}", target=target, clock=clock),
        session_scope(engine) as session,
    ):
        return service.attach_reference(
            session,
            owner_id=user_id,
            muse_id=muse_id,
            data=data,
            consent_given=consent_given,
            media_root=settings.media_root,
            max_bytes=settings.max_upload_bytes,
            max_pixels=settings.max_image_pixels,
            now=clock.now(),
        )
