"""Cost accrual, spend windows, credit pricing and duration estimates."""

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlmodel import delete, select

from core.db import read_scope, session_scope
from core.models import GpuInstance, JobStatus, PoolSpendDay, UsageEvent
from core.pool import costs, reports
from testing.factories import make_instance, make_job, make_user
from ui import spend_frames


def test_cost_is_exact_to_the_micro_dollar():
    assert costs.cost_for(Decimal("0.36"), 3600) == Decimal("0.360000")
    assert costs.cost_for(Decimal("0.36"), 30) == Decimal("0.003000")
    assert costs.cost_for(Decimal("1.234567"), 1) == Decimal("0.000343")


def priced_instance(engine, clock, price_per_hour):
    """A rented instance `v1` at `price_per_hour` dollars, created now."""
    return make_instance(
        engine,
        provider_id="v1",
        price_per_hour_usd=Decimal(price_per_hour),
        created_at=clock.now(),
    )


def accrue_after(engine, clock, row, steps_s):
    """Accrue `row`'s cost after each step of the clock, each in a unit of work of its own."""
    for step in steps_s:
        clock.advance(step)
        with session_scope(engine) as session:
            costs.accrue(session, instance=session.get(GpuInstance, row.id), now=clock.now())


def test_accrual_runs_from_creation_and_is_recorded_per_interval(engine, fake_clock):
    row = priced_instance(engine, fake_clock, "0.72")
    accrue_after(engine, fake_clock, row, [30] * 4)
    with read_scope(engine) as session:
        stored = session.get(GpuInstance, row.id)
        spent = costs.spend_since(
            session, pool="default", since=fake_clock.now() - timedelta(hours=1)
        )
    assert stored.cost_accrued_usd == Decimal("0.024")
    assert spent == Decimal("0.024")


def test_an_instance_never_created_costs_nothing(engine, fake_clock):
    row = make_instance(engine, price_per_hour_usd=Decimal("0.72"), created_at=fake_clock.now())
    fake_clock.advance(3600)
    with session_scope(engine) as session:
        assert (
            costs.accrue(session, instance=session.get(GpuInstance, row.id), now=fake_clock.now())
            == 0
        )


def test_spend_windows_are_utc_day_and_month():
    now = datetime(2026, 3, 17, 15, 4, tzinfo=UTC)
    assert costs.day_start(now) == datetime(2026, 3, 17, tzinfo=UTC)
    assert costs.month_start(now) == datetime(2026, 3, 1, tzinfo=UTC)


def test_credits_round_up_and_are_at_least_one():
    assert costs.credits_for_cost(Decimal("0.031"), Decimal("0.01")) == 4
    assert costs.credits_for_cost(Decimal("0"), Decimal("0.01")) == 1


def _median(engine, preset="low"):
    with read_scope(engine) as session:
        return costs.median_duration_s(
            session, preset=preset, model="sdxl-base", kind="image", default_s=99
        )


def test_estimate_uses_the_median_of_recent_jobs_after_three_measurements(engine, fake_clock):
    user = make_user(engine)
    start = fake_clock.now()
    for seconds in (10, 30):
        make_job(
            engine,
            user,
            status=JobStatus.SUCCEEDED,
            started_at=start,
            finished_at=start + timedelta(seconds=seconds),
        )
    assert _median(engine) == 99  # two measurements are not enough
    make_job(
        engine,
        user,
        status=JobStatus.SUCCEEDED,
        started_at=start,
        finished_at=start + timedelta(seconds=20),
    )
    assert _median(engine) == 20
    assert _median(engine, preset="high") == 99


def test_estimate_is_per_batch_item(engine, fake_clock):
    user = make_user(engine)
    start = fake_clock.now()
    for _ in range(3):
        make_job(
            engine,
            user,
            status=JobStatus.SUCCEEDED,
            batch_size=4,
            started_at=start,
            finished_at=start + timedelta(seconds=40),
        )
    assert _median(engine) == 10


