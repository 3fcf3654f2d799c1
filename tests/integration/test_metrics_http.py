"""Prometheus metrics: the scheduler serves them where it says, in valid exposition format."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx

from core.db import read_scope, session_scope
from core.models import InstanceState, JobStatus, UsageEvent
from core.ops.metrics import MetricsServer, render_metrics, render_reconcile_counters
from tests.factories import make_instance, make_job, make_pool, make_user

NOW = datetime(2026, 4, 10, 15, tzinfo=UTC)
SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (-?[0-9.eE+-]+|NaN|[+-]Inf)$")


def parse_exposition(text: str) -> dict[str, float]:
    """Samples by `name{labels}`; fails on anything the text format (0.0.4) does not allow."""
    declared: dict[str, str] = {}
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in {"counter", "gauge", "summary", "histogram", "untyped"}, line
            assert name not in declared, f"{name} declared twice"
            declared[name] = kind
            continue
        match = SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        name, labels, value = match.groups()
        family = re.sub(r"_(sum|count)$", "", name) if name not in declared else name
        assert family in declared, f"{name} has no # TYPE"
        key = name + (labels or "")
        assert key not in samples, f"{key} repeated"
        samples[key] = float(value)
    return samples


def test_metrics_report_instances_spend_queue_job_durations_and_reconcile_errors(engine):
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
            session.add(
                UsageEvent(
                    at=NOW - timedelta(hours=hours_ago),
                    pool="default",
                    kind="gpu_accrual",
                    cost_usd=Decimal(cost),
                )
            )

    def render() -> str:
        with read_scope(engine) as session:
            text = render_metrics(session, now=NOW, pool="default")
        return text + render_reconcile_counters(ticks=7, errors=2)

    server = MetricsServer(0, render).start()
    try:
        reply = httpx.get(f"http://127.0.0.1:{server.port}/metrics", timeout=5)
    finally:
        server.stop()
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "text/plain; version=0.0.4"
    got = parse_exposition(reply.text)
    assert got['aikings_pool_instances{state="ready"}'] == 2
    assert got['aikings_pool_instances{state="busy"}'] == 1
    assert got['aikings_pool_instances{state="terminated"}'] == 0
    assert got['aikings_spend_usd{window="day"}'] == 1.75
    assert got['aikings_spend_usd{window="month"}'] == 1.75
    assert got['aikings_budget_usd{window="day"}'] == 20
    assert got["aikings_queue_depth"] == 3 and got['aikings_jobs{status="succeeded"}'] == 3
    assert got['aikings_job_duration_seconds{quantile="0.5"}'] == 20
    assert got["aikings_job_duration_seconds_count"] == 3
    assert got["aikings_job_duration_seconds_sum"] == 90
    assert got["aikings_reconcile_ticks_total"] == 7
    assert got["aikings_reconcile_errors_total"] == 2


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_scheduler_serves_metrics_on_the_port_it_logs(tmp_path):
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path}/m.db",
        "POOL_POLL_INTERVAL_S": "1",
        "METRICS_PORT": str(port),
        "SIM_VAST_URL": f"http://127.0.0.1:{_free_port()}",  # nobody listens: ticks fail
        "LOG_JSON": "true",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "scheduler"],
        env=env,
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = None
        deadline = time.monotonic() + 30
        while url is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if '"scheduler.metrics"' in line:
                url = json.loads(line)["url"]
        assert url == f"http://127.0.0.1:{port}/metrics"
        errors = 0.0
        while errors < 1 and time.monotonic() < deadline:
            errors = parse_exposition(httpx.get(url, timeout=5).text).get(
                "aikings_reconcile_errors_total", 0.0
            )
            time.sleep(0.3)
        assert errors >= 1
        assert httpx.get(url.replace("/metrics", "/healthz"), timeout=5).text == "ok\n"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
