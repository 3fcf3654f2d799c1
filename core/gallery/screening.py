"""What an output screener's verdict does to the asset: recorded, and flagged ones hidden.

Every generated file passes `screen_output` right after it is stored, in the same unit of
work, so no output is ever visible unscreened. The detector's labels are kept on the asset.
An explicit output of a non-explicit request is flagged and hidden (from its owner too)
until a moderator releases or removes it; a screener that fails holds the output the same
way (fail closed). Nothing is ever made public by a detector: `Asset.screening` stays
`pending` until a moderator approves (`moderation.approve_asset`).
"""

from __future__ import annotations

import logging
from datetime import datetime

import sqlalchemy as sa
from PIL import Image
from sqlmodel import Session, col, select

from core import audit
from core.accounts import users
from core.errors import NotFound, ValidationFailed
from core.models import Asset, AuditOutcome, Screening, Visibility
from core.models.gallery import FLAGGED_UNDECIDED
from core.safety import OutputScreener, ScreeningResult

log = logging.getLogger(__name__)

SCREENER_FAILED = ScreeningResult("flagged", "the output screener failed; held for review")


def record(
    session: Session,
    *,
    asset: Asset,
    result: ScreeningResult,
    explicit_request: bool,
    now: datetime,
) -> Asset:
    """Keep the verdict on `asset`; flag and hide it if it is explicit and was not asked to be
    (or could not be judged). Audited when it hides."""
    asset.screen_model = result.model or None
    asset.screen_labels = dict(result.labels)
    asset.screened_at = now
    failed = result is SCREENER_FAILED
    if result.verdict == "flagged" and (failed or not explicit_request):
        asset.screening = Screening.FLAGGED
        asset.hidden = True
    session.add(asset)
    session.flush()
    if asset.screening is Screening.FLAGGED:
        audit.record(
            session,
            at=now,
            actor="screener",
            action="output.flagged",
            target=f"asset:{asset.id}",
            outcome=AuditOutcome.OK,
            details={"reason": result.reason, "model": result.model or "none"},
        )
    return asset


def judge(
    screener: OutputScreener, data: bytes, mime: str, *, image: Image.Image | None = None
) -> ScreeningResult:
    """The screener's verdict on one output (`image`: `data` decoded already, if it is);
    SCREENER_FAILED if it crashed. No database: the job path runs it outside its unit of
    work, and the verdict is `record`ed in the unit of work that stores the asset."""
    try:
        return screener.screen(data, mime, image=image)
    except Exception:  # noqa: BLE001 - a detector's crash must hold the output, not lose the job
        log.exception("screener.failed", extra={"mime": mime})
        return SCREENER_FAILED


def screen_output(
    session: Session,
    *,
    asset: Asset,
    data: bytes,
    explicit_request: bool,
    screener: OutputScreener,
    now: datetime,
    result: ScreeningResult | None = None,
) -> ScreeningResult:
    """Run `screener` on a just-stored output (unless its verdict `result` was reached
    already, by `judge`) and `record` the verdict."""
    if result is None:
        result = judge(screener, data, asset.mime)
    record(session, asset=asset, result=result, explicit_request=explicit_request, now=now)
    log.info(
        "output.screened",
        extra={"asset_id": asset.id, "verdict": result.verdict, "model": result.model},
    )
    return result


def flagged_outputs(session: Session, *, limit: int = 20) -> list[Asset]:
    """Outputs the screener flagged that no moderator has decided on yet, oldest first."""
    return list(
        session.exec(
            select(Asset)
            .where(sa.text(FLAGGED_UNDECIDED))
            .order_by(col(Asset.created_at), col(Asset.id))
            .limit(limit)
        ).all()
    )


def decide_flagged(
    session: Session, *, asset_id: int, moderator_id: int, release: bool, now: datetime
) -> Asset:
    """A moderator releases a flagged output to its owner (still pending review before it can
    be public) or removes it (kept hidden and private as evidence). Admins only; audited."""
    users.require_admin(session, moderator_id, doing="decide on flagged outputs")
    asset = session.get(Asset, asset_id)
    if asset is None or asset.screening is not Screening.FLAGGED:
        raise NotFound("No such flagged picture.")
    if asset.flag_decided_at is not None:
        raise ValidationFailed("This picture was already decided on.")
    asset.flag_decided_at = now
    if release:
        asset.screening, asset.hidden = Screening.PENDING, False
    else:
        asset.visibility = Visibility.PRIVATE
    session.add(asset)
    audit.by_user(
        session,
        moderator_id,
        "moderation.release_output" if release else "moderation.remove_output",
        f"asset:{asset_id}",
        at=now,
    )
    return asset
