"""How people engage with pictures: views (deduplicated), star ratings, and trending scores."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from core.errors import ValidationFailed
from core.gallery.listing import get_asset
from core.models import Asset, AssetView, Rating
from core.models.gallery import bayesian_rating_milli

TRENDING_WINDOW = timedelta(days=7)
# A view weighs 4 within a day, 2 within three days, else 1; a rating 2 per star.
TRENDING_VIEW_WEIGHTS = ((timedelta(days=1), 4), (timedelta(days=3), 2))
TRENDING_POINTS_PER_STAR = 2
VIEW_DEDUPE = timedelta(hours=1)


def record_view(session: Session, *, asset_id: int, viewer_id: int | None, now: datetime) -> bool:
    """Count a view, at most one per viewer per hour; True if counted.

    Only a picture the viewer may see is counted (NotFound otherwise, as for a missing id):
    nobody bumps the count of someone else's private picture.
    """
    get_asset(session, viewer_id=viewer_id, asset_id=asset_id)
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
