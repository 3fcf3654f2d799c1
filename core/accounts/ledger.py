"""The credit ledger: holds, charges and refunds, each exactly once.

Balances are the SUM of a user's entries, never a stored number that could drift. Every entry
has a unique idempotency key, so a retried or raced call cannot write twice:

- `hold:<job>`    minus the estimate, at submit;
- `release:<job>` plus the hold back, when the job settles *or* is refunded: the shared key
  makes settle and refund mutually exclusive;
- `charge:<job>`  minus what the job really cost (never more than was held);
- `stripe:<checkout>` a purchase, and `stripe-refund:<event>` / `stripe-dispute:<dispute>`
  credits taken back when its payment is refunded or disputed (`core.accounts.payments`).

Only `take_back` may take a balance below zero; a negative balance holds nothing, so it
blocks new jobs until credits are bought or granted.

Callers own the transaction. The user's row is locked (`FOR NO KEY UPDATE` on PostgreSQL;
SQLite write transactions already hold the database lock), so concurrent holds cannot
overdraw. Lock order (`core.locks`, for every use case touching balances, jobs and leases):
the user's row first, then the job, then the lease and its instance, then the pool's row.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from core.errors import InsufficientCredits
from core.locks import lock_owner, lock_user
from core.models import CreditEntry, CreditKind


def balance(session: Session, user_id: int) -> int:
    """The user's credits now (holds already deducted)."""
    total = session.exec(
        select(sa.func.coalesce(sa.func.sum(CreditEntry.credits), 0)).where(
            CreditEntry.user_id == user_id
        )
    ).one()
    return int(total)


def _entry(session: Session, key: str) -> CreditEntry | None:
    return session.exec(select(CreditEntry).where(CreditEntry.idempotency_key == key)).first()


def _add(
    session: Session,
    *,
    user_id: int,
    kind: CreditKind,
    credits: int,
    key: str,
    now: datetime,
    job_id: int | None = None,
    note: str = "",
) -> None:
    session.add(
        CreditEntry(
            user_id=user_id,
            kind=kind,
            credits=credits,
            idempotency_key=key,
            job_id=job_id,
            note=note[:500],
            created_at=now,
        )
    )
    session.flush()


def grant(
    session: Session,
    *,
    user_id: int,
    credits: int,
    key: str,
    note: str,
    now: datetime,
    kind: CreditKind = CreditKind.GRANT,
) -> bool:
    """Add credits once per `key`; False if that key was already used."""
    if credits <= 0:
        raise ValueError("a grant adds a positive number of credits")
    return _book_once(
        session, user_id=user_id, kind=kind, credits=credits, key=key, note=note, now=now
    )


def take_back(
    session: Session,
    *,
    user_id: int,
    credits: int,
    key: str,
    note: str,
    now: datetime,
    kind: CreditKind,
) -> bool:
    """Subtract credits once per `key`, even below zero; False if that key was already used.

    For money that went back to the buyer (a refund, a dispute): the credits it bought leave
    with it whether or not they were spent, or a refunded purchase would be free generation.
    """
    if credits <= 0:
        raise ValueError("taking back removes a positive number of credits")
    return _book_once(
        session, user_id=user_id, kind=kind, credits=-credits, key=key, note=note, now=now
    )


def _book_once(
    session: Session,
    *,
    user_id: int,
    kind: CreditKind,
    credits: int,
    key: str,
    note: str,
    now: datetime,
) -> bool:
    """Book `credits` (signed) under `key` unless that key was booked before; False then.

    The user's row is locked first, so two bookings under one key cannot both pass the check
    (a grant or a take-back counted twice)."""
    lock_user(session, user_id)
    if _entry(session, key) is not None:
        return False
    _add(session, user_id=user_id, kind=kind, credits=credits, key=key, now=now, note=note)
    return True


def hold_for_job(
    session: Session, *, user_id: int, job_id: int, credits: int, now: datetime
) -> None:
    """Set `credits` aside for the job; InsufficientCredits if the balance does not cover it."""
    lock_user(session, user_id)
    if _entry(session, f"hold:{job_id}") is not None:
        return
    available = balance(session, user_id)
    if available < 0:
        raise InsufficientCredits(
            f"Your balance is {available} credits: a payment was refunded or disputed, so the "
            "credits it bought were taken back. Buy credits (or ask the operator) to bring it "
            "above zero before starting new jobs."
        )
    if available < credits:
        raise InsufficientCredits(
            f"This needs {credits} credits and you have {available}. "
            "Choose a lower quality or batch, or buy credits."
        )
    _add(
        session,
        user_id=user_id,
        kind=CreditKind.HOLD,
        credits=-credits,
        key=f"hold:{job_id}",
        now=now,
        job_id=job_id,
        note="held for generation",
    )


