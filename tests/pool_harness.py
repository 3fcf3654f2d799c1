"""A pool manager wired to the Vast simulator on a shared fake clock, plus leak checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.clock import FakeClock
from core.db import read_scope, session_scope
from core.models import LIVE_INSTANCE_STATES, GpuInstance, InstanceState, PoolConfig
from core.pool.manager import PoolManager, TickReport
from core.pool.provider import LaunchSpec
from core.pool.vast import VastClient, VastProvider
from tests.sims import SIM_KEY, VastSim


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
    hooks: RecordingHooks = field(default_factory=RecordingHooks)
    queued: int = 0

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
            launch=lambda config: LaunchSpec(image=config.image, disk_gb=config.disk_gb),
            queued_jobs=lambda _session: self.queued,
        )

    def health(self, url: str) -> str | None:
        return None if "*" in self.healthy or url in self.healthy else "ComfyUI not answering"

    def tick(self, seconds: float = 30) -> TickReport:
        """Let `seconds` pass on both clocks, then reconcile once."""
        self.clock.advance(seconds)
        self.sim.advance(seconds)
        return self.manager.reconcile()

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

    def leaked(self) -> list[dict]:
        """Instances alive at the provider that no live row accounts for."""
        live_labels = {row.label for row in self.rows(*LIVE_INSTANCE_STATES)}
        return [inst for inst in self.sim.alive() if inst["label"] not in live_labels]

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


def run_campaign(harness: PoolHarness, seed: int, *, steps: int = 40) -> CampaignResult:
    """Random faults, demand, operator actions and restarts; then calm and converge.

    Returns the leak figures after convergence: every alive labelled instance must belong to
    a live row, and no two alive instances may share a label (a double rental).
    """
    import random

    rng = random.Random(seed)
    harness.configure(max_instances=3, desired_size=1)
    max_alive = 0
    for _ in range(steps):
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
                harness.sim.operate(victim["id"], rng.choice(["vanish", "exited", "offline"]))
        elif move < 0.66:
            harness.sim.seed(f"aik-default-{rng.randint(10_000, 99_999)}")
        elif move < 0.72:
            harness.manager = harness.new_manager()  # a scheduler restart
        harness.tick(rng.choice([5, 30, 30, 30, 120, 600]))
        max_alive = max(max_alive, len(harness.sim.alive()))
    harness.sim.faults(**CALM)
    harness.configure(safe_mode=False)
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
    )
