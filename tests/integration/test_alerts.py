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
from tests.factories import make_pool
from tests.pool_harness import PoolHarness


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
    with caplog.at_level(logging.ERROR, logger="aikings.alerts"):
        Alerter(url)("budget_cap", "daily budget reached", pool="default")
    assert received[0]["kind"] == "budget_cap" and received[0]["details"] == {"pool": "default"}
    assert "alert.budget_cap" in caplog.text


def test_unreachable_webhook_does_not_raise(caplog):
    with caplog.at_level(logging.WARNING, logger="aikings.alerts"):
        Alerter("http://127.0.0.1:9/hook", timeout_s=1)("orphan", "x")
    assert "alert.webhook_failed" in caplog.text


def test_the_manager_alerts_on_orphans_and_safe_mode(engine, vast, fake_clock, webhook):
    url, received = webhook
    make_pool(
        engine,
        max_price_per_hour_usd=Decimal("5"),
        min_reliability=0.9,
        min_vram_gb=8,
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