def _open_hold(session: Session, job_id: int, *, owner_locked: bool = False) -> CreditEntry | None:
    """The job's hold, under its user's lock, if it was never released (settled or refunded);
    None for a job without a hold or one already released (`_entry_and_its_undoing`)."""
    hold_key, release_key = f"hold:{job_id}", f"release:{job_id}"
    by_key = _entry_and_its_undoing(session, hold_key, release_key, owner_locked=owner_locked)
    if by_key is None or release_key in by_key:
        return None
    return by_key.get(hold_key)


def _entry_and_its_undoing(
    session: Session, key: str, undoing_key: str, *, owner_locked: bool = False
) -> dict[str, CreditEntry] | None:
    """The entries with `key` and `undoing_key`, by key, read under the lock of the user
    whose entry `key` is (None: there is no such entry).

    Two statements: the owner is locked by a subquery on the entry, then both entries are
    read together, after the lock (an undoing another unit of work committed while this one
    waited for the lock is seen). One if the caller holds that lock already
    (`owner_locked`)."""
    if not owner_locked:
        owner = select(CreditEntry.user_id).where(CreditEntry.idempotency_key == key)
        if not lock_owner(session, owner):
            return None
    entries = session.exec(
        select(CreditEntry).where(col(CreditEntry.idempotency_key).in_((key, undoing_key)))
    ).all()
    by_key = {entry.idempotency_key: entry for entry in entries}
    return by_key if key in by_key else None


def settle_job(
    session: Session,
    *,
    job_id: int,
    charged_credits: int,
    now: datetime,
    owner_locked: bool = False,
) -> bool:
    """Release the job's hold and charge what it cost (at most the hold); once. True if done.

    `owner_locked`: this unit of work locked the job's owner already (`core.locks.lock_job`),
    so the hold is read without locking the user again (one statement fewer)."""
    hold = _open_hold(session, job_id, owner_locked=owner_locked)
    if hold is None:
        return False
    held = -hold.credits
    charged = max(0, min(charged_credits, held))
    # One INSERT of both rows (the ORM's flush sends one a row on SQLite); no entry object
    # is needed back.
    entry = {"user_id": hold.user_id, "job_id": job_id, "created_at": now}
    session.execute(
        sa.insert(CreditEntry),
        [
            entry
            | {
                "kind": CreditKind.RELEASE,
                "credits": held,
                "idempotency_key": f"release:{job_id}",
                "note": "hold released",
            },
            entry
            | {
                "kind": CreditKind.CHARGE,
                "credits": -charged,
                "idempotency_key": f"charge:{job_id}",
                "note": "generation",
            },
        ],
    )
    return True


def refund_job(session: Session, *, job_id: int, now: datetime, reason: str) -> bool:
    """Give the job's hold back; once, and never after a settlement. True if refunded now."""
    hold = _open_hold(session, job_id)
    if hold is None:
        return False
    _add(
        session,
        user_id=hold.user_id,
        kind=CreditKind.REFUND,
        credits=-hold.credits,
        key=f"release:{job_id}",
        now=now,
        job_id=job_id,
        note=f"refund: {reason}",
    )
    return True


def refund_charge(session: Session, *, job_id: int, now: datetime, reason: str) -> bool:
    """Give back what a settled job was charged; once. True if refunded now (False: the job
    was never settled, charged nothing, or was refunded already)."""
    charge_key, refund_key = f"charge:{job_id}", f"uncharge:{job_id}"
    by_key = _entry_and_its_undoing(session, charge_key, refund_key)
    if by_key is None:
        return False
    charge = by_key.get(charge_key)
    if refund_key in by_key or charge is None or charge.credits == 0:
        return False
    _add(
        session,
        user_id=charge.user_id,
        kind=CreditKind.REFUND,
        credits=-charge.credits,
        key=refund_key,
        now=now,
        job_id=job_id,
        note=f"refund: {reason}",
    )
    return True


def history(
    session: Session, *, user_id: int, limit: int = 50, before_id: int | None = None
) -> list[CreditEntry]:
    """The user's entries, newest first, keyset-paged by id."""
    query = select(CreditEntry).where(CreditEntry.user_id == user_id)
    if before_id is not None:
        query = query.where(col(CreditEntry.id) < before_id)
    return list(session.exec(query.order_by(col(CreditEntry.id).desc()).limit(limit)).all())
