"""Alerts reach the log always and the webhook when configured; a broken webhook is harmless."""

import logging
from decimal import Decimal

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from core.alerts import Alerter
from sim.server import ServerThread
from testing.factories import make_rentable_pool
from testing.pool_harness import PoolHarness


@pytest.fixture
def webhook():
    received = []

    async def hook(request: Request):
        received.append(await request.json())
        return JSONResponse({"ok": True})

    with ServerThread(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as server:
        yield f"{server.url}/hook", received


def test_alert_posts_json_and_logs(webhook, caplog):
    url, received = webhook
    with caplog.at_level(logging.ERROR, logger="core.alerts"):
        Alerter(url)("budget_cap", "daily budget reached", pool="default")
    assert received[0]["kind"] == "budget_cap" and received[0]["details"] == {"pool": "default"}
    assert "alert.budget_cap" in caplog.text


def test_unreachable_webhook_does_not_raise(caplog):
    with caplog.at_level(logging.WARNING, logger="core.alerts"):
        Alerter("http://127.0.0.1:9/hook", timeout_s=1)("orphan", "x")
    assert "alert.webhook_failed" in caplog.text


def test_the_manager_alerts_on_orphans_and_safe_mode(engine, vast, fake_clock, webhook):
    url, received = webhook
    make_rentable_pool(
        engine,
        daily_budget_usd=Decimal("0"),
    )
    harness = PoolHarness(engine, vast, fake_clock)
    harness.manager.alert = Alerter(url)
    try:
        vast.seed("aik-default-777")
        harness.tick()
    finally:
        harness.close()
    assert {"orphan", "safe_mode"} <= {alert["kind"] for alert in received}


def _kinds(received):
    return [alert["kind"] for alert in received]


def test_a_budget_cap_tripped_by_accrued_spend_alerts_once_and_empties_the_pool(
    engine, vast, fake_clock, webhook
):
    from datetime import timedelta

    url, received = webhook
    make_rentable_pool(
        engine,
        desired_size=1,
        daily_budget_usd=Decimal("0.05"),
        prewarm_until=fake_clock.now() + timedelta(hours=6),
    )
    harness = PoolHarness(engine, vast, fake_clock)
    harness.manager.alert = Alerter(url, clock=fake_clock)
    try:
        harness.tick()
        assert _kinds(received) == []  # renting is not alarming
        for _ in range(12):
            harness.tick(600)
        harness.tick()
    finally:
        harness.close()
    (alert,) = [a for a in received if a["kind"] == "safe_mode"]
    assert "daily budget $0.05 reached" in alert["message"]
    assert alert["details"] == {"pool": "default"} and alert["source"] == "aikings"
    assert vast.alive() == []


def test_an_instance_that_never_boots_alerts_with_its_machine(engine, vast, fake_clock, webhook):
    from datetime import timedelta

    url, received = webhook
    make_rentable_pool(
        engine,
        desired_size=1,
        boot_timeout_s=600,
        prewarm_until=fake_clock.now() + timedelta(hours=2),
    )
    harness = PoolHarness(engine, vast, fake_clock)
    harness.healthy = set()  # ComfyUI never answers
    harness.manager.alert = Alerter(url, clock=fake_clock)
    try:
        harness.tick()
        for _ in range(5):
            harness.tick(60)
        assert "boot_failed" not in _kinds(received)
        harness.tick(400)  # past the boot timeout
        machine = harness.rows()[0].machine_id
    finally:
        harness.close()
    (alert,) = [a for a in received if a["kind"] == "boot_failed"]
    assert "boot timeout" in alert["message"] and alert["details"] == {"machine_id": machine}
    assert alert["at"] == fake_clock.now().isoformat()


def test_a_scheduler_that_loses_its_leader_lease_alerts(
    engine, vast, fake_clock, webhook, tmp_path
):
    from core.config import load_settings
    from scheduler.leader import LeaderLease
    from scheduler.tasks import Runtime

    url, received = webhook
    settings = load_settings(
        database_url=engine.url.render_as_string(hide_password=False),
        sim_vast_url=vast.url,
        backup_dir=tmp_path / "backups",
        alert_webhook_url=url,
    )
    runtime = Runtime(settings, fake_clock)
    try:
        runtime.tick_pool()
        assert runtime.leader.is_leader and _kinds(received) == []
        fake_clock.advance(settings.scheduler_lock_ttl_s + 1)  # this process was paused
        assert LeaderLease(engine, fake_clock, "the-other-host:1", ttl_s=90).acquire_or_renew()
        runtime.tick_pool()
        runtime.tick_pool()  # still a standby: alerted once, not every tick
    finally:
        runtime.shutdown(grace_s=0)
    assert _kinds(received) == ["leader_lost"]
    assert not runtime.leader.is_leader
