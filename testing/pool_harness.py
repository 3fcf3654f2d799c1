"""A pool manager wired to the Vast simulator on a shared fake clock, plus leak checks."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.clock import FakeClock
from core.comfy.client import ComfyClient, RunResult
from core.comfy.events import Event, Progress
from core.comfy.health import Health
from core.config import load_settings
from core.db import read_scope, session_scope
from core.errors import ComfyUnavailable, ExecutionFailed
from core.models import (
    LIVE_INSTANCE_STATES,
    GpuInstance,
    InstanceState,
    PoolConfig,
    SchedulerLock,
)
from core.pool.manager import PoolManager, TickReport
from core.pool.provider import LaunchSpec
from core.pool.vast import Pacer, VastClient, VastProvider
from scheduler.tasks import Runtime
from testing.db_faults import DatabaseFaults, SchedulerKilled, killed_mid_transaction
from testing.sims import SIM_KEY, VastSim


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
    client_timeout_s: float = 2.0
    pacing_s: dict[str, float] | None = None
    """Seconds kept between calls by endpoint, waited out in real time (retries wait none)."""

    def __post_init__(self) -> None:
        self.client = VastClient(
            base_url=self.sim.url,
            api_key=SIM_KEY,
            sleep=lambda _s: None,
            timeout_s=self.client_timeout_s,
        )
        if self.pacing_s:
            self.client.pacer = Pacer(self.pacing_s, sleep=time.sleep)
        self.manager = self.new_manager()

    def new_manager(
        self, engine: Engine | None = None, *, still_leading: Callable[[], bool] | None = None
    ) -> PoolManager:
        """A fresh manager, as after a scheduler restart (no state but the database), on
        `engine` (default: the harness's), acting while `still_leading()` (default: always)."""
        return PoolManager(
            engine or self.engine,
            VastProvider(self.client),
            self.clock,
            pool="default",
            health_check=self.health,
            job_hooks=self.hooks,
            launch=lambda config, _nonce: LaunchSpec(image=config.image, disk_gb=config.disk_gb),
            queued_jobs=self.queued_jobs or (lambda _session: self.queued),
            still_leading=still_leading or (lambda: True),
        )

    def health(self, url: str) -> Health:
        ok = "*" in self.healthy or url in self.healthy
        return Health(None if ok else "ComfyUI not answering")

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

    def lingering(self) -> list[dict[str, Any]]:
        """Instances alive at the provider whose row is being destroyed: they bill until the
        destroy lands, so on a calm provider none may stay."""
        leaving = {row.label for row in self.rows(InstanceState.TERMINATING)}
        return [inst for inst in self.sim.alive() if inst["label"] in leaving]

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


class SenderThreads:
    """A manager's creates and destroys sent on worker threads while the ticks go on, as the
    scheduler process sends them (`send_forever(stop, kind)`: `Runtime.send_forever`, or
    `PoolManager.send_forever` through `manager_sends`); each tick only queues its calls."""

    def __init__(
        self, manager: PoolManager, send_forever: Callable[[threading.Event, str], None]
    ) -> None:
        self.manager = manager
        self.stopping = threading.Event()
        manager.sends_inline = False  # before the threads start: the next tick only queues
        self.threads = [
            threading.Thread(
                target=send_forever,
                args=(self.stopping, kind),
                name=f"campaign-{kind}",
                daemon=True,
            )
            for kind in ("create", "destroy")
        ]
        for thread in self.threads:
            thread.start()

    def settle(self, timeout_s: float = 10.0) -> bool:
        """Wait until neither sender holds a call, queued or in flight; False past `timeout_s`,
        or at once when a key is pending that no call will ever clear (`stranded`)."""
        deadline = time.monotonic() + timeout_s
        while self.manager.creates.pending() or self.manager.destroys.pending():
            if time.monotonic() > deadline or self.stranded():
                return False
            time.sleep(0.005)
        return True

    def stranded(self) -> int:
        """Keys either sender holds pending with no call queued or in flight for them
        (`Sender.stranded`): calls the plan will never decide again."""
        return len(self.manager.creates.stranded()) + len(self.manager.destroys.stranded())

    def kill(self) -> None:
        """The process SIGKILLed: nothing it queued is sent. The call in flight still lands
        and its outcome is written (as a stalled process's last call would be)."""
        self.manager.creates.drop()
        self.manager.destroys.drop()
        self.stopping.set()

    def stop(self, timeout_s: float = 20.0) -> None:
        """Stop the threads as the scheduler does on a clean stop, and wait for them."""
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout_s)


