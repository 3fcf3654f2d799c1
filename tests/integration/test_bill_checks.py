"""Spend checked against Vast's own bill: the simulator's `/charges/` over sockets, per day."""

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlmodel import select

from core.clock import FakeClock
from core.db import read_scope, session_scope
from core.models import BillCheck, PoolConfig, UsageEvent
from core.pool import billing, costs
from core.pool.actions import EnterSafeMode
from core.pool.vast import VastClient, VastProvider
from testing.factories import make_instance, make_pool
from testing.pool_harness import PoolHarness
from testing.sims import SIM_KEY

SEEDED = datetime(2026, 3, 14, 8, 0, tzinfo=UTC)
"""The sim clock when the instances are seeded (each seeded as running for an hour)."""
NOW = datetime(2026, 3, 16, 10, 0, tzinfo=UTC)
YESTERDAY = NOW.date() - timedelta(days=1)


@pytest.fixture
def world(vast, engine):
    """Three seeded instances on the sim (ours, an unclaimed one with our prefix, a foreign
    one), the sim clock at NOW, our row for the first, and a provider over sockets."""
    vast.advance(SEEDED.timestamp() - vast.dump()["now"])
    ours = vast.seed("aik-default-1-abcd")
    unclaimed = vast.seed("aik-default-2-dead")
    vast.seed("someone-else")
    vast.advance((NOW - SEEDED).total_seconds())
    make_pool(engine)
    row = make_instance(engine, label="aik-default-1-abcd", provider_id=str(ours))
    client = VastClient(base_url=vast.url, api_key=SIM_KEY, sleep=lambda _s: None)
    yield {"row": row, "unclaimed": str(unclaimed), "provider": VastProvider(client), "sim": vast}
    client.close()


def _accrue(engine, instance_id, day, amount):
    with session_scope(engine) as session:
        costs.add_spend(session, pool="default", day=day, amount_usd=amount)
        for hour in (1, 13):  # two accruals inside the day
            session.add(
                UsageEvent(
                    at=datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=hour),
                    pool="default",
                    kind="gpu_accrual",
                    instance_id=instance_id,
                    cost_usd=amount / 2,
                    duration_s=43_200,
                )
            )


def _daily_price(sim, provider_id):
    dph = next(i["dph_total"] for i in sim.dump()["instances"] if str(i["id"]) == provider_id)
    return Decimal(str(dph)) * 24


def _reconcile(engine, world, alerts, threshold="1.00"):
    return billing.reconcile_recent(
        engine,
        world["provider"],
        pool="default",
        label_prefix="aik-default-",
        now=NOW,
        alert_above_usd=Decimal(threshold),
        alert=lambda kind, message, **details: alerts.append((kind, details["day"])),
    )


def test_a_day_is_checked_per_instance_against_vasts_bill_and_alerts_on_leaks_and_drift(
    engine, world
):
    row = world["row"]
    daily = _daily_price(world["sim"], row.provider_id)
    _accrue(engine, row.id, YESTERDAY, daily + Decimal("2.50"))  # we over-accrued by $2.50
    alerts: list[tuple[str, str]] = []
    checks = _reconcile(engine, world, alerts)
    assert [c.day for c in checks] == [YESTERDAY - timedelta(days=1), YESTERDAY]
    yesterday = checks[1]
    assert yesterday.accrued_usd == daily + Decimal("2.50")
    leaked = _daily_price(world["sim"], world["unclaimed"])
    assert abs(yesterday.billed_usd - (daily + leaked)) < Decimal("0.01")  # ours + the leak
    assert yesterday.instances == 2 and len(yesterday.unclaimed) == 1
    with read_scope(engine) as session:
        rows = session.exec(select(BillCheck).where(BillCheck.day == YESTERDAY)).all()
    by_label = {r.label: r for r in rows}
    assert set(by_label) == {"aik-default-1-abcd", "aik-default-2-dead"}  # foreign left out
    assert by_label["aik-default-1-abcd"].instance_id == row.id
    assert abs(by_label["aik-default-1-abcd"].billed_usd - daily) < Decimal("0.01")
    assert by_label["aik-default-2-dead"].instance_id is None
    assert ("bill_unclaimed", YESTERDAY.isoformat()) in alerts
    assert ("bill_mismatch", YESTERDAY.isoformat()) in alerts  # the leak's day is off by more
    # Checked again (late charges): the day's rows are replaced, not added.
    _reconcile(engine, world, [])
    with read_scope(engine) as session:
        again = session.exec(select(BillCheck).where(BillCheck.day == YESTERDAY)).all()
    assert len(again) == 2


def test_budgets_count_a_checked_day_at_its_billed_figure(engine, world):
    row = world["row"]
    daily = _daily_price(world["sim"], row.provider_id)
    _accrue(engine, row.id, YESTERDAY, daily * 3)  # pessimistic accrual: three times the bill
    since = datetime.combine(YESTERDAY, datetime.min.time(), UTC)
    with read_scope(engine) as session:
        before = billing.budget_spend_since(session, pool="default", since=since)
    assert before == daily * 3
    _reconcile(engine, world, [], threshold="1000")
    with read_scope(engine) as session:
        after = billing.budget_spend_since(session, pool="default", since=since)
    # Yesterday now counts at what Vast billed: our instance plus the unclaimed one.
    leaked = _daily_price(world["sim"], world["unclaimed"])
    assert abs(after - (daily + leaked)) < Decimal("0.01")


def test_a_bill_above_the_accrual_reaches_the_monthly_budget_and_safe_mode(engine, world):
    row = world["row"]
    daily = _daily_price(world["sim"], row.provider_id)
    _accrue(engine, row.id, YESTERDAY, daily / 4)  # we under-accrued: the bill is higher
    with session_scope(engine) as session:
        config = session.get(PoolConfig, "default")
        config.monthly_budget_usd = daily  # above the accrual, below the bill
        session.add(config)
    harness = PoolHarness(engine, world["sim"], FakeClock(NOW))
    try:
        unchecked = harness.manager.reconcile()
        alerts: list[tuple[str, str]] = []
        _reconcile(engine, world, alerts)
        checked = harness.manager.reconcile()
    finally:
        harness.close()
    assert not any(isinstance(action, EnterSafeMode) for action in unchecked.actions)
    assert ("bill_mismatch", YESTERDAY.isoformat()) in alerts
    assert any(isinstance(action, EnterSafeMode) for action in checked.actions)


def test_two_checks_of_one_day_at_once_leave_one_check(engine, world):
    _accrue(engine, world["row"].id, YESTERDAY, Decimal("5"))
    errors: list[BaseException] = []

    def check() -> None:
        try:
            _reconcile(engine, world, [])
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=check) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    with read_scope(engine) as session:
        rows = session.exec(select(BillCheck).where(BillCheck.day == YESTERDAY)).all()
    assert sorted(r.label for r in rows) == ["aik-default-1-abcd", "aik-default-2-dead"]
