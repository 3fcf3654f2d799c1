"""What a user's studio shows: their recent jobs and the assets each produced."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.db import read_scope
from core.models import Asset, GenerationJob, JobStatus, MediaKind, Screening


def recent_jobs(
    session: Session,
    *,
    user_id: int,
    limit: int = 20,
    status: JobStatus | None = None,
    kind: MediaKind | None = None,
) -> list[GenerationJob]:
    """The user's newest jobs first, optionally only one status or kind."""
    query = select(GenerationJob).where(GenerationJob.user_id == user_id)
    if status is not None:
        query = query.where(col(GenerationJob.status) == status)
    if kind is not None:
        query = query.where(col(GenerationJob.kind) == kind)
    return list(session.exec(query.order_by(col(GenerationJob.id).desc()).limit(limit)).all())


def job_assets(session: Session, *, job_id: int, user_id: int) -> list[Asset]:
    """The outputs of the user's job, in the order they were stored; [] for anyone else's.

    Outputs the screener flagged are held back until a moderator releases them."""
    return outputs_of_jobs(session, job_ids=[job_id], user_id=user_id)[0].get(job_id, [])


def outputs_of_jobs(
    session: Session, *, job_ids: list[int], user_id: int
) -> tuple[dict[int, list[Asset]], dict[int, int]]:
    """For many of the user's jobs in two reads: each job's visible outputs in stored order
    (as `job_assets`), and how many of its outputs are held for review (as `held_for_review`).
    Jobs with neither are absent from the maps."""
    if not job_ids:
        return {}, {}
    rows = session.exec(
        select(Asset)
        .where(col(Asset.job_id).in_(job_ids), Asset.owner_id == user_id)
        # flagged: held for review; waiting: not checked yet (core.gallery.verdicts)
        .where(col(Asset.screening).not_in((Screening.FLAGGED, Screening.WAITING)))
        .order_by(col(Asset.id))
    ).all()
    visible: dict[int, list[Asset]] = {}
    for asset in rows:
        visible.setdefault(asset.job_id or 0, []).append(asset)
    held = session.exec(
        select(Asset.job_id, sa.func.count())
        .where(
            col(Asset.job_id).in_(job_ids),
            Asset.owner_id == user_id,
            col(Asset.screening) == Screening.FLAGGED,
        )
        .group_by(col(Asset.job_id))
    ).all()
    return visible, {job_id or 0: int(count) for job_id, count in held}


def being_checked(session: Session, *, job_id: int, user_id: int) -> int:
    """How many of the user's job outputs are stored but still waiting for their checks
    (`core.gallery.verdicts`): not shown yet, due within moments."""
    count = session.exec(
        select(sa.func.count())
        .select_from(Asset)
        .where(
            col(Asset.job_id) == job_id,
            Asset.owner_id == user_id,
            col(Asset.screening) == Screening.WAITING,
        )
    ).one()
    return int(count)


def held_for_review(session: Session, *, job_id: int, user_id: int) -> int:
    """How many of the user's job outputs the screener flagged and holds for review."""
    return outputs_of_jobs(session, job_ids=[job_id], user_id=user_id)[1].get(job_id, 0)


OPEN_STATUSES = (JobStatus.QUEUED, JobStatus.LEASED, JobStatus.RUNNING)


def open_jobs(session: Session, *, user_id: int, limit: int = 50) -> list[GenerationJob]:
    """The user's jobs still queued or running, oldest first (the queue view)."""
    return list(
        session.exec(
            select(GenerationJob)
            .where(GenerationJob.user_id == user_id, col(GenerationJob.status).in_(OPEN_STATUSES))
            .order_by(col(GenerationJob.id))
            .limit(limit)
        ).all()
    )


def unfinished_job(session: Session, *, user_id: int) -> GenerationJob | None:
    """The user's newest job still queued or running: what any tab or a reload follows."""
    return session.exec(
        select(GenerationJob)
        .where(
            GenerationJob.user_id == user_id,
            col(GenerationJob.status).in_(OPEN_STATUSES),
        )
        .order_by(col(GenerationJob.id).desc())
        .limit(1)
    ).first()


RECENT_RESULT_S = 600.0
"""How long a finished job stays on the Studio after a reload or in a new tab."""


def current_job(
    session: Session, *, user_id: int, now: datetime, recent_s: float = RECENT_RESULT_S
) -> GenerationJob | None:
    """What the Studio follows without a job in hand (a reload, another tab): the newest
    unfinished job, else the newest one that finished in the last `recent_s` seconds, so a
    result does not vanish with a refresh."""
    unfinished = unfinished_job(session, user_id=user_id)
    if unfinished is not None:
        return unfinished
    return session.exec(
        select(GenerationJob)
        .where(
            GenerationJob.user_id == user_id,
            col(GenerationJob.finished_at) >= now - timedelta(seconds=recent_s),
        )
        .order_by(col(GenerationJob.id).desc())
        .limit(1)
    ).first()


def job_for_user(engine: Engine, *, job_id: int, user_id: int) -> GenerationJob | None:
    """The job if it belongs to `user_id` (the page's polling read)."""
    with read_scope(engine) as session:
        job = session.get(GenerationJob, job_id)
        return job if job is not None and job.user_id == user_id else None


def variations_of(session: Session, *, user_id: int, job_id: int) -> list[GenerationJob]:
    """The user's "more like this" variations of their job `job_id`, in the order made."""
    return list(
        session.exec(
            select(GenerationJob)
            .where(GenerationJob.user_id == user_id, GenerationJob.variation_of == job_id)
            .order_by(col(GenerationJob.id))
        ).all()
    )
