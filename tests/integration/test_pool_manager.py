"""The reconcile loop against the Vast simulator over HTTP: lifecycle, faults, money safety."""

from datetime import timedelta
from decimal import Decimal

import pytest

from core.db import session_scope
from core.models import BadMachine, InstanceState
from core.pool.actions import Adopt, DestroyOrphan, EnterSafeMode, MarkLost, Rent
from scheduler.leader import LeaderLease
from testing.factories import make_job, make_leased_job, make_rentable_pool, make_user
from testing.pool_harness import PoolHarness

READY, BOOTING, TERMINATING = InstanceState.READY, InstanceState.BOOTING, InstanceState.TERMINATING


@pytest.fixture
def pool(engine, vast, fake_clock):
    make_rentable_pool(
        engine,
        desired_size=1,
        max_instances=3,
        boot_timeout_s=600,
    )
    harness = PoolHarness(engine, vast, fake_clock)
    yield harness
    harness.close()


def _wake(pool):
    pool.configure(prewarm_until=pool.clock.now() + timedelta(hours=2))


def test_asleep_pool_rents_nothing(pool):
    report = pool.tick()
    assert report.actions == [] and pool.rows() == []


def test_wakes_rents_labels_boots_and_becomes_ready(pool, vast):
    _wake(pool)
    report = pool.tick()
    assert [type(a) for a in report.actions] == [Rent]
    (row,) = pool.rows()
    assert (
        row.state is BOOTING and row.label.startswith(f"aik-default-{row.id}-") and row.provider_id
    )
    assert [inst["label"] for inst in vast.alive()] == [row.label]
    pool.tick()
    (row,) = pool.rows()
    assert row.state is READY and row.comfy_url.startswith("http://127.0.0.1:")


def test_unhealthy_comfy_never_becomes_ready_and_is_replaced_after_boot_timeout(pool, vast):
    pool.healthy = set()
    _wake(pool)
    pool.tick()
    for _ in range(5):
        pool.tick(60)
    assert pool.rows(READY) == []
    pool.tick(400)  # past the 600 s boot timeout
    pool.tick()
    first = pool.rows()[0]
    assert first.state in (TERMINATING, InstanceState.TERMINATED)
    assert first.terminate_reason == "boot timeout"
    with session_scope(pool.engine) as session:
        assert session.get(BadMachine, ("default", first.machine_id)) is not None
    assert len(pool.rows(BOOTING)) == 1  # a replacement, on another machine
    assert pool.leaked() == []


def test_idle_pool_terminates_and_confirms_only_when_gone(pool, vast):
    pool.configure(last_demand_at=pool.clock.now())
    pool.tick()
    pool.tick()
    assert len(pool.rows(READY)) == 1
    vast.faults(destroy_linger_s=90)
    pool.tick(900)  # idle timeout passed
    (row,) = pool.rows()
    assert row.state is TERMINATING
    pool.tick()
    assert pool.rows()[0].state is TERMINATING  # still listed: not terminated yet
    pool.tick(90)
    pool.tick()
    assert pool.rows()[0].state is InstanceState.TERMINATED
    assert vast.alive() == []


def test_create_reply_lost_is_adopted_not_repeated(pool, vast):
    vast.faults(create_then_fail="502")
    _wake(pool)
    report = pool.tick()
    assert report.errors
    (row,) = pool.rows()
    assert row.state is InstanceState.REQUESTED
    vast.faults(create_then_fail=None)
    report = pool.tick()
    assert any(isinstance(a, Adopt) for a in report.actions)
    creates = [call for call in vast.state.calls if call[1] == "create"]
    assert len(creates) == 1
    pool.tick()
    assert pool.rows()[0].state is READY


def test_listing_lag_does_not_fail_rows_or_create_twice(pool, vast):
    vast.faults(list_lag_s=75)
    _wake(pool)
    pool.tick()
    for _ in range(2):
        report = pool.tick(30)
        assert not any(isinstance(a, MarkLost | Rent) for a in report.actions)
    pool.tick(30)
    pool.tick()
    assert len(pool.rows(READY)) == 1 and len(vast.alive()) == 1


