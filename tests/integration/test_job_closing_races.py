"""Every way a started job can end, at once, on one job: it still ends once, charged once.

A job claimed and started (one unit of work) may be finished by its runner, stopped by its
user, expired by the pool, or taken back by a leader's recovery; each path closes the hold
under the job's lock (`core.locks`), and only the one that releases the lease may close it.
Here they race on threads released together, on SQLite and PostgreSQL, many rounds; after
each round the job's ledger, lease and instance must tell one story.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import Any

import pytest
from sqlmodel import select

from core.accounts import ledger
from core.comfy.client import ComfyClient, RunResult
from core.comfy.events import Event, Progress
from core.comfy.presets import Presets
from core.db import read_scope, session_scope
from core.errors import ExecutionFailed
from core.gallery.media import open_media_store
from core.models import (
    CreditEntry,
    CreditKind,
    GenerationJob,
    GpuInstance,
    InstanceState,
    JobStatus,
    Lease,
)
from core.studio import outcomes, queue, runner
from core.studio.compose import StudioRequest
from core.studio.outcomes import TERMINAL, Cancel
from core.studio.pricing import Pricing
from core.studio.runner import RunContext
from core.studio.submit import submit
from testing.factories import (
    close_lease_unsucceeded,
    make_funded_user,
    make_instance,
    make_pool,
)

PRESETS = Presets.load()
PRICING = Pricing(credit_price_usd=Decimal("0.01"), reference_price_per_hour_usd=Decimal("1"))
GRANT = 10_000
ROUNDS = 16
STEPS = 4


class QuickComfy(ComfyClient):
    """A ComfyUI whose runs last a few milliseconds, with no files (nothing is sent anywhere),
    looking for a stop between steps as the real client's wait does: an interrupted run
    fails as ComfyUI's does."""

    def __init__(self) -> None:  # no HTTP client
        self.base_url = "http://race.invalid"
        self.interrupted = False

    def close(self) -> None:
        pass

    def interrupt(self, prompt_id: str | None = None) -> None:
        self.interrupted = True

    def run(
        self,
        graph: dict[str, Any],
        *,
        on_event: Callable[[Event], None] | None = None,
        on_wait: Callable[[str], None] | None = None,
        timeout_s: float = 1800.0,
    ) -> RunResult:
        for step in range(1, STEPS + 1):
            if on_wait is not None:
                on_wait("race")
            if self.interrupted:
                raise ExecutionFailed("interrupted")
            if on_event is not None:
                on_event(Progress(prompt_id="race", node="3", value=step, max=STEPS))
            time.sleep(0.001)
        return RunResult(prompt_id="race", outputs=[])


@pytest.fixture
def context(engine, fake_clock, tmp_path, monkeypatch):
    """What the runner needs, with `QuickComfy` as every instance's ComfyUI; a running job
    looks for its user's stop at every step (not every 0.5 s), so a stop can win a run of
    milliseconds."""
    monkeypatch.setattr(runner, "STOP_CHECK_INTERVAL_S", 0.0)
    from core.config import load_settings

    settings = load_settings(database_url="sqlite://", media_root=tmp_path / "media")
    ctx = RunContext(
        engine=engine,
        clock=fake_clock,
        presets=PRESETS,
        pricing=PRICING,
        media=open_media_store(settings),
    )
    ctx.comfy = lambda _url, _headers=None: QuickComfy()  # type: ignore[assignment,method-assign]
    yield ctx
    ctx.after_job.shutdown(wait=True)
    ctx.screening.shutdown(wait=True)  # type: ignore[attr-defined]


def _claimed_and_started(engine, user, clock):
    """A submitted job, claimed on a fresh ready instance and marked running in one unit of
    work (as the dispatcher does): job id, claim, started."""
    job = submit(
        engine,
        user_id=user.id,
        request=StudioRequest(prompt="a lighthouse at dusk", preset="low"),
        clock=clock,
        presets=PRESETS,
        pricing=PRICING,
        pool="default",
    )
    make_instance(
        engine,
        state="ready",
        comfy_url="http://race.invalid",
        price_per_hour_usd=Decimal("3.6"),
        last_used_at=clock.now(),
    )
    with session_scope(engine) as session:
        claimed = queue.claim_next(session, pool="default", now=clock.now())
        assert claimed is not None and claimed[0] == job.id
        job_id, claim = claimed
        started = runner.start(session, job_id=job_id, now=clock.now())
    clock.advance(90)  # GPU time used: the stop and the success charge some
    return job_id, claim, started


def _race(paths: list[Callable[[], object]], rng: random.Random) -> list[BaseException]:
    """Run every path on a thread of its own, released together (each after a small random
    delay, so the order varies by round); the exceptions they raised."""
    gate = threading.Barrier(len(paths))
    errors: list[BaseException] = []

    def run(path: Callable[[], object], delay_s: float) -> None:
        gate.wait(timeout=30)
        time.sleep(delay_s)
        try:
            path()
        except BaseException as exc:  # noqa: BLE001 - asserted by the caller
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=(path, rng.choice([0, 0, 0.001, 0.005])))
        for path in paths
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a closing path hung"
    return errors


