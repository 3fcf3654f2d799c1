"""The credit ledger: exactly-once holds, settlements and refunds, even under concurrency."""

import threading
from datetime import UTC, datetime
from functools import partial

import pytest
from sqlmodel import select

from core.accounts import ledger
from core.db import make_engine, read_scope, session_scope
from core.errors import InsufficientCredits
from core.locks import lock_user
from core.models import CreditEntry
from testing.factories import make_job, make_user
from testing.statements import LOCKS_A_USER, flat, statements_sent

NOW = datetime(2026, 11, 24, tzinfo=UTC)


@pytest.fixture
def funded(engine):
    user = make_user(engine)
    with session_scope(engine) as session:
        assert ledger.grant(session, user_id=user.id, credits=100, key="g1", note="t", now=NOW)
        assert not ledger.grant(session, user_id=user.id, credits=100, key="g1", note="t", now=NOW)
    return user


def balance(engine, user):
    with read_scope(engine) as session:
        return ledger.balance(session, user.id)


def test_hold_settle_charges_actual_cost_once(engine, funded):
    job = make_job(engine, funded)
    with session_scope(engine) as session:
        ledger.hold_for_job(session, user_id=funded.id, job_id=job.id, credits=30, now=NOW)
        ledger.hold_for_job(session, user_id=funded.id, job_id=job.id, credits=30, now=NOW)
    assert balance(engine, funded) == 70
    with session_scope(engine) as session:
        assert ledger.settle_job(session, job_id=job.id, charged_credits=12, now=NOW)
        assert not ledger.settle_job(session, job_id=job.id, charged_credits=12, now=NOW)
        assert not ledger.refund_job(session, job_id=job.id, now=NOW, reason="late")
    assert balance(engine, funded) == 88


def test_settling_reads_the_ledger_once_and_writes_both_entries_in_one_statement(engine, funded):
    job = make_job(engine, funded)
    with session_scope(engine) as session:
        ledger.hold_for_job(session, user_id=funded.id, job_id=job.id, credits=30, now=NOW)
    with statements_sent(engine) as seen, session_scope(engine) as session:
        assert ledger.settle_job(session, job_id=job.id, charged_credits=12, now=NOW)
    statements = [flat(s) for s, _ in seen if not flat(s).startswith("BEGIN")]
    # The owner locked by a subquery on the hold, the hold and its release read together,
    # one INSERT of the release and the charge.
    assert len(statements) == 3, statements
    assert sum(s.startswith("INSERT INTO creditentry") for s in statements) == 1
    assert balance(engine, funded) == 88


def test_settling_under_the_owners_lock_already_taken_reads_the_hold_without_locking_again(
    engine, funded
):
    job = make_job(engine, funded)
    with session_scope(engine) as session:
        ledger.hold_for_job(session, user_id=funded.id, job_id=job.id, credits=30, now=NOW)
    with statements_sent(engine) as seen, session_scope(engine) as session:
        lock_user(session, funded.id)
        settle = partial(ledger.settle_job, session, job_id=job.id, now=NOW, owner_locked=True)
        assert settle(charged_credits=12)
        assert not settle(charged_credits=12)  # once
        assert not ledger.refund_job(session, job_id=job.id, now=NOW, reason="late")
    statements = [flat(s) for s, _ in seen if not flat(s).startswith("BEGIN")]
    # The user locked once by the caller; the first settlement reads the hold and writes
    # both entries, the second reads them and stops; the refund locks, reads and stops.
    assert sum(bool(LOCKS_A_USER.match(s)) for s in statements) == 2, statements
    assert sum(s.startswith("INSERT INTO creditentry") for s in statements) == 1
    assert balance(engine, funded) == 88
    other = make_job(engine, funded)
    with read_scope(engine) as session:
        assert not ledger.settle_job(
            session, job_id=other.id, charged_credits=1, now=NOW, owner_locked=True
        )  # no hold: nothing settled


def test_charge_never_exceeds_the_hold(engine, funded):
    job = make_job(engine, funded)
    with session_scope(engine) as session:
        ledger.hold_for_job(session, user_id=funded.id, job_id=job.id, credits=10, now=NOW)
        ledger.settle_job(session, job_id=job.id, charged_credits=500, now=NOW)
    assert balance(engine, funded) == 90


