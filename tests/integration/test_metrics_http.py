"""Prometheus metrics: the scheduler serves them where it says; prometheus-client parses them."""

import json
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

from core.clock import FakeClock
from core.db import make_engine, session_scope
from core.models import InstanceState, JobStatus, UsageEvent
from core.ops.metrics import scheduler_metrics
from core.pool import costs
from scheduler.metrics_server import MetricsServer
from testing.factories import make_instance, make_job, make_pool, make_user
from testing.processes import free_port, python_module, stop

NOW = datetime(2026, 4, 10, 15, tzinfo=UTC)
Series = tuple[str, frozenset[tuple[str, str]]]


def parse(text: str, *, openmetrics: bool = False) -> tuple[dict[str, str], dict[Series, float]]:
    """Family types by name and sample values by (name, labels); a repeated series fails."""
    families = list(
        openmetrics_families(text) if openmetrics else text_string_to_metric_families(text)
    )
    samples: dict[Series, float] = {}
    for family in families:
        for sample in family.samples:
            series = (sample.name, frozenset(sample.labels.items()))
            assert series not in samples, f"{series} repeated"
            samples[series] = sample.value
    return {f.name: f.type for f in families}, samples


def value(samples: dict[Series, float], name: str, **labels: str) -> float:
    """The value of one series (KeyError if it is not exposed)."""
    return samples[(name, frozenset(labels.items()))]


def _seed_pool_jobs_and_spend(engine) -> None:
    make_pool(engine, desired_size=2, daily_budget_usd=Decimal(20))
    for state in ("ready", "ready", "busy", "booting"):
        make_instance(engine, state=InstanceState(state))
    user = make_user(engine)
    for _ in range(3):
        make_job(engine, user, status=JobStatus.QUEUED)
    for seconds in (10, 20, 60):
        make_job(
            engine,
            user,
            status=JobStatus.SUCCEEDED,
            started_at=NOW - timedelta(minutes=5),
            finished_at=NOW - timedelta(minutes=5) + timedelta(seconds=seconds),
        )
    with session_scope(engine) as session:
        for hours_ago, cost in ((1, "1.25"), (2, "0.50"), (40 * 24, "9")):
            at = NOW - timedelta(hours=hours_ago)
            costs.add_spend(session, pool="default", day=at.date(), amount_usd=Decimal(cost))
            session.add(
                UsageEvent(
                    at=NOW - timedelta(hours=hours_ago),
                    pool="default",
                    kind="gpu_accrual",
                    cost_usd=Decimal(cost),
                )
            )


def test_metrics_report_instances_spend_queue_job_durations_and_reconcile_errors(engine):
    _seed_pool_jobs_and_spend(engine)
    metrics = scheduler_metrics(engine, FakeClock(NOW), pool="default")
    metrics.reconcile_ticks.inc(7)
    metrics.reconcile_errors.inc(2)
    server = MetricsServer(metrics.registry, 0).start()
    try:
        url = f"http://127.0.0.1:{server.port}/metrics"
        reply = httpx.get(url, timeout=5)
        open_reply = httpx.get(
            url, headers={"Accept": "application/openmetrics-text; version=1.0.0"}, timeout=5
        )
    finally:
        server.stop()
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/plain; version=0.0.4")
    types, got = parse(reply.text)
    assert types["aikings_pool_instances"] == types["aikings_spend_usd"] == "gauge"
    assert types["aikings_queue_depth"] == types["aikings_budget_usd"] == "gauge"
    assert types["aikings_job_duration_seconds"] == "summary"
    assert types["aikings_reconcile_ticks"] == types["aikings_reconcile_errors"] == "counter"
    assert value(got, "aikings_pool_instances", state="ready") == 2
    assert value(got, "aikings_pool_instances", state="busy") == 1
    assert value(got, "aikings_pool_instances", state="booting") == 1
    assert value(got, "aikings_pool_instances", state="terminated") == 0
    assert value(got, "aikings_spend_usd", window="day") == 1.75
    assert value(got, "aikings_spend_usd", window="month") == 1.75
    assert value(got, "aikings_budget_usd", window="day") == 20
    assert value(got, "aikings_pool_desired_size") == 2
    assert value(got, "aikings_pool_safe_mode") == 0
    assert value(got, "aikings_queue_depth") == 3
    assert value(got, "aikings_jobs", status="succeeded") == 3
    assert value(got, "aikings_job_duration_seconds", quantile="0.5") == 20
    assert value(got, "aikings_job_duration_seconds", quantile="0.95") == 60
    assert value(got, "aikings_job_duration_seconds_count") == 3
    assert value(got, "aikings_job_duration_seconds_sum") == 90
    assert value(got, "aikings_scheduler_leader_epoch") == 0
    assert value(got, "aikings_reconcile_ticks_total") == 7
    assert value(got, "aikings_reconcile_errors_total") == 2
    # Prometheus asks for OpenMetrics: the same series, valid under its stricter parser.
    assert open_reply.headers["content-type"].startswith("application/openmetrics-text")
    open_types, open_got = parse(open_reply.text, openmetrics=True)
    assert open_types["aikings_job_duration_seconds"] == "summary"
    assert {s: v for s, v in open_got.items() if not s[0].endswith("_created")} == {
        s: v for s, v in got.items() if not s[0].endswith("_created")
    }


