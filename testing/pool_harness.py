"""A pool manager wired to the Vast simulator on a shared fake clock, plus leak checks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.clock import FakeClock
from core.db import read_scope, run_transaction, session_scope
from core.models import LIVE_INSTANCE_STATES, GpuInstance, InstanceState, PoolConfig
from core.pool.manager import PoolManager, TickReport
from core.pool.provider import LaunchSpec
from core.pool.vast import VastClient, VastProvider
from testing.db_faults import DatabaseFaults
from testing.sims import SIM_KEY, VastSim

T = TypeVar("T")


@dataclass
class RecordingHooks:
    """Job outcomes the manager reports, for assertions (the real ones live in core.studio)."""

    requeued: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)

    def requeue_or_fail(self, session: Session, *, job_id: int, reason: str, now: datetime) -> None:
        self.requeued.append(job_id)

    def fail(self, session: Session, *, job_id: int, reason: str, now: datetime) -> None:
        self.failed.append(job_id)


@dataclass
class PoolHarness:
    """Drives reconcile ticks with the sim's clock moving in step with ours."""

    engine: Engine
    sim: VastSim
    clock: FakeClock
    healthy: set[str] = field(default_factory=lambda: {"*"})
    hooks: Any = field(default_factory=RecordingHooks)
    queued: int = 0
    queued_jobs: Callable[[Session], int] | None = None

    def __post_init__(self) -> None:
        self.client = VastClient(
            base_url=self.sim.url, api_key=SIM_KEY, sleep=lambda _s: None, timeout_s=2
        )
        self.manager = self.new_manager()

    def new_manager(self) -> PoolManager:
        """A fresh manager, as after a scheduler restart (no state but the database)."""
        return PoolManager(
            self.engine,
            VastProvider(self.client),
            self.clock,
            pool="default",
            health_check=self.health,
            job_hooks=self.hooks,
            launch=lambda config, _nonce: LaunchSpec(image=config.image, disk_gb=config.disk_gb),
            queued_jobs=self.queued_jobs or (lambda _session: self.queued),
        )

    def health(self, url: str) -> str | None:
        return None if "*" in self.healthy or url in self.healthy else "ComfyUI not answering"

    def tick(self, seconds: float = 30) -> TickReport:
        """Let `seconds` pass on both clocks, then reconcile once; a tick that a database
        fault broke off is reported as an error, as the scheduler logs it and ticks again."""
        self.clock.advance(seconds)
        self.sim.advance(seconds)
        try:
            return self.manager.reconcile()
        except sa.exc.DBAPIError as exc:
            return TickReport(errors=[f"database: {type(exc).__name__}"])

    def run(self, work: Callable[[Session], T], name: str) -> T | None:
        """`work` in a retried unit of work (`run_transaction`); None if it still failed."""
        try:
            return run_transaction(self.engine, work, name=name, sleep=lambda _s: None)
        except sa.exc.DBAPIError:
            return None

    def configure(self, **values: object) -> None:
        with session_scope(self.engine) as session:
            config = session.get(PoolConfig, "default")
            for name, value in values.items():
                setattr(config, name, value)
            session.add(config)

    def rows(self, *states: InstanceState) -> list[GpuInstance]:
        with read_scope(self.engine) as session:
            query = select(GpuInstance).order_by(col(GpuInstance.id))
            if states:
                query = query.where(col(GpuInstance.state).in_(states))
            return list(session.exec(query).all())

    def leaked(self) -> list[dict[str, Any]]:
        """Instances alive at the provider that no live row accounts for, and stopped ones no
        row is destroying (a stopped instance bills its disk until someone does)."""
        live_labels = {row.label for row in self.rows(*LIVE_INSTANCE_STATES)}
        leaving = {row.label for row in self.rows(InstanceState.TERMINATING)}
        return [
            inst
            for inst in self.sim.alive()
            if inst["label"] not in live_labels
            or (inst["status"] == "stopped" and inst["label"] not in leaving)
        ]

    def ghosts(self) -> list[GpuInstance]:
        """Live rows (past `requested`) whose instance is gone at the provider."""
        alive = {inst["label"] for inst in self.sim.alive()}
        return [
            row
            for row in self.rows(*(LIVE_INSTANCE_STATES - {InstanceState.REQUESTED}))
            if row.label not in alive
        ]

    def close(self) -> None:
        self.client.close()


FAULT_MENU = (
    {"rate_limit_p": 0.5},
    {"server_error_p": 0.5},
    {"list_outage": True},
    {"list_lag_s": 60.0},
    {"create_then_fail": "502"},
    {"destroy_fail_times": 3},
    {"destroy_linger_s": 60.0},
    {"stuck_loading": True},
)
CALM = {
    "rate_limit_p": 0.0,
    "server_error_p": 0.0,
    "list_outage": False,
    "list_lag_s": 0.0,
    "create_then_fail": None,
    "destroy_fail_times": 0,
    "destroy_linger_s": 0.0,
    "stuck_loading": False,
}


