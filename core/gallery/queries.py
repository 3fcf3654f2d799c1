"""What the gallery pages ask: keyset-paged listings, ratings, views, shares, reports.

A viewer sees their own assets, and other people's only when public, screened as passed and
not hidden. Anything else answers NotFound, the same as an id that does not exist.
Paging is by keyset (sort key, id), never OFFSET, so pages stay fast and stable.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from sqlmodel import Session, col, select

from core import audit
from core.accounts import sessions, users
from core.errors import NotFound, ValidationFailed
from core.gallery import store, takedown
from core.models import (
    Asset,
    AssetTag,
    AssetView,
    AuditOutcome,
    BlockedHash,
    MediaKind,
    Rating,
    Report,
    ReportStatus,
    Screening,
    ShareLink,
    Visibility,
)
from core.models.gallery import bayesian_rating_milli

Sort = Literal["newest", "top_rated", "trending", "most_viewed"]
TRENDING_WINDOW = timedelta(days=7)
# A view weighs 4 within a day, 2 within three days, else 1; a rating 2 per star.
TRENDING_VIEW_WEIGHTS = ((timedelta(days=1), 4), (timedelta(days=3), 2))
TRENDING_POINTS_PER_STAR = 2
VIEW_DEDUPE = timedelta(hours=1)
REPORT_REASONS = [
    "depicts a minor",
    "non-consensual or real person",
    "illegal content",
    "spam",
    "other",
]


@dataclass(frozen=True)
class Page:
    """One page of assets and the cursor of the next (None at the end)."""

    items: list[Asset]
    next_cursor: str | None


@dataclass(frozen=True)
class ModerationQueue:
    """Open reports with their assets, and outputs waiting for screening."""

    reports: list[tuple[Report, Asset]]
    pending_assets: list[Asset]


def _publicly_visible() -> Any:
    return sa.and_(
        col(Asset.visibility) == Visibility.PUBLIC,
        col(Asset.screening) == Screening.PASSED,
        col(Asset.hidden).is_(False),
    )


def _not_flagged() -> Any:
    return col(Asset.screening) != Screening.FLAGGED


def _sort_column(sort: Sort) -> Any:
    """The stored, indexed column a sort orders by (then id, both descending)."""
    columns = {
        "newest": Asset.created_at,
        "top_rated": Asset.rating_score,
        "trending": Asset.trending_score,
        "most_viewed": Asset.view_count,
    }
    return col(columns[sort])


def _encode(sort: Sort, key: Any, asset_id: int) -> str:
    value = key.isoformat() if isinstance(key, datetime) else key
    return base64.urlsafe_b64encode(json.dumps([sort, value, asset_id]).encode()).decode()


def _is_int64(value: object) -> bool:
    return isinstance(value, int) and -(2**63) <= value < 2**63


def _decode(cursor: str, sort: Sort) -> tuple[Any, int]:
    """(sort key, id) of the last row a cursor saw; ValidationFailed if it is not one of ours
    for this sort (garbled, edited, or from another sort)."""
    invalid = ValidationFailed("That page link is not valid any more.")
    try:
        cursor_sort, value, asset_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        key = datetime.fromisoformat(value) if sort == "newest" else value
    except (ValueError, TypeError) as exc:
        raise invalid from exc
    key_ok = key.tzinfo is not None if isinstance(key, datetime) else _is_int64(key)
    if cursor_sort != sort or not key_ok or not _is_int64(asset_id) or asset_id < 0:
        raise invalid
    return key, asset_id


def list_assets(
    session: Session,
    *,
    viewer_id: int | None,
    scope: Literal["mine", "public"] = "public",
    category: str | None = None,
    tag: str | None = None,
    kind: MediaKind | None = None,
    search: str | None = None,
    muse_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    sort: Sort = "newest",
    cursor: str | None = None,
    limit: int = 24,
) -> Page:
    """One page of the gallery, newest/top-rated/trending/most-viewed first, ties by id.

    Each sort reads a stored key (`refresh_trending` keeps trending's; `rate` top-rated's)
    and the cursor holds the last (key, id), so in the public gallery a page at any depth
    reads ranges of the index (visibility, key, id): as fast deep as shallow.
    """
    key = _sort_column(sort)
    query = select(Asset)
    if scope == "mine":  # flagged outputs are held back from their owner until reviewed
        query = query.where(Asset.owner_id == (viewer_id or -1), _not_flagged())
    else:
        query = query.where(_publicly_visible())
    if category:
        query = query.where(Asset.category == category)
    if kind is not None:
        query = query.where(col(Asset.kind) == kind)
    if muse_id is not None:
        query = query.where(Asset.muse_id == muse_id)
    if since is not None:
        query = query.where(col(Asset.created_at) >= since)
    if until is not None:
        query = query.where(col(Asset.created_at) <= until)
    if tag:
        query = query.where(
            sa.exists().where(col(AssetTag.asset_id) == Asset.id, col(AssetTag.tag) == tag)
        )
    if search:
        needle = f"%{search.strip().lower()[:100]}%"
        query = query.where(
            sa.or_(
                sa.func.lower(Asset.title).like(needle),
                sa.exists().where(
                    col(AssetTag.asset_id) == Asset.id, col(AssetTag.tag).like(needle)
                ),
            )
        )
    by_key = query.order_by(key.desc(), col(Asset.id).desc())
    if cursor:
        after, after_id = _decode(cursor, sort)
        rows = _rows_after(session, by_key, key, after, after_id, limit + 1)
    else:
        rows = list(session.exec(by_key.limit(limit + 1)).all())
    items = rows[:limit]
    if len(rows) <= limit:
        return Page(items, None)
    last = items[-1]
    return Page(items, _encode(sort, getattr(last, key.key), last.id or 0))


def _rows_after(
    session: Session, by_key: Any, key: Any, after: Any, after_id: int, count: int
) -> list[Asset]:
    """Up to `count` rows of `by_key` (ordered by key, id descending) after (after, after_id).

    Never `key < a OR (key = a AND id < b)`, which is read from the top of the index. On
    PostgreSQL the row value `(key, id) < (a, b)` is one range of the index (visibility, key,
    id). SQLite (3.40) ranges that row value over `key` only, id being the rowid, then steps
    over every row tied on the key (most trending scores are tied at 0); there it is two
    ranges read in order: the rest of the cursor's key (`key = a AND id < b`), then the
    lower keys (`key < a`).
    """
    if session.get_bind().dialect.name != "sqlite":
        bound = sa.tuple_(sa.literal(after, key.type), sa.literal(after_id, sa.Integer()))
        return list(session.exec(by_key.where(sa.tuple_(key, col(Asset.id)) < bound).limit(count)))
    tied = list(
        session.exec(by_key.where(key == after, col(Asset.id) < after_id).limit(count)).all()
    )
    if len(tied) == count:
        return tied
    lower = session.exec(by_key.where(key < after).limit(count - len(tied))).all()
    return tied + list(lower)


def featured(session: Session, *, limit: int = 4) -> list[Asset]:
    """Assets an admin featured, newest first (public ones only)."""
    return list(
        session.exec(
            select(Asset)
            .where(col(Asset.featured).is_(True), _publicly_visible())
            .order_by(col(Asset.created_at).desc())
            .limit(limit)
        ).all()
    )


def get_asset(session: Session, *, viewer_id: int | None, asset_id: int) -> Asset:
    """The asset if the viewer may see it; NotFound otherwise."""
    asset = session.get(Asset, asset_id)
    if asset is None:
        raise NotFound("No such picture.")
    visible = (
        asset.visibility is Visibility.PUBLIC
        and asset.screening is Screening.PASSED
        and not asset.hidden
    )
    if (asset.owner_id != viewer_id or asset.screening is Screening.FLAGGED) and not visible:
        raise NotFound("No such picture.")
    return asset


def _owned(session: Session, owner_id: int, asset_id: int) -> Asset:
    asset = session.get(Asset, asset_id)
    if asset is None or asset.owner_id != owner_id:
        raise NotFound("No such picture.")
    return asset


def record_view(session: Session, *, asset_id: int, viewer_id: int | None, now: datetime) -> bool:
    """Count a view, at most one per viewer per hour; True if counted."""
    if viewer_id is not None:
        recent = session.exec(
            select(AssetView.id).where(
                AssetView.asset_id == asset_id,
                AssetView.user_id == viewer_id,
                AssetView.at > now - VIEW_DEDUPE,
            )
        ).first()
        if recent is not None:
            return False
    session.add(AssetView(asset_id=asset_id, user_id=viewer_id, at=now))
    session.execute(
        sa.update(Asset).where(col(Asset.id) == asset_id).values(view_count=Asset.view_count + 1)
    )
    return True


def rate(session: Session, *, asset_id: int, user_id: int, stars: int, now: datetime) -> None:
    """Set the user's 1-5 star rating; the asset's sum, count and top-rated score move with it
    in one UPDATE, so they stay consistent under concurrent ratings and top-rated reorders
    at once."""
    if not 1 <= stars <= 5:
        raise ValidationFailed("Ratings are 1 to 5 stars.")
    get_asset(session, viewer_id=user_id, asset_id=asset_id)
    existing = session.get(Rating, (asset_id, user_id))
    if existing is None:
        session.add(Rating(asset_id=asset_id, user_id=user_id, stars=stars, created_at=now))
        added_stars, added_votes = stars, 1
    else:
        added_stars, added_votes = stars - existing.stars, 0
        existing.stars = stars
        session.add(existing)
    rating_sum = col(Asset.rating_sum) + added_stars
    rating_count = col(Asset.rating_count) + added_votes
    session.execute(
        sa.update(Asset)
        .where(col(Asset.id) == asset_id)
        .values(
            rating_sum=rating_sum,
            rating_count=rating_count,
            rating_score=bayesian_rating_milli(rating_sum, rating_count),
        )
    )


def _trending_scores(session: Session, now: datetime) -> dict[int, int]:
    """Each asset with views or ratings in the window before `now`, and its trending score."""
    since = now - TRENDING_WINDOW
    weight = sa.case(
        *((col(AssetView.at) >= now - age, points) for age, points in TRENDING_VIEW_WEIGHTS),
        else_=1,
    )
    views = select(sa.label("asset_id", col(AssetView.asset_id)), sa.label("points", weight)).where(
        col(AssetView.at) >= since
    )
    ratings = select(
        sa.label("asset_id", col(Rating.asset_id)),
        sa.label("points", col(Rating.stars) * TRENDING_POINTS_PER_STAR),
    ).where(col(Rating.created_at) >= since)
    events = sa.union_all(views, ratings).subquery()
    rows = session.execute(
        select(events.c.asset_id, sa.func.sum(events.c.points)).group_by(events.c.asset_id)
    ).all()
    return {int(asset_id): int(score) for asset_id, score in rows}


def refresh_trending(session: Session, *, now: datetime) -> int:
    """Store every asset's trending score as of `now`; return how many scores changed.

    The score weighs the last 7 days' views (x4 within a day, x2 within three, else x1) and
    ratings (x2 per star), so it decays as attention moves on. The work is bounded by the
    window's activity: it reads the window's views and ratings and the assets now scored
    above zero (both indexed), and writes only the rows whose score changes, including those
    whose activity left the window (back to 0). Run on an interval by the scheduler.
    """
    fresh = _trending_scores(session, now)
    scored = session.exec(
        select(col(Asset.id), col(Asset.trending_score)).where(col(Asset.trending_score) > 0)
    ).all()
    stored = {int(asset_id or 0): score for asset_id, score in scored}
    changes = [
        {"id": asset_id, "trending_score": score}
        for asset_id, score in fresh.items()
        if stored.get(asset_id) != score
    ]
    changes += [{"id": asset_id, "trending_score": 0} for asset_id in stored.keys() - fresh.keys()]
    if changes:
        session.execute(sa.update(Asset), changes)
    return len(changes)


def set_visibility(
    session: Session, *, owner_id: int, asset_id: int, visibility: Visibility, now: datetime
) -> Asset:
    """Private, unlisted or public (public shows only once screening passed)."""
    asset = _owned(session, owner_id, asset_id)
    asset.visibility = visibility
    session.add(asset)
    return asset


def set_title_tags(
    session: Session,
    *,
    owner_id: int,
    asset_id: int,
    title: str,
    tags: list[str],
    category: str | None,
) -> Asset:
    """Rename, re-tag and re-categorise the owner's asset (stored literally, never rendered raw)."""
    asset = _owned(session, owner_id, asset_id)
    asset.title = title.strip()[:200]
    asset.category = category
    for old in session.exec(select(AssetTag).where(AssetTag.asset_id == asset_id)).all():
        session.delete(old)
    session.flush()
    for tag in dict.fromkeys(tags):
        session.add(AssetTag(asset_id=asset_id, tag=tag[:64]))
    session.add(asset)
    return asset


