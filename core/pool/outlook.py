"""What a job submitted now meets: a warm GPU, one booting, a cold start, a queue, or no GPU.

`outlook()` is pure: it replays the pool's next minutes from a snapshot (`PoolSnapshot`) the
way the scheduler will serve them. Each up instance is a slot free now (ready) or once its
job ends (busy); each starting one is a slot once its boot ends; while the pool may grow, the
next reconcile tick rents more, free a whole boot later. The jobs ahead take the earliest
slots, each holding its slot for a job's GPU time; the job asked about takes the next. The
kind of slot it gets says what the user meets, and when it frees says how long they wait.

In safe mode nothing is rented and everything is terminated: no wait can be promised.
`snapshot()` reads the snapshot from the database; the estimate and the live job panel both
call it, so they never disagree.
"""

from __future__ import annotations

import heapq
import statistics
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Session, col, select

from core.models import (
    GenerationJob,
    GpuInstance,
    InstanceState,
    JobStatus,
    Lease,
    PoolConfig,
    UsageEvent,
)

BOOT_SAMPLE = 20
"""Recent measured boots whose median is the expected cold start."""


class Meets(StrEnum):
    """What a job submitted now finds."""

    WARM = "warm"
    BOOTING = "booting"
    COLD = "cold"
    QUEUED = "queued"
    SAFE_MODE = "safe_mode"
    DOWNLOADING = "downloading"
    """Every up GPU still fetches a model file the job loads (one added since it started)."""


@dataclass(frozen=True)
class PoolSnapshot:
    """The pool as the scheduler will serve the next jobs: everything `outlook` needs."""

    safe_mode: bool
    safe_mode_reason: str | None
    max_instances: int
    ready: int
    """Up and free instances."""
    busy_left_s: tuple[float, ...]
    """Per busy instance: expected seconds until its job ends (0 when overdue)."""
    booting_left_s: tuple[float, ...]
    """Per requested or booting instance: expected seconds until it is ready (0 when late)."""
    boot_s: float
    """Expected cold boot: the median of the last measured boots, or the default."""
    tick_s: float
    """The reconcile interval: a rental waits for the next tick."""
    queued_ahead: int
    """Jobs that will be served before the one asked about."""


@dataclass(frozen=True)
class Outlook:
    """What the job meets and when it should start; `start_in_s` is None in safe mode."""

    meets: Meets
    start_in_s: float | None
    reason: str

    def wait_s(self, gpu_s: float) -> float | None:
        """Seconds from now until the result: the wait to start plus the job's GPU time."""
        return None if self.start_in_s is None else self.start_in_s + gpu_s


def outlook(pool: PoolSnapshot, *, job_s: float, rent_in_s: float | None = None) -> Outlook:
    """What a job submitted now meets, each job ahead holding a GPU for `job_s` seconds.

    `rent_in_s` is when the next rental happens (default: half a tick, the mean wait for the
    next tick); a panel following a job already queued passes the time left until the tick
    after its submission, so its countdown moves every second instead of freezing.
    """
    if pool.safe_mode:
        reason = pool.safe_mode_reason or "an operator switched it on"
        return Outlook(Meets.SAFE_MODE, None, f"the pool is in safe mode ({reason})")
    rent_s = pool.tick_s / 2 if rent_in_s is None else max(rent_in_s, 0.0)
    slots: list[tuple[float, int, Meets]] = []
    order = 0  # keeps heap order stable among slots free at the same time

    def add(free_in_s: float, meets: Meets) -> None:
        nonlocal order
        heapq.heappush(slots, (free_in_s, order, meets))
        order += 1

    for _ in range(pool.ready):
        add(0.0, Meets.WARM)
    for left in pool.busy_left_s:
        add(left, Meets.QUEUED)
    for left in pool.booting_left_s:
        add(left, Meets.BOOTING)
    live = pool.ready + len(pool.busy_left_s) + len(pool.booting_left_s)
    # The pool grows to cover queued jobs (core.pool.policy.target_size), up to its cap.
    for _ in range(max(0, min(pool.max_instances - live, pool.queued_ahead + 1))):
        add(rent_s + pool.boot_s, Meets.COLD)
    if not slots:
        return Outlook(Meets.QUEUED, None, "the pool may rent no GPU (its cap is 0)")
    for _ahead in range(pool.queued_ahead):
        free_in_s, _order, _meets = heapq.heappop(slots)
        add(free_in_s + job_s, Meets.QUEUED)
    start_s, _order, meets = heapq.heappop(slots)
    return Outlook(meets, start_s, _REASONS[meets].format(ahead=pool.queued_ahead))


_REASONS = {
    Meets.WARM: "a GPU is warm and free",
    Meets.BOOTING: "a GPU is already starting",
    Meets.COLD: "no GPU is up: one has to start first",
    Meets.QUEUED: "{ahead} job(s) ahead, every GPU busy",
    Meets.SAFE_MODE: "",
}


