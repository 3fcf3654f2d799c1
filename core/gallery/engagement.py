"""How people engage with pictures: views (deduplicated), star ratings, and trending scores."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from core.db import read_scope, session_scope
from core.errors import ValidationFailed
from core.gallery.listing import get_asset
from core.models import Asset, AssetView, Rating
from core.models.gallery import bayesian_rating_milli

TRENDING_WINDOW = timedelta(days=7)
# A view weighs 4 within a day, 2 within three days, else 1; a rating 2 per star.
TRENDING_VIEW_WEIGHTS = ((timedelta(days=1), 4), (timedelta(days=3), 2))
TRENDING_POINTS_PER_STAR = 2
VIEW_DEDUPE = timedelta(hours=1)
TRENDING_BATCH_ROWS = 100
"""Scores written per write transaction. A new score is a new row version in every index
of the asset table (16 on PostgreSQL, two of them GIN over the title), ~0.5-1 ms a row at 1M
pictures on a busy 2-core host: 500 a batch took 250-575 ms and a concurrent writer waited
up to ~1 s; 100 keep a batch, and so the wait of a view or rating of one of its pictures
(its row is locked until the batch commits), to tens of milliseconds."""


def record_view(session: Session, *, asset_id: int, viewer_id: int | None, now: datetime) -> bool:
    """Count a view, at most one per viewer per hour; True if counted.

    Only a picture the viewer may see is counted (NotFound otherwise, as for a missing id):
    nobody bumps the count of someone else's private picture.
    """
    get_asset(session, viewer_id=viewer_id, asset_id=asset_id)
    if viewer_id is not None:
        _lock_asset(session, asset_id)  # a twin view (another tab) then finds this one
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


def _lock_asset(session: Session, asset_id: int) -> None:
    """Lock the asset's row (FOR NO KEY UPDATE), which a view or rating updates anyway,
    before reading the viewer's earlier view or rating: the same viewer's simultaneous twin
    waits here and then reads what this one wrote, instead of counting it again."""
    session.exec(select(Asset.id).where(Asset.id == asset_id).with_for_update(key_share=True))


def rate(session: Session, *, asset_id: int, user_id: int, stars: int, now: datetime) -> None:
    """Set the user's 1-5 star rating; the asset's sum, count and top-rated score move with it
    in one UPDATE, so they stay consistent under concurrent ratings and top-rated reorders
    at once."""
    if not 1 <= stars <= 5:
        raise ValidationFailed("Ratings are 1 to 5 stars.")
    get_asset(session, viewer_id=user_id, asset_id=asset_id)
    _lock_asset(session, asset_id)  # a twin rating then finds this one, not a duplicate key
    existing = session.exec(
        select(Rating).where(Rating.asset_id == asset_id, Rating.user_id == user_id)
    ).first()
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


def refresh_trending(engine: sa.Engine, *, now: datetime) -> int:
    """Store every asset's trending score as of `now`; return how many scores changed.

    The score weighs the last 7 days' views (x4 within a day, x2 within three, else x1) and
    ratings (x2 per star), so it decays as attention moves on. The work is bounded by the
    window's activity: it reads the window's views and ratings and the assets now scored
    above zero (both indexed), and writes only the rows whose score changes, including those
    whose activity left the window (back to 0). Run on an interval by the scheduler.

    The reading runs in a read-only transaction, so on SQLite it never holds the write lock;
    the changes are then written in batches of `TRENDING_BATCH_ROWS`, one short write
    transaction each with a pause as long between them, so a writer (a rating, a view, a
    finished job) waits at most one batch and the refresh takes at most half the database's
    write time while it runs. Only `trending_score` is written, set to a value (never added
    to): a view or rating counted meanwhile is kept, and a score written after a newer view
    is corrected by the next run.
    """
    with read_scope(engine) as session:
        changes = _score_changes(session, now)
    for start in range(0, len(changes), TRENDING_BATCH_ROWS):
        began = time.perf_counter()
        with session_scope(engine) as session:
            _write_scores(session, changes[start : start + TRENDING_BATCH_ROWS])
        if start + TRENDING_BATCH_ROWS < len(changes):
            # As long again without the lock: another process's writer (its busy handler
            # polls on SQLite) gets its turn, and PostgreSQL's WAL and disk catch up.
            time.sleep(time.perf_counter() - began)
    return len(changes)


def _score_changes(session: Session, now: datetime) -> list[tuple[int, int]]:
    """(asset id, new score) of every asset whose stored trending score differs from now's."""
    fresh = _trending_scores(session, now)
    scored = session.exec(
        select(col(Asset.id), col(Asset.trending_score)).where(col(Asset.trending_score) > 0)
    ).all()
    stored = {int(asset_id or 0): score for asset_id, score in scored}
    changes = [
        (asset_id, score) for asset_id, score in fresh.items() if stored.get(asset_id) != score
    ]
    changes += [(asset_id, 0) for asset_id in stored.keys() - fresh.keys()]
    return sorted(changes)  # by id: a batch's rows share table pages


def _write_scores(session: Session, scores: list[tuple[int, int]]) -> None:
    """Set each (id, score): on SQLite one prepared UPDATE by rowid per row (executemany),
    on PostgreSQL one UPDATE … FROM (VALUES …) for the batch (one round trip)."""
    if session.get_bind().dialect.name == "sqlite":
        table = sa.table("asset", sa.column("id"), sa.column("trending_score"))
        session.execute(
            sa.update(table)
            .where(table.c.id == sa.bindparam("asset_id"))
            .values(trending_score=sa.bindparam("score")),
            [{"asset_id": asset_id, "score": score} for asset_id, score in scores],
        )
        return
    new = (
        sa.values(sa.column("id", sa.Integer), sa.column("score", sa.Integer), name="new")
        .data(scores)
        .cte("new")
    )
    session.execute(
        sa.update(Asset)
        .where(col(Asset.id) == new.c.id)
        .values(trending_score=new.c.score)
        .execution_options(synchronize_session=False)
    )