@dataclass
class CampaignResult:
    """What one seeded run ended with."""

    seed: int
    steps: int
    leaked: int
    ghosts: int
    duplicate_labels: int
    max_alive: int
    converge_ticks: int
    jobs: int = 0
    jobs_lost: int = 0
    double_settlements: int = 0
    ledger_drift: int = 0
    stranded: int = 0
    db_faults: int = 0


STRANDED_TICKS = 2
"""Ticks a job may hold an open lease with no live worker before it counts as stranded."""


class JobLoad:
    """Jobs through the real studio code paths: holds, fair dispatch, settle or refund.

    Generations are simulated by time (the ComfyUI side has its own tests). A worker that
    "dies" never finishes; a close broken off by a database fault is tried again at the next
    step and given up after STRANDED_TICKS; either way orphan recovery, every tick, must take
    the job and its lease back within STRANDED_TICKS ticks.
    """

    def __init__(self, harness: PoolHarness, rng: Any) -> None:
        from core.accounts import ledger
        from core.studio import outcomes, queue
        from testing.factories import make_user

        self.harness, self.rng, self.ledger, self.queue = harness, rng, ledger, queue
        self.outcomes = outcomes
        self.user = make_user(harness.engine)
        with session_scope(harness.engine) as session:
            ledger.grant(
                session,
                user_id=self.user.id or 0,
                credits=1_000_000,
                key="campaign",
                note="campaign",
                now=harness.clock.now(),
            )
        self.running: list[tuple[int, int, datetime]] = []
        self.failed_closes: dict[int, int] = {}  # job -> steps its close has failed
        self.submitted: list[int] = []
        self.orphan_ticks: dict[int, int] = {}
        self.stranded: set[int] = set()
        harness.hooks = outcomes.OUTCOMES
        harness.queued_jobs = queue.count_queued
        harness.manager = harness.new_manager()

    def submit(self) -> None:
        from core import locks
        from core.models import GenerationJob

        now = self.harness.clock.now()
        user_id = self.user.id or 0

        def queue_job(session: Session) -> int:
            # As `core.studio.submit` does (composing has its own tests): the user, then the job.
            locks.lock_user(session, user_id)
            job = GenerationJob(
                user_id=user_id, prompt="campaign", model="sdxl-base", preset="low", seed=1
            )
            session.add(job)
            session.flush()
            self.ledger.hold_for_job(
                session, user_id=user_id, job_id=job.id or 0, credits=10, now=now
            )
            return job.id or 0

        job_id = self.harness.run(queue_job, "campaign.submit")
        if job_id is not None:  # else the visitor saw an error and nothing was written
            self.submitted.append(job_id)

    def _close(self, job_id: int, lease_id: int) -> bool:
        """The runner's success path, in the lock order; False if it could not be written."""
        from core import locks
        from core.models import JobStatus
        from core.pool import leases

        now = self.harness.clock.now()

        def settle(session: Session) -> bool:
            job = locks.lock_job(session, job_id)
            if not leases.release(session, lease_id=lease_id, now=now, outcome="succeeded"):
                return True
            if job is not None and job.status is JobStatus.LEASED:
                self.ledger.settle_job(session, job_id=job_id, charged_credits=4, now=now)
                job.status, job.finished_at = JobStatus.SUCCEEDED, now
                session.add(job)
            return True

        return self.harness.run(settle, "campaign.close") is not None

    def dispatch_and_finish(self) -> None:
        now = self.harness.clock.now()
        for job_id, lease_id, finish in list(self.running):
            if finish > now:
                continue
            if self.rng.random() < 0.03:
                # The scheduler is killed mid-close: the transaction never commits.
                self.running.remove((job_id, lease_id, finish))
                self.harness.manager = self.harness.new_manager()
                continue
            if self._close(job_id, lease_id):
                self.running.remove((job_id, lease_id, finish))
                self.failed_closes.pop(job_id, None)
                continue
            self.failed_closes[job_id] = self.failed_closes.get(job_id, 0) + 1
            if self.failed_closes[job_id] >= STRANDED_TICKS:
                self.running.remove((job_id, lease_id, finish))  # given up: recovery's now
        while True:
            claimed = self.harness.run(
                lambda session: self.queue.claim_next(session, pool="default", now=now),
                "campaign.claim",
            )
            if claimed is None:
                return
            job_id, claim = claimed
            if self.rng.random() < 0.05:
                continue  # the worker died: only orphan recovery can take this job back
            duration = timedelta(seconds=self.rng.choice([20, 60, 200]))
            self.running.append((job_id, claim.lease_id, now + duration))

    def recover(self) -> None:
        """What the scheduler does every tick: recover the jobs no live worker runs."""
        alive = {job_id for job_id, _lease, _finish in self.running}
        try:
            self.outcomes.recover_orphaned_jobs(
                self.harness.engine, is_running=alive.__contains__, clock=self.harness.clock
            )
        except sa.exc.DBAPIError:
            pass  # logged by the scheduler; the next tick sweeps again

    def note_stranded(self) -> None:
        """Count, per job, the ticks it has held an open lease with no live worker."""
        from core.models import Lease

        alive = {job_id for job_id, _lease, _finish in self.running}
        with read_scope(self.harness.engine) as session:
            leased = set(
                session.exec(select(Lease.job_id).where(col(Lease.released_at).is_(None))).all()
            )
        orphans = leased - alive
        self.orphan_ticks = {job: self.orphan_ticks.get(job, 0) + 1 for job in orphans}
        self.stranded |= {job for job, ticks in self.orphan_ticks.items() if ticks > STRANDED_TICKS}

    def audit(self) -> tuple[int, int, int]:
        """(jobs not finished, jobs whose hold closed twice or never, credits unaccounted)."""
        from core.models import CreditEntry, GenerationJob, JobStatus

        with read_scope(self.harness.engine) as session:
            rows = session.exec(select(GenerationJob)).all()
            entries = session.exec(select(CreditEntry)).all()
            balance = self.ledger.balance(session, self.user.id or 0)
        done = {JobStatus.SUCCEEDED, JobStatus.FAILED}
        lost = sum(1 for job in rows if job.status not in done)
        closes = [e.idempotency_key for e in entries if e.idempotency_key.startswith("release:")]
        double = (
            len(closes)
            - len(set(closes))
            + sum(1 for job in rows if job.status in done and f"release:{job.id}" not in closes)
        )
        charged = sum(-e.credits for e in entries if e.kind.value == "charge")
        return lost, double, 1_000_000 - charged - balance


