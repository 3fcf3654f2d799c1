"""What a user's studio shows: their recent jobs and the assets each produced."""

from __future__ import annotations

from sqlmodel import Session, col, select

from core.models import Asset, GenerationJob, JobStatus, MediaKind, ReferenceImage


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
    """The outputs of the user's job, in the order they were stored; [] for anyone else's."""
    return list(
        session.exec(
            select(Asset)
            .where(Asset.job_id == job_id, Asset.owner_id == user_id)
            .order_by(col(Asset.id))
        ).all()
    )


def muse_reference_hashes(session: Session, *, muse_id: int, user_id: int) -> list[str]:
    """The sha256 of the reference images the user attached to their muse."""
    return list(
        session.exec(
            select(ReferenceImage.sha256)
            .where(ReferenceImage.muse_id == muse_id, ReferenceImage.owner_id == user_id)
            .order_by(col(ReferenceImage.id))
        ).all()
    )
