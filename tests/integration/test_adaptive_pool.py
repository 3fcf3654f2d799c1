"""The adaptive pool end to end: learnt demand makes the real manager rent before the burst."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlmodel import select

from core.clock import FakeClock
from core.db import read_scope, session_scope
from core.models import AuditEntry, InstanceState, JobStatus, PoolConfig
from core.pool import adaptive, leases, manager
from core.pool.actions import Rent
from core.pool.adaptive import DEFAULT_BOOT_S
from core.pool.policy import Expected, PoolSettings, PoolView
from testing.factories import make_job, make_rentable_pool, make_user
from testing.pool_harness import PoolHarness
from tests.integration.test_cli_pool import cli_db, run  # noqa: F401 - the CLI fixture

BURST = datetime(2026, 1, 26, 12, 0, tzinfo=UTC)  # a Monday; sittings at noon every day before


def _noon_history(engine, days: int = 21, jobs: int = 4) -> None:
    user = make_user(engine)
    for day in range(1, days + 1):
        for k in range(jobs):
            make_job(
                engine,
                user,
                status=JobStatus.SUCCEEDED,
                created_at=BURST - timedelta(days=day) + timedelta(seconds=60 * k),
            )


@pytest.fixture
def pool(engine, vast):
    clock = FakeClock(BURST - timedelta(minutes=30))
    make_rentable_pool(
        engine,
        desired_size=1,
        max_instances=2,
        wait_value_per_hour_usd=Decimal("20"),
    )
    _noon_history(engine)
    harness = PoolHarness(engine, vast, clock)
    harness.manager.relearn()  # the scheduler's learning job, run as it starts
    yield harness
    harness.close()


def _first_rent(pool: PoolHarness, until: datetime) -> datetime | None:
    while pool.clock.now() < until:
        report = pool.tick()
        if any(isinstance(action, Rent) for action in report.actions):
            return pool.clock.now()
    return None


def test_a_learnt_daily_burst_is_prewarmed_one_boot_ahead_and_ready_when_it_starts(pool):
    rented_at = _first_rent(pool, BURST)
    assert rented_at is not None, "the pool stayed asleep although every noon was busy"
    lead_s = (BURST - rented_at).total_seconds()
    assert DEFAULT_BOOT_S - 30 <= lead_s <= DEFAULT_BOOT_S + 30
    report = pool.tick()
    assert report.advice is not None and report.advice.prewarm_until > BURST
    assert [row.state for row in pool.rows()] == [InstanceState.READY]


def test_with_adaptive_off_the_same_history_rents_nothing_before_demand(pool):
    pool.configure(adaptive=False)
    assert _first_rent(pool, BURST + timedelta(minutes=5)) is None
    assert pool.rows() == []


def test_cli_turns_adaptive_off_sets_the_wait_value_and_audits_it(cli_db):  # noqa: F811
    status, out = run("pool", "adaptive", "off", "--wait-value", "7.5")
    assert status == 0 and "adaptive off" in out
    assert "adaptive off" in run("pool", "status")[1]
    with read_scope(cli_db) as session:
        config = session.get(PoolConfig, "default")
        entry = session.exec(select(AuditEntry).where(AuditEntry.action == "pool.adaptive")).one()
    assert config.adaptive is False and config.wait_value_per_hour_usd == Decimal("7.5")
    assert entry.details == {"on": False, "wait_value_per_hour_usd": "7.5"}
    assert run("pool", "adaptive", "on", "--wait-value", "-1")[0] != 0


def test_a_tick_never_learns_and_reads_what_the_learning_job_kept(engine, vast, monkeypatch):
    """The ticks plan with the profile the scheduler's learning job kept, whatever the time
    since: submissions arriving after a learning change the advice only once the job learns
    again, and no tick (the first after a start included) ever runs the learner."""
    learnt: list[datetime] = []
    learn = adaptive.learn

    def counted(arrivals, now, *args, **kwargs):
        learnt.append(now)
        return learn(arrivals, now, *args, **kwargs)

    monkeypatch.setattr(adaptive, "learn", counted)
    make_rentable_pool(engine, desired_size=1, max_instances=2)
    _noon_history(engine)
    harness = PoolHarness(engine, vast, FakeClock(BURST - timedelta(hours=3)))
    try:
        first = harness.tick()  # before any learning: the configured timeout, no waiting
        assert first.advice is not None and "too little demand history" in first.advice.reason
        later = [harness.tick(31 * 60) for _ in range(3)]  # past the hour: still no learning
        assert all("too little demand history" in r.advice.reason for r in later if r.advice)
        assert learnt == []
        harness.manager.relearn()
        assert learnt == [harness.clock.now()]
        relearnt = harness.tick()
        assert relearnt.advice is not None and relearnt.advice.reason.startswith("idle ")
        assert len(learnt) == 1
    finally:
        harness.close()


def _planned(monkeypatch) -> list[tuple[PoolSettings, PoolView]]:
    """The settings and view of every `plan()` call the manager makes, the real plan deciding."""
    planned: list[tuple[PoolSettings, PoolView]] = []
    real_plan = manager.plan

    def recording(settings, view, *args, **kwargs):
        planned.append((settings, view))
        return real_plan(settings, view, *args, **kwargs)

    monkeypatch.setattr(manager, "plan", recording)
    return planned


def test_the_ticks_plan_with_the_advised_timeout_for_extra_gpus(pool, monkeypatch):
    planned = _planned(monkeypatch)
    expected = Expected(boot_s=200, job_s=45)
    advised = adaptive.Advice(1200, None, "idle 1200 s; another GPU idles 120 s", 120, expected)
    monkeypatch.setattr(adaptive, "advise", lambda *args, **kwargs: advised)
    assert pool.tick().advice == advised
    settings, _view = planned[-1]
    assert (settings.idle_timeout_s, settings.extra_idle_timeout_s) == (1200, 120)
    assert settings.expected == expected


def test_the_ticks_see_when_each_busy_instance_took_its_job(pool, monkeypatch):
    planned = _planned(monkeypatch)
    pool.configure(prewarm_until=BURST + timedelta(hours=1))
    while not pool.rows(InstanceState.READY):
        pool.tick()
    job = make_job(pool.engine, make_user(pool.engine))
    with session_scope(pool.engine) as session:
        claim = leases.acquire(session, pool="default", job_id=job.id, now=pool.clock.now())
    assert claim is not None
    taken_at = pool.clock.now()
    pool.tick()
    _settings, view = planned[-1]
    (lease,) = view.leases
    assert (lease.instance_id, lease.acquired_at) == (claim.instance_id, taken_at)


def test_each_learning_replaces_the_profile_the_ticks_read(engine, vast):
    make_rentable_pool(engine, desired_size=1, max_instances=2)
    harness = PoolHarness(engine, vast, FakeClock(BURST - timedelta(hours=3)))
    try:
        assert harness.manager.relearn() is None  # no submissions yet: nothing to learn from
        assert "too little demand history" in harness.tick().advice.reason
        _noon_history(engine)
        assert harness.manager.relearn() is not None
        assert harness.tick().advice.reason.startswith("idle ")
        harness.configure(adaptive=False)
        assert harness.manager.relearn() is None and harness.tick().advice is None
    finally:
        harness.close()
