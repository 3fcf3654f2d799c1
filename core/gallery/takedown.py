"""Takedowns: removal requests anyone may file, the 48-hour clock, and copies kept out.

A taken-down picture is blocked by its fingerprints (core.gallery.fingerprints): the sha256
of its stored bytes, the sha256 of its canonical re-encoding (what any upload of the same
pixels becomes), and its perceptual hash. An upload or a new output is refused if its raw
bytes or its re-encoding match, or its perceptual hash is within a few bits of a blocked one.

TAKE IT DOWN Act: a valid request is resolved within 48 hours (`DEADLINE`), with reasonable
efforts on identical copies: removal hides every stored asset with the same bytes too.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from core import audit
from core.accounts import users
from core.accounts.inputs import require_plain
from core.errors import NotFound, ValidationFailed
from core.gallery import fingerprints, sharing, store
from core.gallery.fingerprints import Fingerprint
from core.gallery.sharing import ShareSigner
from core.models import (
    Asset,
    AuditOutcome,
    BlockedHash,
    TakedownRequest,
    TakedownStatus,
    Visibility,
)

DEADLINE = timedelta(hours=48)
BLOCKED_MESSAGE = "This picture was taken down and cannot be stored or used again."
RELATIONSHIPS = {
    "self": "I am the person shown",
    "representative": "I am authorised to act for the person shown",
}
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[a-z]{2,24}$", re.IGNORECASE)
_ASSET_REF = re.compile(r"(?:asset[=:/#\s]{1,3}|#)(\d{1,12})\b", re.IGNORECASE)
_SHARE_TOKEN = re.compile(r"token=([A-Za-z0-9._~\-]{10,400})")


def fingerprint(
    data: bytes,
    *,
    max_bytes: int,
    max_pixels: int,
    max_decoded_bytes: int | None = store.UPLOAD_DECODED_BYTES,
) -> Fingerprint:
    """The fingerprints of an image file (opened with the upload checks)."""
    image = store.open_image(
        data,
        max_bytes=max_bytes,
        max_pixels=max_pixels,
        allow_animation=True,
        max_decoded_bytes=max_decoded_bytes,
    )
    return fingerprints.of_image(data, image)


def refuse_copies(session: Session, data: bytes, *, max_bytes: int, max_pixels: int) -> None:
    """ValidationFailed with BLOCKED_MESSAGE if `data` is a copy of a taken-down picture."""
    prints = fingerprint(data, max_bytes=max_bytes, max_pixels=max_pixels)
    if fingerprints.is_blocked(session, prints):
        raise ValidationFailed(BLOCKED_MESSAGE)


def block_copies(
    session: Session,
    *,
    asset: Asset,
    media: store.Media,
    reason: str,
    now: datetime,
    report_id: int | None = None,
    takedown_id: int | None = None,
) -> Fingerprint:
    """Block the asset's picture by all its fingerprints, and hide every stored asset with
    the same bytes (identical copies other users hold)."""
    data = store.read(media, asset.sha256)
    prints = fingerprint(
        data,
        max_bytes=len(data) + 1,
        max_pixels=asset.width * asset.height + 1,
        max_decoded_bytes=None,  # a stored picture, already accepted
    )
    for sha in dict.fromkeys((prints.sha256, prints.canonical_sha256)):
        if session.get(BlockedHash, sha) is None:
            session.add(
                BlockedHash(
                    sha256=sha,
                    phash=prints.phash,
                    reason=reason[:200],
                    report_id=report_id,
                    takedown_id=takedown_id,
                    created_at=now,
                )
            )
    copies = session.exec(
        select(Asset).where(col(Asset.sha256).in_([prints.sha256, prints.canonical_sha256]))
    ).all()
    for copy in copies:
        copy.hidden, copy.visibility = True, Visibility.PRIVATE
        session.add(copy)
    session.flush()
    return prints


def _locate(session: Session, location: str, *, signer: ShareSigner) -> Asset | None:
    """The asset a request points at: a share link (token=...) or an asset number (#12)."""
    token = _SHARE_TOKEN.search(location)
    if token is not None:
        try:
            return sharing.resolve_share(session, token=token.group(1), signer=signer)
        except NotFound:
            return None
    number = _ASSET_REF.search(location)
    return session.get(Asset, int(number.group(1))) if number is not None else None


def file_request(
    session: Session,
    *,
    location: str,
    description: str,
    requester_name: str,
    requester_email: str,
    relationship: str,
    signature: str,
    good_faith: bool,
    signer: ShareSigner,
    now: datetime,
) -> TakedownRequest:
    """Record a removal request from anyone; the picture it names is hidden at once.

    The request needs what the TAKE IT DOWN Act asks of one: where the picture is, a way to
    reach the requester, a statement that it was shared without consent, and a signature.
    Only the request id reaches the audit log, never the requester's details."""
    fields = {"where the picture is": location, "your name": requester_name, "signature": signature}
    require_plain({**fields, "email": requester_email, "relationship": relationship})
    require_plain({"description": description}, multiline=True)
    missing = [name for name, value in fields.items() if not value.strip()]
    if missing:
        raise ValidationFailed("Please fill in " + ", ".join(missing) + ".")
    if not _EMAIL.match(requester_email.strip()):
        raise ValidationFailed("Please give an email address we can reply to.")
    if relationship not in RELATIONSHIPS:
        raise ValidationFailed("Please say whether you are the person shown or act for them.")
    if not good_faith:
        raise ValidationFailed("Please confirm the statement that it was shared without consent.")
    asset = _locate(session, location, signer=signer)
    request = TakedownRequest(
        asset_id=asset.id if asset is not None else None,
        location=location.strip()[:500],
        description=description.strip()[:2000],
        requester_name=requester_name.strip()[:120],
        requester_email=requester_email.strip()[:254],
        relationship=relationship,
        signature=signature.strip()[:120],
        created_at=now,
        due_at=now + DEADLINE,
    )
    if asset is not None:
        asset.hidden = True  # hidden at once; a moderator restores it if the request fails
        session.add(asset)
    session.add(request)
    session.flush()
    audit.record(
        session,
        at=now,
        actor="anonymous",
        action="takedown.filed",
        target=f"asset:{asset.id}" if asset is not None else "takedown",
        outcome=AuditOutcome.OK,
        details={"request": request.id},
    )
    return request


def open_requests(session: Session, *, limit: int = 50) -> list[TakedownRequest]:
    """Requests still to resolve, the most urgent first."""
    return list(
        session.exec(
            select(TakedownRequest)
            .where(TakedownRequest.status == TakedownStatus.OPEN)
            .order_by(col(TakedownRequest.due_at), col(TakedownRequest.id))
            .limit(limit)
        ).all()
    )


def time_left(request: TakedownRequest, now: datetime) -> timedelta:
    """What is left of the 48 hours (negative once overdue)."""
    return request.due_at - now


def clock_label(request: TakedownRequest, now: datetime) -> str:
    """The 48-hour clock as moderators read it: "31 h 12 min left", "overdue by 2 h 5 min"."""
    left = time_left(request, now)
    minutes = int(abs(left).total_seconds() // 60)
    text = f"{minutes // 60} h {minutes % 60} min"
    return f"{text} left" if left >= timedelta(0) else f"overdue by {text}"


def resolve_request(
    session: Session,
    *,
    request_id: int,
    moderator_id: int,
    remove: bool,
    note: str,
    media: store.Media,
    now: datetime,
    asset_id: int | None = None,
) -> TakedownRequest:
    """An administrator removes the picture (hidden, private, copies blocked) or rejects the
    request (the picture shown again). `asset_id` names the picture when the request did not."""
    require_plain({"note": note})
    users.require_admin(session, moderator_id, doing="resolve takedown requests")
    request = session.get(TakedownRequest, request_id)
    if request is None or request.status is not TakedownStatus.OPEN:
        raise NotFound("No such open takedown request.")
    asset = session.get(Asset, asset_id or request.asset_id or 0)
    if remove:
        if asset is None:
            raise ValidationFailed("Name the picture to remove (its asset number).")
        asset.hidden, asset.visibility = True, Visibility.PRIVATE
        session.add(asset)
        block_copies(
            session,
            asset=asset,
            media=media,
            reason="takedown request (non-consensual imagery)",
            now=now,
            takedown_id=request.id,
        )
    elif asset is not None and request.asset_id == asset.id:
        asset.hidden = False
        session.add(asset)
    request.asset_id = asset.id if asset is not None else None
    request.status = TakedownStatus.REMOVED if remove else TakedownStatus.REJECTED
    request.resolved_at, request.resolved_by, request.resolution = now, moderator_id, note[:500]
    session.add(request)
    audit.record(
        session,
        at=now,
        actor=f"user:{moderator_id}",
        action="takedown.removed" if remove else "takedown.rejected",
        target=f"asset:{asset.id}" if asset is not None else "takedown",
        outcome=AuditOutcome.OK,
        details={"request": request.id, "on_time": now <= request.due_at},
    )
    return request