def test_list_outage_takes_no_provider_action(pool, vast):
    _wake(pool)
    vast.faults(list_outage=True)
    report = pool.tick()
    assert report.observed is None and report.actions == []
    assert vast.alive() == []


def test_vanished_instance_is_lost_its_job_requeued_and_replaced(pool, vast, engine):
    _wake(pool)
    pool.tick()
    pool.tick()
    (row,) = pool.rows(READY)
    job = make_leased_job(engine, row, acquired_at=pool.clock.now(), lease_s=30 * 60)
    vast.operate(row.provider_id, "vanish")
    for _ in range(3):  # absent on two ticks and past the listing grace period
        pool.tick()
    assert pool.rows()[0].state is InstanceState.LOST
    assert pool.hooks.requeued == [job.id]
    pool.tick()
    assert len(pool.rows(BOOTING, READY)) == 1


@pytest.mark.parametrize("status", ["exited", "stopped"])
def test_provider_failed_instance_is_destroyed(pool, vast, status):
    _wake(pool)
    pool.tick()
    (row,) = pool.rows()
    vast.operate(row.provider_id, status)
    if status == "stopped":  # Vast stopped it (no credit, outbid): its disk would bill on
        assert [inst["label"] for inst in pool.leaked()] == [row.label]
    pool.tick()
    assert pool.rows()[0].state is TERMINATING
    pool.tick()
    assert all(inst["label"] != row.label for inst in vast.alive())
    assert pool.leaked() == []


def test_orphans_are_destroyed_and_foreign_instances_untouched(pool, vast):
    orphan = vast.seed("aik-default-999")
    foreign = vast.seed("someone-elses-job")
    unlabelled = vast.seed(None)
    report = pool.tick()
    assert [a for a in report.actions if isinstance(a, DestroyOrphan)] == [
        DestroyOrphan(str(orphan), "aik-default-999")
    ]
    alive = {inst["id"] for inst in vast.alive()}
    assert orphan not in alive and {foreign, unlabelled} <= alive


def test_a_second_instance_under_a_live_rows_label_is_destroyed_and_the_row_keeps_its_own(
    pool, vast
):
    # Vast created twice for one row, or someone started an instance under our label: it
    # bills, and the label alone kept it from counting as an orphan while the row lived.
    _wake(pool)
    pool.tick()
    pool.tick()
    (row,) = pool.rows(READY)
    duplicate = vast.seed(row.label)
    for _ in range(3):
        pool.tick()
    alive = {str(inst["id"]) for inst in vast.alive()}
    assert str(duplicate) not in alive and row.provider_id in alive
    (kept,) = pool.rows(READY)
    assert (kept.id, kept.provider_id) == (row.id, row.provider_id)
    assert pool.leaked() == []


def test_safe_mode_destroys_everything_and_rents_nothing(pool, vast):
    _wake(pool)
    pool.configure(desired_size=2)
    pool.tick()
    pool.tick()
    pool.configure(safe_mode=True)
    pool.tick()
    pool.tick()
    assert vast.alive() == [] and pool.rows(READY, BOOTING) == []
    assert not any(isinstance(a, Rent) for a in pool.tick().actions)


def test_budget_cap_switches_safe_mode_on(pool, vast):
    _wake(pool)
    pool.configure(daily_budget_usd=Decimal("0.05"))
    pool.tick()
    actions = []
    for _ in range(30):
        actions += pool.tick(300).actions
        if not vast.alive():
            break
    assert any(isinstance(a, EnterSafeMode) for a in actions)
    assert vast.alive() == []


def test_destroy_failures_are_retried_until_the_instance_is_gone(pool, vast):
    _wake(pool)
    pool.tick()
    pool.tick()
    vast.faults(destroy_fail_times=4)
    pool.configure(safe_mode=True)
    for _ in range(5):
        pool.tick()
    assert vast.alive() == []
    pool.tick()
    assert pool.rows()[0].state is InstanceState.TERMINATED