def delete_asset(session: Session, *, owner_id: int, asset_id: int, media_root: Path) -> None:
    """Delete the owner's asset and its files when nothing else references them."""
    asset = _owned(session, owner_id, asset_id)
    if session.exec(select(Report.id).where(Report.asset_id == asset_id)).first() is not None:
        raise ValidationFailed("A reported picture is kept for the moderators' records.")
    files = [asset.sha256, asset.thumb_sha256]
    for model in (AssetTag, Rating, AssetView, ShareLink):
        for row in session.exec(select(model).where(model.asset_id == asset_id)).all():
            session.delete(row)
    session.delete(asset)
    session.flush()
    for sha in filter(None, files):
        still_used = session.exec(
            select(Asset.id).where(sa.or_(col(Asset.sha256) == sha, col(Asset.thumb_sha256) == sha))
        ).first()
        if still_used is None:
            store.delete(media_root, sha)


def create_share_link(
    session: Session, *, owner_id: int, asset_id: int, signing_key: str, now: datetime
) -> str:
    """A new signed share token for the owner's asset (only its hash is stored).

    Sharing a private picture makes it unlisted: anyone with a link may see it, nobody finds
    it in the gallery. The link works once screening passed (SECURITY.md: outputs are
    screened before they are shared) and stops working when revoked, hidden or made private.
    """
    asset = _owned(session, owner_id, asset_id)
    if asset.visibility is Visibility.PRIVATE:
        asset.visibility = Visibility.UNLISTED
        session.add(asset)
    token = secrets.token_urlsafe(18)
    session.add(
        ShareLink(
            asset_id=asset_id,
            token_sha256=hashlib.sha256(token.encode()).hexdigest(),
            created_by=owner_id,
            created_at=now,
        )
    )
    return sessions.sign_cookie(token, signing_key)