def test_spend_per_day_sums_accruals_per_utc_day_exactly(engine, fake_clock):
    row = priced_instance(engine, fake_clock, "3.60")
    start = fake_clock.now()
    accrue_after(engine, fake_clock, row, [600, 600, 86400])  # two today, one the next day
    with read_scope(engine) as session:
        per_day = reports.spend_per_day(session, pool="default", since=start)
        other = reports.spend_per_day(session, pool="other", since=start)
    assert list(per_day.values()) == [Decimal("1.2"), Decimal("86.4")]
    assert list(per_day) == sorted(per_day) and other == {}
    frame = spend_frames.daily_spend(per_day)
    assert list(frame.columns) == ["day", "cost_usd"]
    assert frame["cost_usd"].tolist() == [Decimal("1.2"), Decimal("86.4")]  # exact for CSV
    assert spend_frames.for_chart(frame)["cost_usd"].tolist() == pytest.approx([1.2, 86.4])


def test_job_records_report_gpu_seconds_and_credits(engine, fake_clock):
    user = make_user(engine)
    started = fake_clock.now()
    make_job(
        engine,
        user,
        status=JobStatus.SUCCEEDED,
        created_at=started,
        started_at=started,
        finished_at=started + timedelta(seconds=42),
        charged_credits=7,
    )
    make_job(engine, user, status=JobStatus.QUEUED, created_at=started)
    with read_scope(engine) as session:
        frame = spend_frames.jobs(reports.job_records(session, since=started - timedelta(days=1)))
    done = frame[frame["status"] == "succeeded"].iloc[0]
    assert (done["gpu_s"], done["credits"]) == (42.0, 7)
    assert frame[frame["status"] == "queued"].iloc[0]["gpu_s"] == 0.0


def test_utilisation_splits_rented_hours_into_busy_and_idle(engine, fake_clock):
    from core.models import Lease, UsageEvent

    user = make_user(engine)
    job = make_job(engine, user)
    row = priced_instance(engine, fake_clock, "1")
    start = fake_clock.now()
    fake_clock.advance(3 * 3600)
    with session_scope(engine) as session:
        costs.accrue(session, instance=session.get(GpuInstance, row.id), now=fake_clock.now())
        session.add(
            Lease(
                instance_id=row.id,
                job_id=job.id,
                acquired_at=start,
                expires_at=start + timedelta(hours=1),
                released_at=start + timedelta(hours=1),
            )
        )
        session.add(UsageEvent(at=start, pool="default", kind="instance_ready", duration_s=200.0))
    with read_scope(engine) as session:
        hours = reports.gpu_hours_per_day(
            session, pool="default", since=start, now=fake_clock.now()
        )
        boots = spend_frames.cold_starts(reports.boots(session, pool="default", since=start))
    frame = spend_frames.gpu_hours(hours)
    assert frame[["total_h", "busy_h", "idle_h"]].sum().tolist() == pytest.approx([3, 1, 2])
    assert boots["boot_s"].tolist() == [200.0]


def _accrual(engine, at, cost_usd, pool="default"):
    from core.models import UsageEvent

    with session_scope(engine) as session:
        session.add(
            UsageEvent(
                at=at, pool=pool, kind=costs.ACCRUAL_EVENT, cost_usd=Decimal(cost_usd), duration_s=1
            )
        )


def test_spend_per_hour_sums_accruals_per_utc_hour(engine):
    start = datetime(2026, 3, 9, 10, 0, tzinfo=UTC)
    for minutes, cost in ((5, "0.10"), (55, "0.20"), (65, "0.40"), (-5, "9")):
        _accrual(engine, start + timedelta(minutes=minutes), cost)
    _accrual(engine, start + timedelta(minutes=10), "5", pool="other")
    with read_scope(engine) as session:
        per_hour = reports.spend_per_hour(session, pool="default", since=start)
    assert [hour.hour for hour in per_hour] == [10, 11]
    assert list(per_hour.values()) == [Decimal("0.30"), Decimal("0.40")]