def run_campaign(
    harness: PoolHarness,
    seed: int,
    *,
    steps: int = 40,
    with_jobs: bool = False,
    db_faults: bool = False,
) -> CampaignResult:
    """Random faults, demand, operator actions and restarts; then calm and converge.

    Returns the leak figures after convergence: every alive labelled instance must belong to
    a live row, and no two alive instances may share a label (a double rental). With
    `db_faults`, a step in five also suffers a database fault (`DatabaseFaults`).
    """
    import random

    rng = random.Random(seed)
    harness.configure(max_instances=3, desired_size=1)
    load = JobLoad(harness, rng) if with_jobs else None
    faults = DatabaseFaults(harness.engine, rng)
    max_alive = 0
    for _ in range(steps):
        if db_faults and rng.random() < 0.2:
            faults.start(rng.choice(DatabaseFaults.KINDS))
        if load is not None:
            if rng.random() < 0.4:
                load.submit()
            load.dispatch_and_finish()
        move = rng.random()
        if move < 0.25:
            harness.sim.faults(**rng.choice(FAULT_MENU))
        elif move < 0.35:
            harness.sim.faults(**CALM)
        elif move < 0.45:
            harness.configure(
                prewarm_until=harness.clock.now() + timedelta(minutes=rng.randint(1, 60))
            )
        elif move < 0.5:
            harness.configure(desired_size=rng.randint(0, 3))
        elif move < 0.55:
            harness.configure(safe_mode=rng.random() < 0.5)
        elif move < 0.62:
            alive = harness.sim.alive()
            if alive:
                victim = rng.choice(alive)
                # "stopped": Vast stopped it (no credit, outbid); its disk bills until destroyed.
                action = rng.choice(["vanish", "exited", "offline", "stopped"])
                harness.sim.operate(victim["id"], action)
        elif move < 0.66:
            harness.sim.seed(f"aik-default-{rng.randint(10_000, 99_999)}")
        elif move < 0.72:
            harness.manager = harness.new_manager()  # a scheduler restart
        harness.tick(rng.choice([5, 30, 30, 30, 120, 600]))
        if load is not None:
            load.recover()
        faults.stop()
        if load is not None:
            load.note_stranded()
        max_alive = max(max_alive, len(harness.sim.alive()))
    harness.sim.faults(**CALM)
    harness.configure(safe_mode=False)
    lost = double = drift = 0
    if load is not None:
        for _ in range(150):  # drain: every job must finish or fail with a refund
            load.dispatch_and_finish()
            harness.tick(30)
            load.recover()
            load.note_stranded()
            if load.audit()[0] == 0:
                break
        lost, double, drift = load.audit()
    converge = 0
    while converge < 30 and (converge == 0 or harness.leaked() or harness.ghosts()):
        harness.tick(30)
        converge += 1
    labels = [inst["label"] for inst in harness.sim.alive()]
    return CampaignResult(
        seed=seed,
        steps=steps,
        leaked=len(harness.leaked()),
        ghosts=len(harness.ghosts()),
        duplicate_labels=len(labels) - len(set(labels)),
        max_alive=max_alive,
        converge_ticks=converge,
        jobs=len(load.submitted) if load else 0,
        jobs_lost=lost,
        double_settlements=double,
        ledger_drift=drift,
        stranded=len(load.stranded) if load else 0,
        db_faults=faults.started,
    )