def manager_sends(manager: PoolManager) -> Callable[[threading.Event, str], None]:
    """`manager`'s own `send_forever` by kind, for `SenderThreads` with no `Runtime`."""

    def send_forever(stop: threading.Event, kind: str) -> None:
        manager.send_forever(manager.creates if kind == "create" else manager.destroys, stop)

    return send_forever


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
THREADED_FAULT_MENU = (
    *FAULT_MENU,
    {"create_then_fail": "hang", "hang_s": 0.6},  # past the threaded campaign's client timeout
    {"rate_limit_p": 0.9},
)
"""The threaded campaign's faults (`run_campaign(threaded_sends=True)`): the inline ones plus
creates timing out on the sender thread and a 429 storm on nearly every call."""
HANDOVERS = ("kill", "stop", "lose")
"""The threaded campaign's restarts, taken in turn: the leader SIGKILLed, stopped cleanly
(its held destroys sent first), or replaced by a successor while its senders hold calls."""
HANDOVER_EVERY = 6
"""The threaded campaign also arms a handover every this many steps: its random moves draw
more or fewer numbers as the threads' timing lets jobs end, so a seed alone does not make
sure any handover happens."""
THREADED_CLIENT_TIMEOUT_S = 0.3
"""The Vast client's timeout in the threaded campaign: a hung create times out in 0.3 s."""
THREADED_PACING_S = {"create": 0.2, "destroy": 0.1}
"""The threaded campaign's pacing, Vast's (4.5 s, 3 s) scaled down: the senders work through
a backlog, as they do in production, for a kill or a lost leadership to find calls queued."""
CALM = {
    "rate_limit_p": 0.0,
    "server_error_p": 0.0,
    "list_outage": False,
    "list_lag_s": 0.0,
    "create_then_fail": None,
    "hang_s": 5.0,
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
    lingering: int
    duplicate_labels: int
    max_alive: int
    converge_ticks: int
    jobs: int = 0
    jobs_lost: int = 0
    double_settlements: int = 0
    ledger_drift: int = 0
    stranded: int = 0
    db_faults: int = 0
    mid_close_kills: int = 0
    errors_after_faults: int = 0
    internal_errors: int = 0
    drain_ticks: int = 0
    database: str = "sqlite"
    sender_kills: int = 0
    """Threaded sends: processes killed, stopped cleanly, and leaderships lost, with their
    senders running."""
    clean_stops: int = 0
    leadership_losses: int = 0
    held_at_loss: int = 0
    """Threaded sends: the calls queued, never to be sent, when those happened."""
    unsettled: int = 0
    """Threaded sends: times the senders still held calls 10 s after a calm tick (or held a
    stranded key then)."""
    rented_twice: int = 0
    """Instances created at the provider beyond the first under a row's label, over the whole
    run (alive or long destroyed): a row's create is never sent twice, so every one is a
    double rental, even one the plan destroyed again before the end."""
    stranded_keys: int = 0
    """Threaded sends: keys the leader's senders held pending with no call queued or in
    flight (`Sender.stranded`), summed over the steps: a call never to be sent or decided
    again."""


STRANDED_TICKS = 2
"""Leader ticks, with no database fault on, that a job may sit leased or running with no live
worker (its worker died with a scheduler, or its ending could not be written) before it
counts as stranded: issue 13 asks every such job to end, or be requeued, within two."""

SCHEDULER_APP = "aik-campaign-scheduler"
"""The campaign scheduler's PostgreSQL `application_name`: the connections a kill storm kills."""


class CampaignComfy(ComfyClient):
    """A ComfyUI that answers at once (generation time passes in `SimulatedWorkers`): mostly a
    finished run without files, sometimes an unreachable GPU or a failed execution."""

    def __init__(self, rng: Any) -> None:  # no HTTP client: nothing is sent anywhere
        self.base_url, self.rng = "http://campaign.invalid", rng

    def close(self) -> None:
        pass

    def run(
        self,
        graph: dict[str, Any],
        *,
        on_event: Callable[[Event], None] | None = None,
        on_wait: Callable[[str], None] | None = None,
        timeout_s: float = 1800.0,
    ) -> RunResult:
        roll = self.rng.random()
        if roll < 0.05:
            raise ComfyUnavailable("campaign: the GPU stopped answering")
        if roll < 0.08:
            raise ExecutionFailed("campaign: the sampler failed")
        for step in range(1, 5):  # the sampler's steps, as ComfyUI reports them
            if on_event is not None:
                on_event(Progress(prompt_id="campaign", node="3", value=step, max=4))
        return RunResult(prompt_id="campaign", outputs=[])


class SimulatedWorkers:
    """Stands in for the Runtime's thread pool: a submitted run is run, start to end, once its
    simulated generation time has passed on the fake clock (`finish_due`)."""

    def __init__(self, clock: FakeClock, rng: Any) -> None:
        self.clock, self.rng = clock, rng
        self.runs: list[tuple[datetime, int, Callable[..., None], tuple[Any, ...]]] = []

    def submit(self, fn: Callable[..., None], job_id: int, *args: Any) -> None:
        duration = timedelta(seconds=self.rng.choice([20, 60, 200]))
        self.runs.append((self.clock.now() + duration, job_id, fn, (job_id, *args)))

    def due(self) -> list[tuple[int, Callable[..., None], tuple[Any, ...]]]:
        """The runs whose generation time has passed, taken off the list."""
        now = self.clock.now()
        done = [(job_id, fn, args) for at, job_id, fn, args in self.runs if at <= now]
        self.runs = [run for run in self.runs if run[0] > now]
        return done

    def jobs(self) -> set[int]:
        """The jobs a worker is still generating."""
        return {job_id for _at, job_id, _fn, _args in self.runs}

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.runs.clear()


class CampaignScheduler:
    """The real scheduler (`scheduler.tasks.Runtime`: endings retried, orphans recovered every
    tick, leader lease, dispatch) on the campaign's fake clock, simulator and workers; each
    `restart` is a SIGKILL: its connections drop and a new process starts with nothing but
    the database."""

    def __init__(
        self,
        harness: PoolHarness,
        rng: Any,
        url: str,
        folder: Path,
        *,
        threaded_sends: bool = False,
    ) -> None:
        from core.studio import outcomes, queue

        self.harness, self.rng, self.folder = harness, rng, folder
        self.threaded_sends = threaded_sends
        self.senders: SenderThreads | None = None
        """The live process's sender threads (`threaded_sends`), None when the ticks send."""
        self.retired: list[SenderThreads] = []
        """The sender threads of processes gone: stopped for good by `close`."""
        # The studio's outcomes: a job whose instance goes away is requeued or refunded.
        harness.hooks = outcomes.OUTCOMES
        harness.queued_jobs = queue.count_queued
        if url.startswith("postgresql"):
            named = sa.make_url(url).update_query_dict({"application_name": SCHEDULER_APP})
            url = named.render_as_string(hide_password=False)
        self.url = url
        self.runtime = self._start()

    def _start(self) -> Runtime:
        settings = load_settings(
            database_url=self.url,
            sim_vast_url=self.harness.sim.url,
            media_root=self.folder / "media",
            backup_dir=self.folder / "backups",
            pool_max_instances=3,
        )
        runtime = Runtime(settings, self.harness.clock)
        runtime.dispatcher.workers.shutdown(wait=False)
        runtime.dispatcher.workers = SimulatedWorkers(self.harness.clock, self.rng)  # type: ignore[assignment]
        runtime.manager.provider.close()
        runtime.manager = self.harness.new_manager(
            runtime.engine, still_leading=runtime.leader.holds
        )
        # a stand-in ComfyUI per call; the shared clients are only closed at shutdown
        runtime.run_context.comfy = lambda _url, _headers: CampaignComfy(self.rng)  # type: ignore[assignment]
        if self.threaded_sends:  # as `scheduler.main`: a worker thread per sender
            self.senders = SenderThreads(runtime.manager, runtime.send_forever)
        return runtime

    @property
    def engine(self) -> Engine:
        return self.runtime.engine

    @property
    def workers(self) -> SimulatedWorkers:
        return self.runtime.dispatcher.workers  # type: ignore[return-value]

    def restart(self, *, clean: bool = False) -> int:
        """SIGKILL and start again: no step-down, no grace; running jobs are abandoned, the
        calls its senders still held are never sent. `clean`: a SIGTERM instead, as far as
        the pool goes (`scheduler.main`: the senders stopped, the destroys they held sent,
        then the lease stepped down). How many calls the senders held."""
        held = 0
        if self.senders is not None:
            held = _held(self.senders.manager)
            if clean:
                self.senders.stop()
                self.runtime.leader.step_down()
            else:
                self.senders.kill()
            self.retired.append(self.senders)
        self.runtime.webhook_client.close()
        self.runtime.engine.dispose()
        self.runtime = self._start()
        return held

    def lose_leadership(self) -> int:
        """A standby takes the leader lease over (and dies at once): this process's senders
        find it gone at their next call and drop what they hold, its next ticks stand by
        until the standby's lease expires. How many calls the senders held."""
        held = _held(self.runtime.manager)
        with session_scope(self.harness.engine) as session:
            lock = session.get(SchedulerLock, self.runtime.leader.name)
            if lock is None:
                return 0
            lock.holder, lock.epoch = "campaign-standby", lock.epoch + 1
            lock.expires_at = self.harness.clock.now() + timedelta(
                seconds=self.runtime.leader.ttl_s
            )
            session.add(lock)
        return held

    def finish_due(self) -> None:
        """The workers whose generation time has passed run their job to its end."""
        for _job_id, fn, args in self.workers.due():
            fn(*args)

    def live_jobs(self) -> set[int]:
        """Jobs a live worker of this scheduler still runs."""
        return self.workers.jobs()

    def held(self) -> int:
        """The calls the live process's senders hold unsent."""
        return _held(self.senders.manager) if self.senders is not None else 0

    def stop_senders(self) -> None:
        """Stop every sender thread this campaign started, the live process's last."""
        for senders in (*self.retired, *([self.senders] if self.senders else [])):
            senders.stop()

    def close(self) -> None:
        self.stop_senders()
        self.runtime.webhook_client.close()
        self.runtime.engine.dispose()


class ThreadedPool:
    """The campaign's pool without the scheduler, its sends on `SenderThreads`: one manager
    leads until it is killed or loses leadership, then a successor (a fresh manager, as a
    standby taking over) leads with threads of its own; or, every other lost leadership,
    the same manager takes the lease back."""

    def __init__(self, harness: PoolHarness) -> None:
        self.harness = harness
        self.retired: list[SenderThreads] = []
        self.losses = 0
        self.senders = self._lead()

    def _lead(self) -> SenderThreads:
        leading = threading.Event()
        leading.set()
        self.leading = leading
        manager = self.harness.new_manager(still_leading=leading.is_set)
        self.harness.manager = manager
        return SenderThreads(manager, manager_sends(manager))

    def restart(self, *, clean: bool = False) -> int:
        """The leader SIGKILLed: what its senders held is never sent; a successor leads.
        `clean`: stopped as `scheduler.main` stops it, its held destroys sent first. How
        many calls they held."""
        held = _held(self.senders.manager)
        if clean:
            self.senders.stop()
        else:
            self.senders.kill()
        self.retired.append(self.senders)
        self.senders = self._lead()
        return held

    def lose_leadership(self) -> int:
        """The leader's lease is taken while its senders hold calls: they drop them at their
        next call (the one in flight lands). The first time (and every other one after), the
        standby that took the lease dies at once and the same manager leads again once its
        senders dropped what they held (a paused leader resumed: its senders and their
        pending keys live on); the other times a successor leads. How many calls they held."""
        held = _held(self.senders.manager)
        self.leading.clear()
        self.losses += 1
        if self.losses % 2 == 1 and _dropped(self.senders.manager, timeout_s=REGAIN_WAIT_S):
            self.leading.set()
            return held
        self.retired.append(self.senders)
        self.senders = self._lead()
        return held

    def held(self) -> int:
        """The calls the leader's senders hold unsent."""
        return _held(self.senders.manager)

    def stop_senders(self) -> None:
        """Stop every sender thread this campaign started, the leader's last."""
        for senders in (*self.retired, self.senders):
            senders.stop()


REGAIN_WAIT_S = 30.0
"""How long a leader that lost its lease is given for its senders to drop what they held
before it takes the lease back (their call in flight lands first: a client timeout, or a
destroy's retries under a 429 storm on a busy host). Past it a successor leads instead, and
the keys a broken drop stranded die with the old manager unseen, so it is generous: the
wait ends as soon as the queues are empty."""


def _dropped(manager: PoolManager, *, timeout_s: float) -> bool:
    """Wait until `manager`'s senders queue nothing (having found the lease gone, they drop
    what they hold at their next call); False past `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while _held(manager):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def _held(manager: PoolManager) -> int:
    """The calls `manager`'s senders hold unsent."""
    return len(manager.creates) + len(manager.destroys)


class JobLoad:
    """Jobs through the real code paths: the studio's submit (holds, idempotency keys), the
    scheduler's dispatch, the runner's start, finish and close, endings retried and orphans
    recovered each tick, refunds on failure.

    Generations take simulated time; the ComfyUI side answers at once (it has its own tests).
    """

    def __init__(self, harness: PoolHarness, rng: Any, scheduler: CampaignScheduler) -> None:
        from core.accounts import ledger
        from core.comfy.presets import Presets
        from core.studio import outcomes, queue
        from testing.factories import make_user

        self.harness, self.rng, self.ledger, self.scheduler = harness, rng, ledger, scheduler
        self.presets = Presets.load()
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
        self.submitted: set[int] = set()
        self.keys = 0
        self.orphan_ticks: dict[int, int] = {}
        self.stranded: set[int] = set()
        harness.hooks = outcomes.OUTCOMES
        harness.queued_jobs = queue.count_queued
        harness.manager = harness.new_manager()

    def submit(self) -> None:
        """One visitor's submit; sometimes the same form twice (a double-click)."""
        from core.studio.compose import StudioRequest
        from core.studio.pricing import pricing_from
        from core.studio.submit import submit

        self.keys += 1
        key = f"campaign-{self.keys}"
        runtime = self.scheduler.runtime
        for _ in range(2 if self.rng.random() < 0.2 else 1):
            try:
                job = submit(
                    self.harness.engine,
                    user_id=self.user.id or 0,
                    request=StudioRequest(prompt="a lighthouse at dusk", preset="low"),
                    clock=self.harness.clock,
                    presets=self.presets,
                    pricing=pricing_from(runtime.settings),
                    pool="default",
                    idempotency_key=key,
                )
            except sa.exc.DBAPIError:
                continue  # the visitor saw an error; nothing was written
            self.submitted.add(job.id or 0)

    def note_stranded(self, *, counting: bool) -> None:
        """Per job: the ticks it has sat leased or running with no live worker; only ticks
        that are `counting` (a leader ticked, no database fault was on) add up."""
        from core.models import GenerationJob, JobStatus, Lease

        with read_scope(self.harness.engine) as session:
            held = set(
                session.exec(select(Lease.job_id).where(col(Lease.released_at).is_(None))).all()
            )
            taken = session.exec(
                select(GenerationJob.id).where(
                    col(GenerationJob.status).in_((JobStatus.LEASED, JobStatus.RUNNING))
                )
            ).all()
        orphans = (held | {job_id or 0 for job_id in taken}) - self.scheduler.live_jobs()
        self.orphan_ticks = {
            job: self.orphan_ticks.get(job, 0) + (1 if counting else 0) for job in orphans
        }
        self.stranded |= {job for job, ticks in self.orphan_ticks.items() if ticks > STRANDED_TICKS}

    def internal_errors(self) -> int:
        """Jobs failed "because of an internal error": a generation thrown away, and refunded,
        for no fault of its own (a database blip is not one)."""
        from core.models import GenerationJob, JobStatus

        with read_scope(self.harness.engine) as session:
            failed = session.exec(
                select(GenerationJob.error).where(GenerationJob.status == JobStatus.FAILED)
            ).all()
        return sum(1 for error in failed if error and "internal error" in error)

    def audit(self) -> tuple[int, int, int]:
        """(jobs not finished, holds closed twice or never, credits unaccounted): the balance
        (the sum of the append-only ledger) against what the job rows say was charged."""
        from core.models import CreditEntry, CreditKind, GenerationJob, JobStatus

        with read_scope(self.harness.engine) as session:
            rows = session.exec(select(GenerationJob)).all()
            entries = session.exec(select(CreditEntry)).all()
            balance = self.ledger.balance(session, self.user.id or 0)
        done = {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED}
        lost = sum(1 for job in rows if job.status not in done)
        keys = [e.idempotency_key for e in entries]
        double = (
            len(keys)
            - len(set(keys))
            + sum(1 for job in rows if job.status in done and f"release:{job.id}" not in keys)
        )
        double += sum(
            1
            for job in rows
            if job.status is not JobStatus.SUCCEEDED and f"charge:{job.id}" in keys
        )
        charged = sum(job.charged_credits or 0 for job in rows if job.status is JobStatus.SUCCEEDED)
        held = sum(job.estimated_credits for job in rows if job.status not in done)
        in_ledger = sum(-e.credits for e in entries if e.kind is CreditKind.CHARGE)
        drift = abs(1_000_000 - charged - held - balance) + abs(charged - in_ledger)
        return lost, double, drift


def _guarded(work: Callable[[], object], *, faulty: bool, errors: list[str]) -> None:
    """Run a scheduler task as APScheduler does: an exception is logged and the task runs
    again at its next time. Outside database faults, any exception is counted."""
    try:
        work()
    except Exception as exc:  # noqa: BLE001 - the scheduler logs it and ticks on
        if not faulty or not isinstance(exc, sa.exc.SQLAlchemyError):
            errors.append(f"{type(exc).__name__}: {exc}"[:300])


def _next_handover(seed: int, taken: int) -> str:
    """The threaded campaign's next handover once `taken` were: each kind in turn."""
    return HANDOVERS[(seed + taken) % len(HANDOVERS)]


def run_campaign(
    harness: PoolHarness,
    seed: int,
    *,
    steps: int = 40,
    with_jobs: bool = False,
    db_faults: bool = False,
    threaded_sends: bool = False,
) -> CampaignResult:
    """Random faults, demand, operator actions and restarts; then calm and converge.

    Returns the leak figures after convergence: every alive labelled instance must belong to
    a live row, and no two alive instances may share a label (a double rental). `with_jobs`
    adds jobs run by the real scheduler (`CampaignScheduler`); `db_faults` makes one step in
    four suffer a database fault (`DatabaseFaults`: dropped statements, PostgreSQL connection
    kills, lock storms) and some job endings a SIGKILL of the scheduler mid-close.
    `threaded_sends` sends the creates and destroys on sender threads while the ticks go on,
    as the scheduler process does (`SenderThreads`), under `THREADED_FAULT_MENU`; restarts
    then kill or cleanly stop the senders mid-queue or hand leadership over while they hold calls.
    """
    import random
    import shutil
    import tempfile

    if db_faults and not with_jobs:
        raise ValueError("database faults hit the scheduler's jobs: pass with_jobs=True")
    rng = random.Random(seed)
    harness.configure(max_instances=3, desired_size=1)
    folder = Path(tempfile.mkdtemp(prefix="aikings-campaign-"))
    scheduler = load = None
    if with_jobs:
        url = harness.engine.url.render_as_string(hide_password=False)
        scheduler = CampaignScheduler(harness, rng, url, folder, threaded_sends=threaded_sends)
        load = JobLoad(harness, rng, scheduler)
    threaded: CampaignScheduler | ThreadedPool | None = None
    if threaded_sends:
        threaded = scheduler or ThreadedPool(harness)
    menu = THREADED_FAULT_MENU if threaded_sends else FAULT_MENU
    faults = DatabaseFaults(
        scheduler.engine if scheduler else harness.engine, rng, application_name=SCHEDULER_APP
    )
    errors: list[str] = []
    kills = sender_kills = clean_stops = losses = held = unsettled = stranded_keys = 0
    max_alive = 0
    handover: str | None = None  # threaded: kill, stop or lose, once a tick leaves calls queued
    handover_waited = 0
    seeded: set[str] = set()

    def settle() -> None:  # a calm tick's calls all sent before the next one
        nonlocal unsettled
        if threaded is not None and threaded.senders is not None:
            unsettled += not threaded.senders.settle()

    try:
        for step in range(steps):
            move = rng.random()
            if move < 0.25:
                harness.sim.faults(**rng.choice(menu))
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
                    # "stopped": Vast stopped it (no credit, outbid); its disk bills on.
                    action = rng.choice(["vanish", "exited", "offline", "stopped"])
                    harness.sim.operate(victim["id"], action)
            elif move < 0.66:
                orphan = f"aik-default-{rng.randint(10_000, 99_999)}"
                seeded.add(orphan)  # out of band: not a rental of ours
                harness.sim.seed(orphan)
            elif move < 0.72:
                if threaded is not None:  # once the tick has queued its calls
                    handover = _next_handover(seed, sender_kills + clean_stops + losses)
                elif scheduler is not None:
                    scheduler.restart()
                else:
                    harness.manager = harness.new_manager()  # a scheduler restart
            if threaded is not None and handover is None and step % HANDOVER_EVERY == 2:
                handover = _next_handover(seed, sender_kills + clean_stops + losses)
            if load is not None and rng.random() < 0.4:
                load.submit()
            if db_faults and rng.random() < 0.25:
                faults.start(rng.choice(DatabaseFaults.KINDS))
            if scheduler is not None and load is not None:
                killed = _finish_jobs(scheduler, rng, mid_close_kills=db_faults, errors=errors,
                                      faulty=faults.active)  # fmt: skip
                kills += killed
                harness.clock.advance(seconds := rng.choice([5, 30, 30, 30, 120, 600]))
                harness.sim.advance(seconds)
                faulty = faults.active
                _guarded(scheduler.runtime.tick_pool, faulty=faulty, errors=errors)
                _guarded(scheduler.runtime.dispatch, faulty=faulty, errors=errors)
                faults.stop()
                load.note_stranded(counting=not faulty and scheduler.runtime.leader.is_leader)
            else:
                harness.tick(rng.choice([5, 30, 30, 30, 120, 600]))
                faults.stop()
            if threaded is not None and handover is not None:
                handover_waited += 1
                if threaded.held() or handover_waited > 3:
                    if handover == "kill":
                        held += threaded.restart()
                        sender_kills += 1
                    elif handover == "stop":
                        held += threaded.restart(clean=True)
                        clean_stops += 1
                    else:
                        held += threaded.lose_leadership()
                        losses += 1
                    handover, handover_waited = None, 0
            if threaded is not None:  # the senders get through none, some or all of it
                time.sleep(rng.choice([0.0, 0.0, 0.002, 0.02]))
                if threaded.senders is not None:
                    stranded_keys += threaded.senders.stranded()
            max_alive = max(max_alive, len(harness.sim.alive()))
    finally:
        faults.stop()
    harness.sim.faults(**CALM)
    harness.configure(safe_mode=False)
    lost = double = drift = drained = internal = 0
    if scheduler is not None and load is not None:
        while drained < 150:  # drain: every job must finish or fail with a refund
            drained += 1
            _finish_jobs(scheduler, rng, mid_close_kills=False, errors=errors, faulty=False)
            harness.clock.advance(30)
            harness.sim.advance(30)
            _guarded(scheduler.runtime.tick_pool, faulty=False, errors=errors)
            settle()
            _guarded(scheduler.runtime.dispatch, faulty=False, errors=errors)
            load.note_stranded(counting=scheduler.runtime.leader.is_leader)
            if load.audit()[0] == 0 and not scheduler.live_jobs():
                break
        lost, double, drift = load.audit()
        internal = load.internal_errors()
        harness.manager = scheduler.runtime.manager
    converge = 0
    while converge < 30 and (
        converge == 0 or harness.leaked() or harness.ghosts() or harness.lingering()
    ):
        harness.tick(30)
        settle()
        converge += 1
    if threaded is not None:  # the senders stopped: what Vast bills now bills for good
        threaded.stop_senders()
    if scheduler is not None:
        scheduler.close()
    shutil.rmtree(folder, ignore_errors=True)
    labels = [inst["label"] for inst in harness.sim.alive()]
    ever = Counter(inst["label"] for inst in harness.sim.dump()["instances"])
    rented_twice = sum(n - 1 for label, n in ever.items() if label not in seeded)
    return CampaignResult(
        seed=seed,
        steps=steps,
        leaked=len(harness.leaked()),
        ghosts=len(harness.ghosts()),
        lingering=len(harness.lingering()),
        duplicate_labels=len(labels) - len(set(labels)),
        max_alive=max_alive,
        converge_ticks=converge,
        jobs=len(load.submitted) if load else 0,
        jobs_lost=lost,
        double_settlements=double,
        ledger_drift=drift,
        stranded=len(load.stranded) if load else 0,
        db_faults=faults.started,
        mid_close_kills=kills,
        errors_after_faults=len(errors),
        internal_errors=internal,
        drain_ticks=drained,
        database=harness.engine.dialect.name,
        sender_kills=sender_kills,
        clean_stops=clean_stops,
        leadership_losses=losses,
        held_at_loss=held,
        unsettled=unsettled,
        stranded_keys=stranded_keys,
        rented_twice=rented_twice,
    )


def campaign_on_sim(engine: Engine, clock: FakeClock, seed: int, **options: Any) -> CampaignResult:
    """`run_campaign(seed, **options)` against a rentable pool on a fresh simulated Vast of
    `seed`, with the threaded campaign's client timeout and pacing when `threaded_sends`."""
    from testing.factories import make_rentable_pool
    from testing.sims import vast_sim

    make_rentable_pool(engine, boot_timeout_s=600)
    threaded = options.get("threaded_sends", False)
    with vast_sim(seed=seed) as sim:
        harness = PoolHarness(
            engine,
            sim,
            clock,
            client_timeout_s=THREADED_CLIENT_TIMEOUT_S if threaded else 2.0,
            pacing_s=THREADED_PACING_S if threaded else None,
        )
        try:
            return run_campaign(harness, seed, **options)
        finally:
            harness.close()


def _finish_jobs(
    scheduler: CampaignScheduler,
    rng: Any,
    *,
    mid_close_kills: bool,
    errors: list[str],
    faulty: bool,
) -> int:
    """Run the due workers to their end; with `mid_close_kills`, now and then the scheduler is
    SIGKILLed in the middle of writing a job's ending (then restarted). How many kills."""
    kills = 0
    for _job_id, fn, args in scheduler.workers.due():
        if mid_close_kills and rng.random() < 0.1:
            # The run's start writes once; the kill comes at one of the close's first writes.
            after = rng.randint(1, 3)
            with killed_mid_transaction(scheduler.engine, r"^(UPDATE|INSERT)", after=after):
                try:
                    fn(*args)
                except SchedulerKilled:
                    kills += 1
                    # The process is gone: its other workers with it.
                    scheduler.restart()
                    return kills
            continue
        _guarded(partial(fn, *args), faulty=faulty, errors=errors)
    return kills
