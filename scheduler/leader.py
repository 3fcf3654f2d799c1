"""The scheduler's leader lease: one row, renewed each tick, fenced by an epoch.

APScheduler cannot share a job store between processes (its FAQ: "You can't"), so leadership
lives in the database: a process leads while it holds an unexpired `SchedulerLock` row. Each
takeover increments `epoch`; a leader that paused past its TTL finds a newer epoch on its next
renewal and steps down before acting (SECURITY.md, decision 4).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import col

from core.clock import Clock
from core.db import read_scope, session_scope
from core.models import SchedulerLock

log = logging.getLogger(__name__)


@dataclass
class LeaderLease:
    """This process's claim on leadership of `name`."""

    engine: Engine
    clock: Clock
    holder: str
    ttl_s: int
    name: str = "scheduler"
    epoch: int | None = None

    @property
    def is_leader(self) -> bool:
        """Whether the last acquire or renew succeeded."""
        return self.epoch is not None

    def acquire_or_renew(self) -> bool:
        """Take the lease if free or expired, or extend our own; True while we lead.

        Renewal is a conditional UPDATE on (holder, epoch): if anyone took over meanwhile the
        row count is 0 and we step down without acting.
        """
        now = self.clock.now()
        expires = now + timedelta(seconds=self.ttl_s)
        with session_scope(self.engine) as session:
            if self.epoch is not None:
                renewed = session.execute(
                    sa.update(SchedulerLock)
                    .where(
                        col(SchedulerLock.name) == self.name,
                        col(SchedulerLock.holder) == self.holder,
                        col(SchedulerLock.epoch) == self.epoch,
                    )
                    .values(expires_at=expires, renewed_at=now)
                )
                if renewed.rowcount == 1:  # type: ignore[attr-defined]
                    return True
                log.error("leader.lost", extra={"holder": self.holder, "epoch": self.epoch})
                self.epoch = None
                return False
            row = session.get(SchedulerLock, self.name)
            if row is None:
                try:
                    with session.begin_nested():
                        session.add(
                            SchedulerLock(
                                name=self.name,
                                holder=self.holder,
                                epoch=1,
                                expires_at=expires,
                                renewed_at=now,
                            )
                        )
                except sa.exc.IntegrityError:
                    return False  # another process inserted the row first
                self.epoch = 1
            elif row.expires_at <= now:
                seen_epoch = row.epoch
                taken = session.execute(
                    sa.update(SchedulerLock)
                    .where(
                        col(SchedulerLock.name) == self.name,
                        col(SchedulerLock.epoch) == seen_epoch,
                    )
                    .values(
                        holder=self.holder,
                        epoch=seen_epoch + 1,
                        expires_at=expires,
                        renewed_at=now,
                    )
                    .execution_options(synchronize_session=False)
                )
                if taken.rowcount != 1:  # type: ignore[attr-defined]
                    return False
                self.epoch = seen_epoch + 1
            else:
                return False
        log.info("leader.acquired", extra={"holder": self.holder, "epoch": self.epoch})
        return True

    def holds(self) -> bool:
        """Whether the database still shows this process's lease unexpired at our epoch.

        Cheaper than a renewal and writes nothing: the pool manager asks it right before
        each action, so a leader paused mid-tick stops once a successor has taken over.
        """
        if self.epoch is None:
            return False
        with read_scope(self.engine) as session:
            row = session.get(SchedulerLock, self.name)
            return (
                row is not None
                and row.holder == self.holder
                and row.epoch == self.epoch
                and row.expires_at > self.clock.now()
            )

    def step_down(self) -> None:
        """Release the lease at once (clean shutdown), so a standby takes over without waiting."""
        if self.epoch is None:
            return
        with session_scope(self.engine) as session:
            session.execute(
                sa.update(SchedulerLock)
                .where(
                    col(SchedulerLock.name) == self.name,
                    col(SchedulerLock.holder) == self.holder,
                    col(SchedulerLock.epoch) == self.epoch,
                )
                .values(expires_at=self.clock.now())
            )
        log.info("leader.stepped_down", extra={"holder": self.holder, "epoch": self.epoch})
        self.epoch = None
