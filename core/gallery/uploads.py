"""Uploads into one's own gallery: pictures (PNG, JPEG, WebP) and MP4 videos, through the
checks every outside file passes.

The same gates as a reference upload (`core.muses.service.attach_reference`): the uploader's
consent statement (an outside file may show a real person, so never explicit), type, size and
decoded size read from the header before decoding, copies of taken-down pictures refused,
metadata stripped (pictures re-encoded to their pixels, MP4s remuxed without their metadata),
then the output screener on the picture or on an MP4's sampled frames, as for a generated
output: an explicit upload is refused. What is stored is private and waits for a moderator
before it can be public (`Screening.PENDING`), like every generated output; an MP4's
thumbnail is its poster frame.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlmodel import Session

from core import audit, safety
from core.accounts.inputs import require_plain
from core.errors import PolicyRefusal, ValidationFailed
from core.gallery import fingerprints, screening, store, takedown
from core.mediatype import MP4, is_video_mime, sniff_mime
from core.models import Asset, BlockedHash, MediaKind
from core.safety import OutputScreener


def upload_to_gallery(
    session: Session,
    *,
    owner_id: int,
    data: bytes,
    title: str,
    consent_given: bool,
    screener: OutputScreener,
    media: store.Media,
    max_image_bytes: int,
    max_video_bytes: int,
    max_pixels: int,
    now: datetime,
) -> Asset:
    """Store an uploaded picture or MP4 as the owner's private asset, pending review.

    Refuses (PolicyRefusal) without the consent statement or when the screener finds the
    picture (or an MP4's sampled frames) explicit; refuses (ValidationFailed, nothing
    stored) another type, a file over its size limit, a frame over `max_pixels` or too large
    to decode, a damaged file, and a copy of a taken-down picture. Audited as `gallery.upload`.
    """
    require_plain({"title": title})
    safety.screen_reference_use(consent_given=consent_given, explicit=False)
    if is_video_mime(sniff_mime(data)):
        prepared = _prepared_video(session, data, max_bytes=max_video_bytes, max_pixels=max_pixels)
    else:
        prepared = _prepared_picture(
            session, data, max_bytes=max_image_bytes, max_pixels=max_pixels
        )
    asset = _screened_and_stored(
        session,
        owner_id=owner_id,
        prepared=prepared,
        title=title,
        screener=screener,
        media=media,
        now=now,
    )
    audit.by_user(
        session,
        owner_id,
        "gallery.upload",
        f"asset:{asset.id}",
        at=now,
        details={"sha256": asset.sha256, "mime": asset.mime},
    )
    return asset


def _prepared_picture(
    session: Session, data: bytes, *, max_bytes: int, max_pixels: int
) -> store.Output:
    """The checks of a reference upload, then the picture re-encoded to its pixels."""
    takedown.refuse_copies(session, data, max_bytes=max_bytes, max_pixels=max_pixels)
    image = store.open_image(data, max_bytes=max_bytes, max_pixels=max_pixels)
    clean = fingerprints.canonical_png(image)  # only pixels survive: no exif, no text
    return store.prepare_output(
        clean, kind=MediaKind.IMAGE, mime="image/png", max_pixels=max_pixels
    )


def _prepared_video(
    session: Session, data: bytes, *, max_bytes: int, max_pixels: int
) -> store.Output:
    """A checked MP4 (size; a damaged file; then the frame size PyAV reads from the header
    before decoding the poster frame), remuxed without its metadata (titles, GPS, camera,
    XMP: only the streams' packets are copied)."""
    store.check_upload_size(data, max_bytes=max_bytes)
    if session.get(BlockedHash, hashlib.sha256(data).hexdigest()) is not None:
        raise ValidationFailed(takedown.BLOCKED_MESSAGE)
    from core import video  # here only: PyAV loads FFmpeg, which a picture upload never needs

    clean = video.mp4_with_metadata(data, {})  # no frame is decoded: the cap comes next
    return store.prepare_output(clean, kind=MediaKind.VIDEO, mime=MP4, max_pixels=max_pixels)


def _screened_and_stored(
    session: Session,
    *,
    owner_id: int,
    prepared: store.Output,
    title: str,
    screener: OutputScreener,
    media: store.Media,
    now: datetime,
) -> Asset:
    """The screener's verdict (a picture, or an MP4's sampled frames), then the stored asset
    with its thumbnail (an MP4's poster frame)."""
    verdict = screening.judge(screener, prepared.data, prepared.mime, image=prepared.image)
    if verdict.verdict == "flagged" and verdict is not screening.SCREENER_FAILED:
        what = "video" if prepared.kind is MediaKind.VIDEO else "picture"
        raise PolicyRefusal(
            f"This {what} looks explicit; uploads into the gallery must not be.",
            rule="upload_explicit",
        )
    asset = store.save_output(
        session,
        media=media,
        owner_id=owner_id,
        job_id=None,
        muse_id=None,
        data=prepared.data,
        kind=prepared.kind,
        mime=prepared.mime,
        title=title.strip(),
        now=now,
        prepared=prepared,
    )
    # a screener that failed holds the upload for review (hidden), as for generated outputs
    screening.record(session, asset=asset, result=verdict, explicit_request=False, now=now)
    return asset