def test_refund_returns_the_hold_once(engine, funded):
    job = make_job(engine, funded)
    with session_scope(engine) as session:
        ledger.hold_for_job(session, user_id=funded.id, job_id=job.id, credits=40, now=NOW)
    with session_scope(engine) as session:
        assert ledger.refund_job(session, job_id=job.id, now=NOW, reason="failed")
        assert not ledger.refund_job(session, job_id=job.id, now=NOW, reason="failed")
        assert not ledger.settle_job(session, job_id=job.id, charged_credits=5, now=NOW)
    assert balance(engine, funded) == 100
    with read_scope(engine) as session:
        assert [e.kind.value for e in ledger.history(session, user_id=funded.id)] == [
            "refund",
            "hold",
            "grant",
        ]


def test_insufficient_credits_is_a_clear_refusal(engine, funded):
    job = make_job(engine, funded)
    with session_scope(engine) as session, pytest.raises(InsufficientCredits, match="needs 150"):
        ledger.hold_for_job(session, user_id=funded.id, job_id=job.id, credits=150, now=NOW)
    assert balance(engine, funded) == 100


def _parallel(engine, count, work):
    url = engine.url.render_as_string(hide_password=False)
    errors, barrier = [], threading.Barrier(count)

    def run(index):
        own = make_engine(url)
        try:
            barrier.wait()
            work(own, index)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            own.dispose()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_fifty_parallel_holds_never_overdraw(engine, funded):
    jobs = [make_job(engine, funded) for _ in range(50)]

    def hold(own, index):
        with session_scope(own) as session:
            ledger.hold_for_job(
                session, user_id=funded.id, job_id=jobs[index].id, credits=7, now=NOW
            )

    errors = _parallel(engine, 50, hold)
    assert all(isinstance(e, InsufficientCredits) for e in errors)
    assert len(errors) == 50 - 100 // 7
    assert balance(engine, funded) == 100 % 7


def test_settle_racing_refund_closes_the_hold_exactly_once(engine, funded):
    job = make_job(engine, funded)
    with session_scope(engine) as session:
        ledger.hold_for_job(session, user_id=funded.id, job_id=job.id, credits=20, now=NOW)

    def close(own, index):
        with session_scope(own) as session:
            if index % 4 == 1:
                ledger.settle_job(session, job_id=job.id, charged_credits=5, now=NOW)
            elif index % 4 == 3:  # as a finishing job settles: its owner locked first
                lock_user(session, funded.id)
                ledger.settle_job(
                    session, job_id=job.id, charged_credits=5, now=NOW, owner_locked=True
                )
            else:
                ledger.refund_job(session, job_id=job.id, now=NOW, reason="race")

    assert _parallel(engine, 8, close) == []
    with read_scope(engine) as session:
        entries = session.exec(select(CreditEntry).where(CreditEntry.job_id == job.id)).all()
    releases = [e for e in entries if e.idempotency_key == f"release:{job.id}"]
    assert len(releases) == 1
    assert balance(engine, funded) in (95, 100)


def test_a_job_submitted_twice_in_parallel_is_held_once(engine, funded):
    job = make_job(engine, funded)

    def hold(own, _index):
        with session_scope(own) as session:
            ledger.hold_for_job(session, user_id=funded.id, job_id=job.id, credits=30, now=NOW)

    assert _parallel(engine, 8, hold) == []
    with read_scope(engine) as session:
        holds = session.exec(select(CreditEntry).where(CreditEntry.job_id == job.id)).all()
    assert len(holds) == 1
    assert balance(engine, funded) == 70


def test_balance_is_the_sum_of_an_append_only_history(engine, funded):
    jobs = [make_job(engine, funded) for _ in range(3)]
    with session_scope(engine) as session:
        for job in jobs:
            ledger.hold_for_job(session, user_id=funded.id, job_id=job.id, credits=10, now=NOW)
        ledger.settle_job(session, job_id=jobs[0].id, charged_credits=4, now=NOW)
        ledger.refund_job(session, job_id=jobs[1].id, now=NOW, reason="failed")
    with read_scope(engine) as session:
        entries = ledger.history(session, user_id=funded.id, limit=100)
        older = ledger.history(session, user_id=funded.id, limit=100, before_id=entries[2].id)
    assert sum(e.credits for e in entries) == balance(engine, funded) == 100 - 4 - 10
    assert [e.id for e in older] == [e.id for e in entries[3:]]
    assert len({e.idempotency_key for e in entries}) == len(entries)
