"""Many threads at once on the money paths, on SQLite and PostgreSQL (issue 13, items 1 and 5).

Submitting and closing jobs take their rows in one order (`core.locks`) and every unit of work
is retried on a deadlock or a dropped connection (`core.db.run_transaction`), so no caller
ever sees a database error, and the balance is always the sum of the append-only ledger.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from sqlmodel import select

from core.accounts import ledger
from core.comfy.presets import Presets
from core.db import read_scope, session_scope
from core.errors import InsufficientCredits
from core.models import CreditEntry, CreditKind, GenerationJob, InstanceState, JobStatus
from core.studio import queue
from core.studio.compose import StudioRequest
from core.studio.pricing import Pricing
from core.studio.submit import submit, submit_all
from testing.factories import (
    close_lease_unsucceeded,
    make_funded_user,
    make_instance,
    make_pool,
)

PRESETS = Presets.load()
PRICING = Pricing(credit_price_usd=Decimal("0.01"), reference_price_per_hour_usd=Decimal("1"))
GRANT = 1_000_000


def funded_user(engine, clock):
    return make_funded_user(engine, GRANT, now=clock.now())


def submit_one(engine, user, clock, **fields):
    return submit(
        engine,
        user_id=user.id,
        request=StudioRequest(prompt="a lighthouse at dusk", preset="low"),
        clock=clock,
        presets=PRESETS,
        pricing=PRICING,
        pool="default",
        **fields,
    )


def all_at_once(
    count: int, work: Callable[[int], object]
) -> tuple[list[object], list[BaseException]]:
    """Run `work(i)` for i < count on `count` threads released together; results and errors."""
    start = threading.Barrier(count)

    def run(index: int) -> object:
        start.wait()
        return work(index)

    results: list[object] = []
    errors: list[BaseException] = []
    with ThreadPoolExecutor(max_workers=count) as pool:
        for future in [pool.submit(run, i) for i in range(count)]:
            try:
                results.append(future.result())
            except BaseException as exc:  # noqa: BLE001 - counted and shown by the assert
                errors.append(exc)
    return results, errors


def ledger_state(engine, user):
    with read_scope(engine) as session:
        jobs = session.exec(select(GenerationJob).where(GenerationJob.user_id == user.id)).all()
        entries = session.exec(select(CreditEntry).where(CreditEntry.user_id == user.id)).all()
        return list(jobs), list(entries), ledger.balance(session, user.id)


def assert_balance_is_history(jobs, entries, balance):
    holds = [e for e in entries if e.kind is CreditKind.HOLD]
    assert sorted(e.job_id for e in holds) == sorted(job.id for job in jobs)
    assert sum(-e.credits for e in holds) == sum(job.estimated_credits for job in jobs)
    assert balance == sum(e.credits for e in entries)


def test_fifty_threads_submitting_for_one_user_all_succeed(engine, fake_clock):
    make_pool(engine)
    user = funded_user(engine, fake_clock)
    keys = [f"form-{i % 20}" for i in range(50)]  # 20 intents, some sent more than once
    returned, errors = all_at_once(
        50, lambda i: submit_one(engine, user, fake_clock, idempotency_key=keys[i])
    )
    assert errors == []
    jobs, entries, balance = ledger_state(engine, user)
    assert sorted(job.idempotency_key for job in jobs) == sorted(set(keys))
    assert {job.id for job in returned} == {job.id for job in jobs}
    assert_balance_is_history(jobs, entries, balance)
    assert balance == GRANT - sum(job.estimated_credits for job in jobs)


def test_thirty_identical_submits_make_one_job_and_hold_once(engine, fake_clock):
    make_pool(engine)
    user = funded_user(engine, fake_clock)
    returned, errors = all_at_once(
        30, lambda _i: submit_one(engine, user, fake_clock, idempotency_key="double-click")
    )
    assert errors == []
    jobs, entries, balance = ledger_state(engine, user)
    assert len(jobs) == 1
    assert {job.id for job in returned} == {jobs[0].id}
    assert_balance_is_history(jobs, entries, balance)
    assert balance == GRANT - jobs[0].estimated_credits


def test_the_same_key_from_another_user_is_another_job(engine, fake_clock):
    make_pool(engine)
    first, second = funded_user(engine, fake_clock), funded_user(engine, fake_clock)
    one = submit_one(engine, first, fake_clock, idempotency_key="same")
    other = submit_one(engine, second, fake_clock, idempotency_key="same")
    assert one.id != other.id and other.user_id == second.id


def test_submits_while_jobs_finish_never_reach_the_caller_as_errors(engine, fake_clock):
    make_pool(engine)
    user = funded_user(engine, fake_clock)
    for _ in range(12):
        make_instance(engine, state=InstanceState.READY, comfy_url="http://gpu")
    claims = []
    for _ in range(12):
        submit_one(engine, user, fake_clock)
        with session_scope(engine) as session:
            claims.append(queue.claim_next(session, pool="default", now=fake_clock.now()))

    def close(index: int) -> None:
        job_id, claim = claims[index]
        close_lease_unsucceeded(
            engine,
            lease_id=claim.lease_id,
            job_id=job_id,
            outcome="failed",
            reason="test",
            now=fake_clock.now(),
        )

    def work(index: int) -> object:
        return close(index // 2) if index % 2 else submit_one(engine, user, fake_clock)

    _, errors = all_at_once(24, work)
    assert errors == []
    jobs, entries, balance = ledger_state(engine, user)
    assert len(jobs) == 24
    closed = [job for job in jobs if job.status is JobStatus.FAILED]
    assert len(closed) == 12
    refunds = [e for e in entries if e.kind is CreditKind.REFUND]
    assert sorted(e.job_id for e in refunds) == sorted(job.id for job in closed)
    assert_balance_is_history(jobs, entries, balance)


def test_batches_submitted_at_once_with_credits_for_eleven_jobs_never_overdraw(engine, fake_clock):
    """24 submits at once of one or two jobs each (a batch is held all or none) by a user
    whose credits cover exactly 11 jobs: never more are held, and the balance never goes
    below zero (it ends at 0, or at one job's worth if only pairs came after it got there)."""
    make_pool(engine)
    probe = funded_user(engine, fake_clock)
    each = submit_one(engine, probe, fake_clock).estimated_credits
    user = make_funded_user(engine, 11 * each, now=fake_clock.now())
    request = StudioRequest(prompt="a lighthouse at dusk", preset="low")

    def batch(index: int) -> list[GenerationJob]:
        return submit_all(
            engine,
            user_id=user.id,
            requests=[request] * (1 + index % 2),
            clock=fake_clock,
            presets=PRESETS,
            pricing=PRICING,
            pool="default",
        )

    held, errors = all_at_once(24, batch)
    assert errors and all(isinstance(error, InsufficientCredits) for error in errors)
    jobs, entries, balance = ledger_state(engine, user)
    assert_balance_is_history(jobs, entries, balance)
    assert balance in (0, each)
    assert sum(len(jobs_held) for jobs_held in held) == len(jobs) == 11 - balance // each