def test_job_durations_are_an_empty_summary_until_a_job_succeeds(engine):
    registry = scheduler_metrics(engine, FakeClock(NOW), pool="default").registry
    assert registry.get_sample_value("aikings_job_duration_seconds_count") == 0
    assert registry.get_sample_value("aikings_job_duration_seconds", {"quantile": "0.5"}) is None


def test_each_registry_counts_its_own_reconcile_ticks(engine):
    first = scheduler_metrics(engine, FakeClock(NOW), pool="default")
    second = scheduler_metrics(engine, FakeClock(NOW), pool="default")
    first.reconcile_ticks.inc()
    assert first.registry.get_sample_value("aikings_reconcile_ticks_total") == 1
    assert second.registry.get_sample_value("aikings_reconcile_ticks_total") == 0


def test_healthz_answers_without_the_database_other_paths_are_404_and_stop_closes_the_port(
    tmp_path,
):
    unmigrated = make_engine(f"sqlite:///{tmp_path}/no-tables.db")  # every query fails
    server = MetricsServer(scheduler_metrics(unmigrated, FakeClock(NOW), pool="x").registry, 0)
    base = f"http://127.0.0.1:{server.start().port}"
    try:
        assert httpx.get(f"{base}/metrics", timeout=5).status_code == 500
        health = httpx.get(f"{base}/healthz", timeout=5)
        assert (health.status_code, health.text) == (200, "ok\n")
        assert httpx.get(f"{base}/other", timeout=5).status_code == 404
    finally:
        server.stop()
        unmigrated.dispose()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base}/healthz", timeout=5)


def test_the_scheduler_serves_metrics_on_the_port_it_logs(tmp_path):
    port = free_port()
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path}/m.db",
        "POOL_POLL_INTERVAL_S": "1",
        "METRICS_PORT": str(port),
        "SIM_VAST_URL": f"http://127.0.0.1:{free_port()}",  # nobody listens: ticks fail
        "LOG_JSON": "true",
    }
    with python_module("scheduler", env=env, cwd=tmp_path) as proc:
        url = None
        deadline = time.monotonic() + 30
        while url is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if '"scheduler.metrics"' in line:
                url = json.loads(line)["url"]
        assert url == f"http://127.0.0.1:{port}/metrics"
        errors = 0.0
        while errors < 1 and time.monotonic() < deadline:
            _, got = parse(httpx.get(url, timeout=5).text)
            errors = value(got, "aikings_reconcile_errors_total")
            time.sleep(0.3)
        assert errors >= 1 and value(got, "aikings_reconcile_ticks_total") >= 1
        assert httpx.get(url.replace("/metrics", "/healthz"), timeout=5).text == "ok\n"
        rest = stop(proc)
    assert proc.returncode == 0 and "scheduler.stopped" in rest
