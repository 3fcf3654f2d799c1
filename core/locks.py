"""The one lock order for every unit of work that touches balances, jobs and leases.

    1. the user's row          (the balance: `lock_user`)
    2. the job's row(s)        (by id: `lock_job`, `lock_jobs_on_instance`)
    3. the lease, then its GPU instance
    4. the pool's config row   (`leases.note_demand`), last

A unit of work may skip a level but never go back up one: submitting a job (user, then the new
job, then the pool's demand stamp) and closing one (user, job, lease, instance, pool) take
their rows in the same order, so on PostgreSQL they wait for each other instead of deadlocking.
Rows are locked `FOR NO KEY UPDATE`, which does not conflict with the key-share locks that
inserting a row with a foreign key takes. SQLite write transactions hold the database lock
from their first statement (BEGIN IMMEDIATE), so there the order costs nothing. What still
fails for a reason unrelated to the work (a dropped connection) is retried by
`core.db.run_transaction`.
"""

from __future__ import annotations

from typing import TypeVar

from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from core.errors import NotFound
from core.models import GenerationJob, Lease, User

Row = TypeVar("Row")


def lock_user(session: Session, user_id: int) -> None:
    """Lock the user's row (level 1) until the unit of work ends; NotFound if there is none."""
    found = session.exec(
        select(User.id).where(User.id == user_id).with_for_update(key_share=True)
    ).first()
    if found is None:
        raise NotFound("No such user.")


def lock_job(session: Session, job_id: int, *, skip_locked: bool = False) -> GenerationJob | None:
    """Lock the job's owner (level 1), then the job (level 2); the job, freshly read, or None.

    `skip_locked`: on PostgreSQL a job another transaction holds is not waited for (None, as
    if absent): claimers in several processes pass over each other's jobs (SKIP LOCKED).
    """
    return read_after_owner(
        session,
        owner=select(GenerationJob.user_id).where(GenerationJob.id == job_id),
        row=select(GenerationJob)
        .where(GenerationJob.id == job_id)
        .with_for_update(key_share=True, skip_locked=skip_locked),
    )


def read_after_owner(
    session: Session, *, owner: SelectOfScalar[int], row: SelectOfScalar[Row]
) -> Row | None:
    """The first row of `row`, read fresh (not from the session's cache) after the user
    `owner` selects is locked (level 1); None when `owner` finds nobody. A lock `row` takes
    comes second, in the lock order.

    Two statements: the owner is locked (`lock_owner`), then the row is read, after the
    lock."""
    if not lock_owner(session, owner):
        return None
    return session.exec(row.execution_options(populate_existing=True)).first()


def lock_owner(session: Session, owner: SelectOfScalar[int]) -> bool:
    """Lock the user `owner` selects (level 1) in one statement, the owner found by a
    subquery (`owner` selects at most one user); False when it finds nobody."""
    locked = session.exec(
        select(User.id).where(User.id == owner.scalar_subquery()).with_for_update(key_share=True)
    ).first()
    return locked is not None


def lock_jobs_on_instance(session: Session, instance_id: int) -> None:
    """Lock, in order, the owners and then the jobs of every open lease on `instance_id`,
    before the instance row itself is touched (terminating or losing it closes those jobs)."""
    job_ids = session.exec(
        select(Lease.job_id).where(
            Lease.instance_id == instance_id, col(Lease.released_at).is_(None)
        )
    ).all()
    if not job_ids:
        return
    owners = session.exec(
        select(GenerationJob.user_id)
        .where(col(GenerationJob.id).in_(job_ids))
        .distinct()
        .order_by(col(GenerationJob.user_id))
    ).all()
    for owner in owners:
        lock_user(session, owner)
    session.exec(
        select(GenerationJob.id)
        .where(col(GenerationJob.id).in_(job_ids))
        .order_by(col(GenerationJob.id))
        .with_for_update(key_share=True)
    ).all()