def test_restart_between_row_and_create_is_converged(pool, vast):
    """A scheduler killed after sending create: a new manager adopts by label."""
    vast.faults(create_then_fail="hang", hang_s=3)
    _wake(pool)
    pool.tick()  # the client times out: unknown outcome
    vast.faults(create_then_fail=None)
    pool.manager = pool.new_manager()
    pool.tick()
    pool.tick()
    assert len(pool.rows(READY)) == 1 and pool.leaked() == []


@pytest.mark.parametrize("desired", [0, 1])
def test_full_cycle_cold_start_job_idle_terminate_on_a_fake_clock(pool, vast, engine, desired):
    """A queued job wakes the cold pool; the instance boots, serves it, idles 15 min, goes
    (at desired size 0 too: the size is a floor, not a cap on warmth a job paid for)."""
    from core.pool import leases

    job = make_job(engine, make_user(engine))
    pool.configure(desired_size=desired)
    pool.queued = 1
    pool.tick()
    (row,) = pool.rows()
    assert row.state is BOOTING
    pool.tick()
    assert pool.rows()[0].state is READY
    with session_scope(engine) as session:
        claim = leases.acquire(session, pool="default", job_id=job.id, now=pool.clock.now())
    pool.queued = 0
    assert claim is not None and pool.rows()[0].state is InstanceState.BUSY
    pool.tick(60)  # mid-job: busy instances are never reaped
    assert pool.rows()[0].state is InstanceState.BUSY
    with session_scope(engine) as session:
        assert leases.release(
            session, lease_id=claim.lease_id, now=pool.clock.now(), outcome="succeeded"
        )
    pool.tick(600)
    assert pool.rows()[0].state is READY  # still warm within the idle timeout
    pool.tick(301)  # 15 min after the last use
    pool.tick()
    assert pool.rows()[0].state is InstanceState.TERMINATED and vast.alive() == []
    with session_scope(engine) as session:
        assert session.get(type(row), row.id).cost_accrued_usd > 0


def test_a_leader_fenced_out_mid_tick_rents_and_destroys_nothing(pool, vast):
    paused = LeaderLease(pool.engine, pool.clock, "paused", ttl_s=60)
    successor = LeaderLease(pool.engine, pool.clock, "successor", ttl_s=60)
    assert paused.acquire_or_renew()
    pool.manager.still_leading = paused.holds
    orphan = vast.seed("aik-default-999-cafe")
    _wake(pool)
    pool.clock.advance(61)  # paused past its lease (SIGSTOP); a standby takes over
    assert successor.acquire_or_renew()
    report = pool.tick()
    assert report.actions, "the stale plan had actions to take"
    assert any("leadership lost" in error for error in report.errors)
    assert pool.rows() == [] and [i["id"] for i in vast.alive()] == [orphan]


def test_a_row_left_by_a_crash_before_its_create_holds_no_capacity(pool, vast, engine):
    """Killed between committing the row and sending create: the next tick closes the row and
    rents at once instead of waiting out the listing grace."""
    from testing.factories import make_instance

    make_instance(
        engine,
        state=InstanceState.REQUESTED,
        label="aik-default-77-dead",
        created_at=pool.clock.now() - timedelta(seconds=20),
    )
    _wake(pool)
    report = pool.tick()
    assert any(isinstance(a, Rent) for a in report.actions)
    assert [r.state for r in pool.rows()] == [InstanceState.TERMINATED, BOOTING]
    pool.tick()
    assert len(pool.rows(READY)) == 1 and pool.leaked() == []


def test_every_create_is_marked_sent_before_the_call(pool, vast):
    vast.faults(create_then_fail="502")
    _wake(pool)
    pool.tick()
    (row,) = pool.rows()
    assert row.state is InstanceState.REQUESTED and row.create_sent_at is not None
