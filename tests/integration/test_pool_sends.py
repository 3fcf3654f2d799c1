"""Creates and destroys sent by the manager's senders apart from the tick, against the Vast
simulator: the tick only queues them (`sends_inline` off), and each test sends them when it
says (`send_next`), or on worker threads for the concurrency test.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest

from core.models import InstanceState
from core.pool.actions import Adopt, ConfirmTerminated, MarkReady, Rent, RetryDestroy, Terminate
from testing.factories import make_rentable_pool
from testing.pool_harness import PoolHarness

REQUESTED, BOOTING = InstanceState.REQUESTED, InstanceState.BOOTING
TERMINATING, TERMINATED = InstanceState.TERMINATING, InstanceState.TERMINATED


@pytest.fixture
def pool(engine, vast, fake_clock) -> Iterator[PoolHarness]:
    """A pool of 3, awake; ticks queue their creates and destroys and send none."""
    make_rentable_pool(engine, desired_size=3, max_instances=5, boot_timeout_s=600)
    harness = PoolHarness(engine, vast, fake_clock)
    harness.manager.sends_inline = False
    harness.configure(prewarm_until=fake_clock.now() + timedelta(days=1))
    yield harness
    harness.close()


def _calls(vast, endpoint: str) -> int:
    return sum(1 for _method, called, _status in vast.state.calls if called == endpoint)


def _send_all(pool: PoolHarness) -> list[str]:
    failures = []
    while len(pool.manager.creates) or len(pool.manager.destroys):
        for sender in (pool.manager.destroys, pool.manager.creates):
            if (failure := sender.send_next()) is not None:
                failures.append(failure)
    return failures


def test_a_tick_queues_its_creates_and_a_queued_create_is_neither_rented_again_nor_closed(
    pool, vast
):
    report = pool.tick()
    assert [type(a) for a in report.actions] == [Rent]
    assert _calls(vast, "create") == 0, "the tick sent nothing itself"
    rows = pool.rows()
    assert [row.state for row in rows] == [REQUESTED] * 3
    assert pool.manager.creates.pending() == {row.id for row in rows}
    # Past the grace an unsent row gets: still queued, so neither closed nor rented again.
    report = pool.tick(60)
    assert report.actions == [] and len(pool.rows()) == 3
    assert _send_all(pool) == []
    assert [row.state for row in pool.rows()] == [BOOTING] * 3
    assert _calls(vast, "create") == 3 and _calls(vast, "search") == 1
    assert [type(a) for a in pool.tick().actions] == [MarkReady] * 3
    assert pool.leaked() == []


def test_a_create_whose_reply_is_lost_is_adopted_not_sent_again(pool, vast):
    pool.configure(desired_size=1)
    vast.faults(create_then_fail="502")
    pool.tick()
    (failure,) = _send_all(pool)
    assert failure.startswith("create:")
    (row,) = pool.rows()
    assert row.state is REQUESTED and row.create_sent_at is not None
    assert pool.manager.creates.pending() == frozenset()
    vast.faults(create_then_fail=None)
    report = pool.tick()
    assert any(isinstance(a, Adopt) for a in report.actions)
    assert not any(isinstance(a, Rent) for a in report.actions)
    assert _send_all(pool) == []
    assert _calls(vast, "create") == 1
    assert [row.state for row in pool.rows()] == [BOOTING] and pool.leaked() == []


def test_a_queued_destroy_is_not_decided_again_and_a_failed_one_is_retried(pool, vast):
    pool.configure(desired_size=1)
    pool.tick()
    _send_all(pool)
    pool.tick()  # ready
    (row,) = pool.rows()
    pool.configure(desired_size=0, prewarm_until=None)
    vast.faults(destroy_fail_times=3)  # every try of the client's
    report = pool.tick(30)
    assert any(isinstance(a, Terminate) for a in report.actions)
    assert pool.manager.destroys.pending() == {row.provider_id}
    # Sweeps begun after the row turned terminating still list it: with its destroy queued,
    # no tick decides it again.
    for _ in range(3):
        assert not any(isinstance(a, RetryDestroy) for a in pool.tick().actions)
    assert len(pool.manager.destroys) == 1
    (failure,) = _send_all(pool)
    assert failure.startswith("destroy:")
    assert pool.rows()[0].state is TERMINATING and len(vast.alive()) == 1
    report = pool.tick()
    assert [type(a) for a in report.actions] == [RetryDestroy]
    assert _send_all(pool) == []
    assert vast.alive() == []
    assert [type(a) for a in pool.tick().actions] == [ConfirmTerminated]
    assert pool.rows()[0].state is TERMINATED
    assert _calls(vast, "destroy") == 4  # three tries failed, one sent again


def test_leadership_lost_while_creates_are_queued_sends_none_and_the_successor_closes_them(
    pool, vast
):
    leading = threading.Event()
    leading.set()
    pool.manager.still_leading = pool.manager.creates.still_leading = leading.is_set
    pool.tick()
    assert len(pool.manager.creates) == 3
    leading.clear()  # a standby took over before the worker sent them
    assert _send_all(pool) == []
    assert _calls(vast, "create") == 0 and pool.manager.creates.pending() == frozenset()
    successor = pool.new_manager()
    pool.manager = successor
    report = pool.tick(30)  # past the unsent grace: its sender holds none of them
    closed = [a for a in report.actions if isinstance(a, ConfirmTerminated)]
    assert len(closed) == 3 and all(a.reason == "create was never sent" for a in closed)
    _send_all(pool)
    assert len(pool.rows(BOOTING)) == 3 and pool.leaked() == []
    assert _calls(vast, "create") == 3


def test_a_row_closed_by_a_successor_before_its_create_is_sent_is_not_sent(pool, vast):
    pool.configure(desired_size=1)
    pool.tick()
    (row,) = pool.rows()
    successor = pool.new_manager()
    successor.reconcile()
    pool.clock.advance(30)
    pool.sim.advance(30)
    successor.reconcile()  # its sender holds none: the row is closed as never sent
    assert pool.rows()[0].state is TERMINATED
    assert _send_all(pool) == []
    assert _calls(vast, "create") == 1, "only the successor's own rent"
    assert pool.leaked() == []


def test_stopping_the_senders_leaves_queued_rows_for_the_next_sweep_to_close(pool, vast):
    pool.tick()
    stop = threading.Event()
    stop.set()
    pool.manager.send_forever(pool.manager.creates, stop)  # stopped at once: drops the queue
    assert pool.manager.creates.pending() == frozenset() and _calls(vast, "create") == 0
    report = pool.tick(30)
    assert sum(isinstance(a, ConfirmTerminated) for a in report.actions) == 3
    assert [type(a) for a in report.actions][-1] is Rent


def test_a_clean_stop_sends_queued_destroys_and_leaves_queued_creates_to_the_next_sweep(pool, vast):
    pool.configure(desired_size=2)
    pool.tick()
    _send_all(pool)
    pool.tick()  # both ready
    pool.configure(desired_size=0, prewarm_until=None)
    pool.tick(30)
    assert len(pool.manager.destroys) == 2
    pool.configure(desired_size=2, prewarm_until=pool.clock.now() + timedelta(days=1))
    pool.tick()
    assert len(pool.manager.creates) == 2 and len(vast.alive()) == 2
    stop = threading.Event()
    stop.set()  # SIGTERM before the workers sent any of them
    for sender in (pool.manager.destroys, pool.manager.creates):
        pool.manager.send_forever(sender, stop)
    assert _calls(vast, "destroy") == 2 and vast.alive() == [], "the destroys were sent"
    assert _calls(vast, "create") == 2, "the creates were dropped (only the first two sent)"
    assert pool.manager.destroys.pending() == pool.manager.creates.pending() == frozenset()
    pool.manager = pool.new_manager()  # the next leader
    report = pool.tick(30)
    closed = [a for a in report.actions if isinstance(a, ConfirmTerminated)]
    assert sum(a.reason == "create was never sent" for a in closed) == 2
    assert len(pool.rows(TERMINATED)) == 4 and pool.leaked() == []


def test_ticks_and_sender_threads_at_once_rent_each_instance_once(pool, vast):
    pool.configure(desired_size=5)
    stop = threading.Event()
    threads = [
        threading.Thread(target=pool.manager.send_forever, args=(sender, stop), daemon=True)
        for sender in (pool.manager.creates, pool.manager.destroys)
    ]
    for thread in threads:
        thread.start()
    try:
        for _ in range(40):
            pool.tick(1)
            if len(pool.rows(BOOTING, InstanceState.READY)) == 5:
                break
        else:
            pytest.fail(f"not all rented: {[row.state for row in pool.rows()]}")
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
    assert len(pool.rows()) == 5 and _calls(vast, "create") == 5
    assert pool.leaked() == [] and len({i["label"] for i in vast.alive()}) == 5
