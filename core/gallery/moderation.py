"""Keeping the gallery clean: reports (hidden at once), the review queue, and admin decisions.

Every report and every decision (restore, remove, take down, approve, feature) is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlmodel import Session, col, select

from core import audit
from core.accounts import users
from core.accounts.inputs import require_plain
from core.errors import NotFound, ValidationFailed
from core.gallery import store, takedown
from core.gallery.listing import get_asset
from core.gallery.sharing import ShareSigner, resolve_share
from core.models import (
    Asset,
    AuditOutcome,
    BlockedHash,
    Report,
    ReportStatus,
    Screening,
    Visibility,
)

Decision = Literal["restore", "remove", "takedown"]
"""What a moderator does with a reported picture."""
REPORT_REASONS = [
    "depicts a minor",
    "non-consensual or real person",
    "illegal content",
    "spam",
    "other",
]


@dataclass(frozen=True)
class ModerationQueue:
    """Open reports with their assets, and outputs waiting for screening."""

    reports: list[tuple[Report, Asset]]
    pending_assets: list[Asset]


def report_asset(
    session: Session,
    *,
    asset_id: int,
    reporter_id: int | None,
    reason: str,
    details: str,
    now: datetime,
) -> Report:
    """File a report: the asset is hidden at once, pending review (audited).

    A signed-in reporter must be able to see the asset (their own, or public), so nobody
    hides someone else's private picture by guessing its id. `reporter_id=None` is for
    trusted callers that checked access another way (a share link, an operator's form).
    """
    require_plain({"reason": reason})
    require_plain({"details": details}, multiline=True)
    asset: Asset | None
    if reporter_id is not None:
        asset = get_asset(session, viewer_id=reporter_id, asset_id=asset_id)
    else:
        asset = session.get(Asset, asset_id)
    if asset is None:
        raise NotFound("No such picture.")
    report = Report(
        asset_id=asset_id,
        reporter_id=reporter_id,
        reason=reason[:64],
        details=details[:2000],
        created_at=now,
    )
    asset.hidden = True
    session.add_all([report, asset])
    session.flush()
    audit.record(
        session,
        at=now,
        actor=f"user:{reporter_id}" if reporter_id else "anonymous",
        action="report.filed",
        target=f"asset:{asset_id}",
        outcome=AuditOutcome.OK,
        details={"reason": report.reason, "report": report.id},
    )
    return report


def report_shared(
    session: Session, *, token: str, signer: ShareSigner, reason: str, details: str, now: datetime
) -> Report:
    """A report from whoever holds a working share link (signed in or not)."""
    asset = resolve_share(session, token=token, signer=signer)
    return report_asset(
        session, asset_id=asset.id or 0, reporter_id=None, reason=reason, details=details, now=now
    )


def moderation_queue(session: Session, *, limit: int = 20, offset: int = 0) -> ModerationQueue:
    """Open reports, oldest first, and assets waiting for screening before public or shared."""
    reports = session.exec(
        select(Report, Asset)
        .join(Asset, col(Asset.id) == col(Report.asset_id))
        .where(Report.status == ReportStatus.OPEN)
        .order_by(col(Report.created_at), col(Report.id))
        .offset(offset)
        .limit(limit)
    ).all()
    pending = session.exec(
        select(Asset)
        .where(
            col(Asset.screening) == Screening.PENDING,
            col(Asset.visibility).in_([Visibility.PUBLIC, Visibility.UNLISTED]),
            col(Asset.hidden).is_(False),
        )
        .order_by(col(Asset.created_at))
        .limit(limit)
    ).all()
    return ModerationQueue([(r, a) for r, a in reports], list(pending))


def resolve_report(
    session: Session,
    *,
    report_id: int,
    moderator_id: int,
    action: Decision,
    now: datetime,
    media: store.Media | None = None,
) -> Report:
    """Restore the asset, remove it, or take it down (removal + copies blocked: by hash only,
    or by every fingerprint when `media` is given). Only an administrator may."""
    users.require_admin(session, moderator_id, doing="resolve reports")
    report = session.get(Report, report_id)
    if report is None or report.status is not ReportStatus.OPEN:
        raise NotFound("No such open report.")
    asset = session.get(Asset, report.asset_id)
    assert asset is not None  # a report's asset is kept while the report is open
    if action == "restore":
        asset.hidden = False
        report.status = ReportStatus.RESTORED
    elif action in ("remove", "takedown"):
        asset.hidden = True
        asset.visibility = Visibility.PRIVATE
        report.status = ReportStatus.DELETED
        if action == "takedown" and media is not None:
            takedown.block_copies(
                session,
                asset=asset,
                media=media,
                reason=report.reason,
                now=now,
                report_id=report.id,
            )
        elif action == "takedown" and session.get(BlockedHash, asset.sha256) is None:
            session.add(
                BlockedHash(
                    sha256=asset.sha256, reason=report.reason, report_id=report.id, created_at=now
                )
            )
    else:
        raise ValidationFailed(f"Unknown moderation action {action!r}.")
    report.resolved_at = now
    report.resolved_by = moderator_id
    session.add_all([report, asset])
    audit.by_user(
        session,
        moderator_id,
        f"moderation.{action}",
        f"asset:{asset.id}",
        at=now,
        details={"report": report.id},
    )
    return report


def set_featured(
    session: Session, *, asset_id: int, featured: bool, moderator_id: int, now: datetime
) -> Asset:
    """An admin features a public asset on the gallery's front row, or stops featuring it."""
    asset = _asset_for_admin(session, moderator_id, asset_id, doing="feature pictures")
    asset.featured = featured
    session.add(asset)
    audit.by_user(
        session,
        moderator_id,
        "gallery.feature" if featured else "gallery.unfeature",
        f"asset:{asset_id}",
        at=now,
    )
    return asset


def approve_asset(session: Session, *, asset_id: int, moderator_id: int, now: datetime) -> Asset:
    """An administrator passes an output's screening, so it may be public."""
    asset = _asset_for_admin(session, moderator_id, asset_id, doing="approve pictures")
    asset.screening = Screening.PASSED
    session.add(asset)
    audit.by_user(session, moderator_id, "moderation.approve", f"asset:{asset_id}", at=now)
    return asset


def _asset_for_admin(session: Session, moderator_id: int, asset_id: int, *, doing: str) -> Asset:
    """The asset an admin acts on: ValidationFailed unless `moderator_id` is an admin (the
    message says what they were `doing`), NotFound if there is no such asset."""
    users.require_admin(session, moderator_id, doing=doing)
    asset = session.get(Asset, asset_id)
    if asset is None:
        raise NotFound("No such picture.")
    return asset