def _one_story(engine, job_id: int) -> GenerationJob:
    """Assert the job's rows agree: closed once (or queued again, its hold kept), charged only
    on success or a stop, no lease left open, its instance not busy; the job."""
    with read_scope(engine) as session:
        job = session.get(GenerationJob, job_id)
        assert job is not None
        entries = session.exec(select(CreditEntry).where(CreditEntry.job_id == job_id)).all()
        open_leases = session.exec(
            select(Lease).where(Lease.job_id == job_id, Lease.released_at.is_(None))  # type: ignore[union-attr]
        ).all()
        instance = session.get(GpuInstance, job.instance_id) if job.instance_id else None
    by_kind = sorted(entry.kind.value for entry in entries)
    charge = next((e for e in entries if e.kind is CreditKind.CHARGE), None)
    assert open_leases == [], f"job {job_id} ({job.status}) left a lease open"
    assert instance is None or instance.state is not InstanceState.BUSY, (
        f"job {job_id}'s instance stays busy"
    )
    if job.status is JobStatus.QUEUED:  # recovered: back in the queue, its hold kept
        assert by_kind == ["hold"], by_kind
        return job
    assert job.status in TERMINAL, job.status
    if job.status is JobStatus.SUCCEEDED or (job.charged_credits or 0) > 0:
        assert by_kind == ["charge", "hold", "release"], (job.status, by_kind)
        assert charge is not None and -charge.credits == job.charged_credits
        assert 0 < job.charged_credits <= job.estimated_credits
    else:
        assert by_kind == ["hold", "refund"], (job.status, by_kind)
    return job


def _closing_paths(engine, context, user, clock, job_id, claim, started, rng):
    """Per round: the job's runner (its run lasts milliseconds, so it finishes unless
    stopped), and at random its user's stop (none, once or twice), the pool expiring its
    lease (as `PoolManager` does on `ExpireLease`), a leader's recovery that finds no thread
    of its own running it."""

    def expire() -> None:
        close_lease_unsucceeded(
            engine,
            lease_id=claim.lease_id,
            job_id=job_id,
            outcome="expired",
            reason="the generation took longer than allowed",
            now=clock.now(),
        )

    def stop() -> None:
        said = outcomes.cancel(engine, job_id=job_id, user_id=user.id, clock=clock)
        assert said in (Cancel.STOPPING, Cancel.TOO_LATE, Cancel.CANCELLED)

    run = partial(runner.run_job, context, job_id=job_id, claim=claim, started=started)
    recover = partial(
        outcomes.recover_orphaned_jobs, engine, is_running=lambda _id: False, clock=clock
    )
    paths: list[Callable[[], object]] = [run]
    paths += [stop] * rng.choice([0, 1, 2])
    paths += [expire] * rng.choice([0, 1])
    paths += [recover] * rng.choice([0, 1])
    rng.shuffle(paths)
    return paths


def _ending(job: GenerationJob) -> str:
    if job.status is JobStatus.CANCELLED and job.cost_usd:
        return "stopped, charged"
    return job.status.value


@pytest.mark.parametrize("seed", range(2))
def test_finish_stop_expiry_and_recovery_racing_close_a_started_job_once(
    engine, fake_clock, context, seed
):
    """Rounds of one claimed-and-started job each, every path that can end it racing
    (`_closing_paths`): whichever wins, the job ends once (or is queued again, its hold
    kept), is charged at most its hold and only for GPU time, and frees its instance."""
    rng = random.Random(seed)
    make_pool(engine)
    user = make_funded_user(engine, GRANT, now=fake_clock.now())
    endings: dict[str, int] = {}
    for _round in range(ROUNDS):
        job_id, claim, started = _claimed_and_started(engine, user, fake_clock)
        paths = _closing_paths(engine, context, user, fake_clock, job_id, claim, started, rng)
        assert _race(paths, rng) == []
        job = _one_story(engine, job_id)
        endings[_ending(job)] = endings.get(_ending(job), 0) + 1
        if job.status is JobStatus.QUEUED:  # end it: a queued job a user stops is refunded
            outcomes.cancel(engine, job_id=job_id, user_id=user.id, clock=fake_clock)
            assert _one_story(engine, job_id).status is JobStatus.CANCELLED
    with read_scope(engine) as session:
        jobs = session.exec(select(GenerationJob).where(GenerationJob.user_id == user.id)).all()
        balance = ledger.balance(session, user.id)
    charged = sum(job.charged_credits or 0 for job in jobs if job.status in TERMINAL)
    assert balance == GRANT - charged >= 0
    assert len(endings) >= 3, f"the rounds ended too few ways to race: {endings}"