def resolve_share(session: Session, *, token: str, signing_key: str) -> Asset:
    """The shared asset; NotFound for forged, unknown, revoked, private or hidden links."""
    raw = sessions.read_cookie(token, signing_key)
    if raw is None:  # not signed by us: no database lookup at all
        raise NotFound("This link is not valid.")
    link = session.exec(
        select(ShareLink).where(ShareLink.token_sha256 == hashlib.sha256(raw.encode()).hexdigest())
    ).first()
    if link is None or link.revoked_at is not None:
        raise NotFound("This link is not valid.")
    asset = session.get(Asset, link.asset_id)
    if asset is None or asset.hidden or asset.visibility is Visibility.PRIVATE:
        raise NotFound("This link is not valid.")
    if asset.screening is not Screening.PASSED:
        raise NotFound("This picture is waiting for review; try the link again later.")
    return asset


def revoke_share(session: Session, *, owner_id: int, asset_id: int, now: datetime) -> int:
    """Revoke every share link of the owner's asset; how many."""
    _owned(session, owner_id, asset_id)
    links = session.exec(
        select(ShareLink).where(ShareLink.asset_id == asset_id, col(ShareLink.revoked_at).is_(None))
    ).all()
    for link in links:
        link.revoked_at = now
        session.add(link)
    return len(links)


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
    session: Session, *, token: str, signing_key: str, reason: str, details: str, now: datetime
) -> Report:
    """A report from whoever holds a working share link (signed in or not)."""
    asset = resolve_share(session, token=token, signing_key=signing_key)
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
    action: Literal["restore", "remove", "takedown"],
    now: datetime,
    media_root: Path | None = None,
) -> Report:
    """Restore the asset, remove it, or take it down (removal + copies blocked: by hash only,
    or by every fingerprint when `media_root` is given). Only an administrator may."""
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
        if action == "takedown" and media_root is not None:
            takedown.block_copies(
                session,
                asset=asset,
                media_root=media_root,
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
    audit.record(
        session,
        at=now,
        actor=f"user:{moderator_id}",
        action=f"moderation.{action}",
        target=f"asset:{asset.id}",
        outcome=AuditOutcome.OK,
        details={"report": report.id},
    )
    return report


def set_featured(
    session: Session, *, asset_id: int, featured: bool, moderator_id: int, now: datetime
) -> Asset:
    """An admin features a public asset on the gallery's front row, or stops featuring it."""
    users.require_admin(session, moderator_id, doing="feature pictures")
    asset = session.get(Asset, asset_id)
    if asset is None:
        raise NotFound("No such picture.")
    asset.featured = featured
    session.add(asset)
    audit.record(
        session,
        at=now,
        actor=f"user:{moderator_id}",
        action="gallery.feature" if featured else "gallery.unfeature",
        target=f"asset:{asset_id}",
        outcome=AuditOutcome.OK,
        details={},
    )
    return asset


def approve_asset(session: Session, *, asset_id: int, moderator_id: int, now: datetime) -> Asset:
    """An administrator passes an output's screening, so it may be public."""
    users.require_admin(session, moderator_id, doing="approve pictures")
    asset = session.get(Asset, asset_id)
    if asset is None:
        raise NotFound("No such picture.")
    asset.screening = Screening.PASSED
    session.add(asset)
    audit.record(
        session,
        at=now,
        actor=f"user:{moderator_id}",
        action="moderation.approve",
        target=f"asset:{asset_id}",
        outcome=AuditOutcome.OK,
        details={},
    )
    return asset
