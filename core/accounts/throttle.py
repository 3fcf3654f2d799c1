"""Sign-in lockout: password checks are claimed per typed name, atomically, before they run.

A check is counted when it is claimed, not when it fails, so 100 parallel guesses at one
name get at most `max_failures` checks: the claim is one conditional UPDATE, which SQLite
serialises (BEGIN IMMEDIATE) and PostgreSQL re-evaluates on the row's newest version after
waiting for its lock. A success resets the count; a failure that finds the count full locks
the name for `lockout_s`. Names without an account are throttled by the same rows, so
lockout says nothing about who has an account.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from core.models import LoginThrottle


@dataclass(frozen=True)
class Limits:
    """How many failed checks a name gets before it is locked, and for how long."""

    max_failures: int
    lockout_s: int


def claim(session: Session, *, name: str, now: datetime, limits: Limits) -> datetime | None:
    """Reserve one password check for `name`: None if granted, else until when it is refused.

    A name whose lockout has ended starts counting afresh. A name whose count is full of
    checks still in flight is refused for `lockout_s` too: one of them may yet lock it.
    """
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(
        insert(LoginThrottle)
        .values(name=name, failures=0, locked_until=None, updated_at=now)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    row = col(LoginThrottle.name) == name
    session.execute(
        sa.update(LoginThrottle)
        .where(row, col(LoginThrottle.locked_until) <= now)
        .values(failures=0, locked_until=None)
    )
    granted = session.execute(
        sa.update(LoginThrottle)
        .where(
            row,
            col(LoginThrottle.locked_until).is_(None),
            col(LoginThrottle.failures) < limits.max_failures,
        )
        .values(failures=col(LoginThrottle.failures) + 1, updated_at=now)
    )
    if granted.rowcount == 1:  # type: ignore[attr-defined]
        return None
    locked_until = session.exec(select(LoginThrottle.locked_until).where(row)).one()
    return locked_until or now + timedelta(seconds=limits.lockout_s)


def failed(session: Session, *, name: str, now: datetime, limits: Limits) -> bool:
    """A claimed check failed (it is already counted); True if this failure locked the name."""
    locked = session.execute(
        sa.update(LoginThrottle)
        .where(
            col(LoginThrottle.name) == name,
            col(LoginThrottle.locked_until).is_(None),
            col(LoginThrottle.failures) >= limits.max_failures,
        )
        .values(locked_until=now + timedelta(seconds=limits.lockout_s), failures=0, updated_at=now)
    )
    return bool(locked.rowcount == 1)  # type: ignore[attr-defined]


def clear(session: Session, *, name: str, now: datetime) -> None:
    """Forget the failures and any lockout of `name` (a success, or a new password)."""
    session.execute(
        sa.update(LoginThrottle)
        .where(col(LoginThrottle.name) == name)
        .values(failures=0, locked_until=None, updated_at=now)
    )