def test_month_budget_runs_the_month_to_date_beside_both_caps(engine):
    from testing.factories import make_pool

    make_pool(engine, daily_budget_usd=Decimal("4"), monthly_budget_usd=Decimal("50"))
    now = datetime(2026, 3, 4, 18, 0, tzinfo=UTC)
    _accrual(engine, datetime(2026, 2, 28, 12, tzinfo=UTC), "30")  # last month: not counted
    _accrual(engine, datetime(2026, 3, 1, 1, tzinfo=UTC), "1.5")
    _accrual(engine, datetime(2026, 3, 1, 23, tzinfo=UTC), "1.0")
    _accrual(engine, datetime(2026, 3, 3, 9, tzinfo=UTC), "4.5")
    with read_scope(engine) as session:
        month = reports.month_budget(session, pool="default", now=now)
        missing = reports.month_budget(session, pool="nope", now=now)
    assert [d.day.day for d in month] == [1, 2, 3, 4]
    assert [d.spend_usd for d in month] == [Decimal("2.5"), 0, Decimal("4.5"), 0]
    assert [d.month_to_date_usd for d in month] == [Decimal("2.5"), Decimal("2.5"), 7, 7]
    assert {(d.daily_cap_usd, d.monthly_cap_usd) for d in month} == {(Decimal(4), Decimal(50))}
    assert missing == []
    frame = spend_frames.for_chart(spend_frames.budget(month))
    assert frame["month_to_date_usd"].tolist() == pytest.approx([2.5, 2.5, 7.0, 7.0])
    assert spend_frames.budget(missing).empty


def test_spend_is_a_running_sum_per_day_not_a_sum_over_history(engine, fake_clock):
    """Budgets read the day rows: the accrual events can be archived without changing them."""
    row = priced_instance(engine, fake_clock, "0.36")
    accrue_after(engine, fake_clock, row, [3600] * 3)
    with session_scope(engine) as session:
        session.exec(delete(UsageEvent))  # archived: the per-tick path must not need them
    with read_scope(engine) as session:
        (day,) = session.exec(select(PoolSpendDay)).all()
        spent = costs.spend_since(session, pool="default", since=costs.day_start(fake_clock.now()))
        instance = session.get(GpuInstance, row.id)
    assert day.accrued_usd == spent == instance.cost_accrued_usd == Decimal("1.08")


def test_an_accrual_across_midnight_lands_in_the_day_it_was_recorded(engine):
    late = datetime(2026, 3, 17, 23, 59, 30, tzinfo=UTC)
    row = make_instance(
        engine, provider_id="v1", price_per_hour_usd=Decimal("3.6"), created_at=late
    )
    with session_scope(engine) as session:
        costs.accrue(
            session, instance=session.get(GpuInstance, row.id), now=late + timedelta(minutes=1)
        )
    with read_scope(engine) as session:
        today = costs.spend_since(session, pool="default", since=datetime(2026, 3, 18, tzinfo=UTC))
        before = costs.spend_since(session, pool="default", since=datetime(2026, 3, 17, tzinfo=UTC))
    assert today == before == Decimal("0.06")


def test_concurrent_additions_to_a_day_are_all_kept(engine):
    """Two writers add to one day row at once (upsert): neither overwrites the other."""
    day = datetime(2026, 3, 17, tzinfo=UTC).date()
    start = threading.Barrier(4)

    def add() -> None:
        start.wait()
        for _ in range(25):
            with session_scope(engine) as session:
                costs.add_spend(session, pool="default", day=day, amount_usd=Decimal("0.01"))

    threads = [threading.Thread(target=add) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with read_scope(engine) as session:
        assert session.get(PoolSpendDay, ("default", day)).accrued_usd == Decimal("1.00")