ASSUMED_LINK_MBPS = 500.0
"""The download speed a wait is estimated at when the pool sets no floor (min_inet_down_mbps)."""
UNKNOWN_FILE_BYTES = 2_000_000_000
"""What a file of unknown size is estimated at (a typical SDXL-era model file is 0.2-7 GB)."""
WATCH_S = 10.0
"""How long an instance's start script may take to notice it was asked for a file."""


def waiting_for_downloads(
    session: Session, *, pool: str, needs: Collection[str], sizes_bytes: Mapping[str, int | None]
) -> Outlook | None:
    """When every up GPU of `pool` still fetches a file of `needs` (the job's model files):
    which files (those of the GPU with the least to fetch) and about how long, at the pool's
    download floor (else ASSUMED_LINK_MBPS); None when one up GPU has them all, or none is up.
    The estimate counts each whole file: it is an upper figure, not a countdown."""
    config = session.get(PoolConfig, pool)
    pending = session.exec(
        select(GpuInstance.models_pending).where(
            GpuInstance.pool == pool,
            col(GpuInstance.state).in_((InstanceState.READY, InstanceState.BUSY)),
        )
    ).all()
    waiting = [sorted(set(needs) & set(files)) for files in pending]
    if not waiting or not all(waiting):
        return None

    def size(path: str) -> int:
        return sizes_bytes.get(path) or UNKNOWN_FILE_BYTES

    fewest = min(waiting, key=lambda files: sum(size(path) for path in files))
    link_mbps = float(config.min_inet_down_mbps) if config and config.min_inet_down_mbps else 0
    link_mbps = link_mbps or ASSUMED_LINK_MBPS
    seconds = WATCH_S + sum(size(path) for path in fewest) * 8 / 1e6 / link_mbps

    def shown(path: str) -> str:
        known = sizes_bytes.get(path)
        return (
            f"{path.rpartition('/')[2]} ({f'{known / 1e6:,.0f} MB' if known else 'unknown size'})"
        )

    named = ", ".join(shown(path) for path in fewest)
    return Outlook(
        Meets.DOWNLOADING,
        seconds,
        f"the GPU is downloading the model file this job loads, new since it started: {named}",
    )


def snapshot(
    session: Session,
    *,
    pool: str,
    now: datetime,
    job_s: float,
    tick_s: float,
    default_boot_s: float,
    queued_ahead: int | None = None,
) -> PoolSnapshot:
    """The pool `pool` at `now` as `outlook` needs it; `queued_ahead` defaults to every queued
    job (a job submitted now is served after them)."""
    config = session.get(PoolConfig, pool)
    rows = session.exec(
        select(GpuInstance.id, GpuInstance.state, GpuInstance.created_at).where(
            GpuInstance.pool == pool,
            col(GpuInstance.state).in_(
                (
                    InstanceState.REQUESTED,
                    InstanceState.BOOTING,
                    InstanceState.READY,
                    InstanceState.BUSY,
                )
            ),
        )
    ).all()
    boot_s = expected_boot_s(session, pool=pool, default_s=default_boot_s)
    busy_ids = [row_id or 0 for row_id, state, _ in rows if state is InstanceState.BUSY]
    held_since = dict(
        session.exec(
            select(Lease.instance_id, Lease.acquired_at).where(
                col(Lease.instance_id).in_(busy_ids), col(Lease.released_at).is_(None)
            )
        ).all()
    )
    if queued_ahead is None:
        queued_ahead = int(
            session.exec(
                select(sa.func.count())
                .select_from(GenerationJob)
                .where(GenerationJob.status == JobStatus.QUEUED)
            ).one()
        )
    return PoolSnapshot(
        safe_mode=bool(config and config.safe_mode),
        safe_mode_reason=config.safe_mode_reason if config else None,
        max_instances=config.max_instances if config else 0,
        ready=sum(1 for _, state, _ in rows if state is InstanceState.READY),
        busy_left_s=tuple(
            max(0.0, job_s - (now - held_since.get(row_id, now)).total_seconds())
            for row_id in busy_ids
        ),
        booting_left_s=tuple(
            max(0.0, boot_s - (now - created).total_seconds())
            for _, state, created in rows
            if state in (InstanceState.REQUESTED, InstanceState.BOOTING)
        ),
        boot_s=boot_s,
        tick_s=tick_s,
        queued_ahead=queued_ahead,
    )


def expected_boot_s(session: Session, *, pool: str, default_s: float) -> float:
    """The median of the pool's last `BOOT_SAMPLE` measured boots, or `default_s` before any."""
    boots = session.exec(
        select(UsageEvent.duration_s)
        .where(UsageEvent.pool == pool, UsageEvent.kind == "instance_ready")
        .order_by(col(UsageEvent.at).desc())
        .limit(BOOT_SAMPLE)
    ).all()
    measured = [boot for boot in boots if boot is not None]
    return statistics.median(measured) if measured else default_s
