"""The dispatcher's waker: a submit wakes it (NOTIFY on PostgreSQL, a read on SQLite); with
nothing claimable it sleeps its whole timeout."""

from __future__ import annotations

import threading
from types import SimpleNamespace

from sqlalchemy.engine import Engine

from core.clock import FakeClock
from core.db import session_scope
from core.models import GenerationJob, InstanceState, User
from core.studio import queue
from scheduler.dispatcher import Dispatcher
from scheduler.waker import QueueWaker
from testing.factories import make_instance, make_user
from testing.statements import flat, statements_sent


def _submit_like_the_studio(engine, user) -> None:
    """A queued job committed together with its announcement, as `submit` does."""
    with session_scope(engine) as session:
        session.add(GenerationJob(user_id=user.id, prompt="p", model="m", preset="low", seed=1))
        queue.announce(session)


def test_with_nothing_claimable_it_sleeps_its_timeout(engine):
    make_instance(engine, state=InstanceState.READY, comfy_url="http://gpu:8188")
    waker = QueueWaker(engine, pool="default")
    try:
        assert waker.wait(0.2) is False
    finally:
        waker.close()


def _woken_by_a_submit(waker: QueueWaker, engine: Engine, user: User) -> bool:
    """Whether `waker` wakes (within 30 s) for a submit made 0.2 s into its wait; closed after."""
    submitter = threading.Timer(0.2, _submit_like_the_studio, args=(engine, user))
    submitter.start()
    try:
        return waker.wait(30.0)
    finally:
        submitter.join()
        waker.close()


def test_a_submit_wakes_it_before_its_timeout(engine):
    make_instance(engine, state=InstanceState.READY, comfy_url="http://gpu:8188")
    user = make_user(engine)
    waker = QueueWaker(engine, pool="default")
    waker.wait(0.01)  # listening (PostgreSQL) before the submit, as the dispatch loop is
    assert _woken_by_a_submit(waker, engine, user)


def test_on_sqlite_a_queued_job_without_a_ready_instance_wakes_nothing(sqlite_engine):
    _submit_like_the_studio(sqlite_engine, make_user(sqlite_engine))
    assert QueueWaker(sqlite_engine, pool="default").wait(0.2) is False


def test_on_sqlite_a_commit_after_it_began_waiting_wakes_it(sqlite_engine):
    """Between commits it reads only SQLite's data version; a commit (the submit) makes it
    ask again, and it wakes."""
    make_instance(sqlite_engine, state=InstanceState.READY, comfy_url="http://gpu:8188")
    user = make_user(sqlite_engine)
    waker = QueueWaker(sqlite_engine, pool="default")
    assert waker.wait(0.05) is False  # nothing queued: it asked once, then watched
    assert _woken_by_a_submit(waker, sqlite_engine, user)


def test_a_claim_round_with_nothing_queued_reads_once_and_takes_no_write_lock(engine):
    """On a SQLite file the one read goes over the waker's own connection: the engine sends
    nothing (through a session it cost ~1 ms of CPU, asked after nearly every commit)."""
    make_instance(engine, state=InstanceState.READY, comfy_url="http://gpu:8188")
    dispatcher = Dispatcher(
        engine,
        FakeClock(),
        pool="default",
        run_context=SimpleNamespace(presets=None),  # type: ignore[arg-type]
        threads=2,
        may_claim=lambda: True,
    )
    try:
        with statements_sent(engine) as sent:
            assert dispatcher.dispatch() == 0
    finally:
        dispatcher.shutdown(grace_s=0)
    seen = [flat(statement) for statement, _ in sent]
    if engine.dialect.name == "sqlite":
        assert seen == []
        return
    # PostgreSQL: no BEGIN IMMEDIATE (SQLite's write lock) to take; one EXISTS read.
    reads = [s for s in seen if not s.startswith("BEGIN")]
    assert len(reads) == 1 and reads[0].startswith("SELECT (EXISTS"), reads


def test_on_sqlite_the_waker_answers_as_dispatchable_does_over_its_own_connection(sqlite_engine):
    make_instance(sqlite_engine, state=InstanceState.READY, comfy_url="http://gpu:8188")
    waker = QueueWaker(sqlite_engine, pool="default")
    other = QueueWaker(sqlite_engine, pool="other")
    try:
        with statements_sent(sqlite_engine) as sent:
            before = waker.may_have_work()
            _submit_like_the_studio(sqlite_engine, make_user(sqlite_engine))
            sent.clear()
            after, elsewhere = waker.may_have_work(), other.may_have_work()
        assert (before, after, elsewhere, sent) == (False, True, False, [])
    finally:
        waker.close()
        other.close()
