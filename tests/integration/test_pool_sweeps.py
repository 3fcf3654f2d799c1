"""The tick planning from sweeps paged apart from it, against the Vast simulator enforcing Vast's
per-endpoint minimum intervals, with the client pacing itself as production builds it.

Every test here drives the lister by hand (`sweeps_inline` off): a sweep is taken exactly
when the test says, so a tick can be made to plan from a sweep older than what it judges.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from core.models import InstanceState
from core.pool.actions import DestroyOrphan, MarkLost, Rent
from core.pool.vast import MIN_INTERVAL_S, Pacer
from testing.factories import make_leased_job, make_rentable_pool
from testing.pool_harness import PoolHarness

LIVE = (InstanceState.BOOTING, InstanceState.READY, InstanceState.BUSY)


@pytest.fixture
def pool(engine, vast, fake_clock) -> Iterator[PoolHarness]:
    """A pool of 2 on a simulator refusing calls sooner than Vast allows, its client pacing
    itself; a pacing wait moves both clocks instead of sleeping. Ticks do not sweep."""
    make_rentable_pool(engine, desired_size=2, max_instances=4, boot_timeout_s=600)
    vast.faults(min_intervals=True)
    harness = PoolHarness(engine, vast, fake_clock)

    def wait(seconds: float) -> None:
        vast.advance(seconds)
        fake_clock.advance(seconds)

    harness.client.sleep = wait
    harness.client.pacer = Pacer(MIN_INTERVAL_S, clock=vast.state.now, sleep=wait)
    harness.manager.sweeps_inline = False
    harness.configure(prewarm_until=fake_clock.now() + timedelta(days=1))
    yield harness
    harness.close()


def _tick(pool: PoolHarness, seconds: float = 30, *, sweep: bool = False):
    """A tick after `seconds`, the lister sweeping once first if `sweep`."""
    pool.clock.advance(seconds)
    pool.sim.advance(seconds)
    if sweep:
        assert pool.manager.lister.sweep() is not None
    return pool.manager.reconcile()


def _calls(pool: PoolHarness, endpoint: str) -> int:
    return sum(e == endpoint for _m, e, _s in pool.sim.state.calls)


def _refusals(pool: PoolHarness) -> int:
    return sum(status == 429 for _m, _e, status in pool.sim.state.calls)


def _ready_pool(pool: PoolHarness) -> None:
    _tick(pool, sweep=True)  # rents 2
    _tick(pool, sweep=True)  # listed, healthy: ready
    assert len(pool.rows(InstanceState.READY)) == 2


def test_the_tick_makes_no_list_call(pool):
    _ready_pool(pool)
    pages = _calls(pool, "list")
    for _ in range(3):
        report = _tick(pool)
        assert report.observed == 2 and report.errors == []
    assert _calls(pool, "list") == pages and _refusals(pool) == 0


def test_without_a_sweep_the_tick_rents_and_destroys_nothing(pool):
    report = _tick(pool)
    assert report.observed is None and report.actions == [] and pool.rows() == []


def test_a_tick_reports_the_lister_failing_until_a_pass_lists_again(pool):
    _ready_pool(pool)
    pool.sim.faults(list_outage=True)
    assert pool.manager.lister.sweep() is None
    assert any(error.startswith("list failed") for error in _tick(pool).errors)
    pool.sim.faults(list_outage=False)
    _tick(pool, sweep=True)
    assert _tick(pool).errors == []


def test_an_instance_created_after_the_sweep_began_is_not_lost_on_that_sweep(pool):
    """Two sweeps, both empty, then a create: ticks long after, still on those sweeps, must
    not take the instance for gone (a plan treating a sweep as now, or counting absences per
    tick, loses it and fails its job)."""
    pool.configure(desired_size=1, prewarm_until=None)
    _tick(pool, 0, sweep=True)  # asleep: nothing rented
    _tick(pool, 0, sweep=True)
    pool.configure(prewarm_until=pool.clock.now() + timedelta(days=1))
    report = _tick(pool, 1)
    assert [type(a) for a in report.actions] == [Rent]
    (row,) = pool.rows(*LIVE)
    make_leased_job(pool.engine, row, acquired_at=pool.clock.now(), lease_s=3600)
    for _ in range(4):
        report = _tick(pool, 60)  # the list grace long passed; no newer sweep
        assert not any(isinstance(a, MarkLost | Rent) for a in report.actions)
    assert [r.id for r in pool.rows(*LIVE)] == [row.id] and pool.hooks.failed == []
    assert len(pool.sim.alive()) == 1


def test_a_ghost_is_lost_after_two_sweeps_not_two_ticks(pool):
    _ready_pool(pool)
    _tick(pool, 120, sweep=True)  # past the list grace since they were created
    first = pool.rows(InstanceState.READY)[0]
    pool.sim.operate(first.provider_id, "vanish")
    report = _tick(pool, sweep=True)  # absent from one sweep
    assert not any(isinstance(a, MarkLost) for a in report.actions)
    report = _tick(pool)  # the same sweep again: still one absence
    assert not any(isinstance(a, MarkLost) for a in report.actions)
    report = _tick(pool, sweep=True)  # absent from a second sweep
    assert MarkLost(first.id, "gone at the provider") in report.actions
    assert pool.leaked() == []


def test_an_orphan_is_destroyed_once_not_on_every_tick_reading_the_same_sweep(pool):
    _ready_pool(pool)
    orphan = pool.sim.seed("aik-default-999-abcd")
    foreign = pool.sim.seed("someone-else")
    report = _tick(pool, sweep=True)
    assert DestroyOrphan(str(orphan), "aik-default-999-abcd") in report.actions
    destroys = _calls(pool, "destroy")
    for _ in range(2):
        report = _tick(pool)  # the sweep still lists it: it began before the destroy
        assert not any(isinstance(a, DestroyOrphan) for a in report.actions)
    assert _calls(pool, "destroy") == destroys
    _tick(pool, sweep=True)
    alive = {inst["id"] for inst in pool.sim.alive()}
    assert orphan not in alive and foreign in alive and _refusals(pool) == 0


def test_a_destroy_is_confirmed_only_by_a_sweep_begun_after_it(pool):
    """An instance absent from a sweep begun before its destroy failed (500) must stay
    terminating (still accruing, in our books) until a later sweep shows it gone."""
    pool.configure(desired_size=1)
    pool.manager.lister.sweep()  # empty: begun before the create
    _tick(pool, 1)  # rents one, not listed yet
    (row,) = pool.rows(*LIVE)
    pool.sim.faults(destroy_fail_times=3)  # every try of the client's
    pool.configure(prewarm_until=None, desired_size=0)
    report = _tick(pool, 1)  # asleep: terminate, whose destroy fails
    assert report.errors
    (row,) = pool.rows()
    assert row.state is InstanceState.TERMINATING
    for _ in range(2):
        _tick(pool)  # the empty sweep is older than the destroy: no word on it
        assert pool.rows()[0].state is InstanceState.TERMINATING
    _tick(pool, sweep=True)  # listed again: destroyed again
    assert pool.rows()[0].state is InstanceState.TERMINATING
    _tick(pool, sweep=True)
    assert pool.rows()[0].state is InstanceState.TERMINATED and pool.sim.alive() == []


def test_a_leader_that_loses_its_lease_mid_sweep_publishes_nothing_and_its_successor_waits(
    pool,
):
    """Leadership lost while a sweep pages: the sweep is not published and the old leader's
    board is emptied. The successor (a fresh process: no sweep yet) decides nothing until its
    own first sweep, then neither rents twice nor touches the leased instance."""
    _ready_pool(pool)
    leased = pool.rows(InstanceState.READY)[0]
    make_leased_job(pool.engine, leased, acquired_at=pool.clock.now(), lease_s=3600)
    leading = [True]
    original = pool.manager.provider.list_instances

    def list_and_lose(prefix):
        listed = original(prefix)
        leading[0] = False  # the lease expired while the pages came in
        return listed

    old = pool.new_manager(still_leading=lambda: leading[0])
    old.sweeps_inline = False
    old.provider.list_instances = list_and_lose  # type: ignore[method-assign]
    assert old.lister.sweep() is None and old.board.observation(pool.clock.now()) is None
    assert old.reconcile().actions == []

    new = pool.new_manager()
    new.sweeps_inline = False
    creates, destroys = _calls(pool, "create"), _calls(pool, "destroy")
    assert new.reconcile().actions == []  # no sweep of its own yet
    assert new.lister.sweep() is not None
    report = new.reconcile()
    assert not any(isinstance(a, Rent | MarkLost | DestroyOrphan) for a in report.actions)
    assert (_calls(pool, "create"), _calls(pool, "destroy")) == (creates, destroys)
    assert len(pool.rows(*LIVE)) == 2 and pool.leaked() == [] and _refusals(pool) == 0
