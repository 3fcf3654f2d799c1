"""Prometheus metrics of the pool, queue and spend, and a tiny server for `/metrics`."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import sqlalchemy as sa
from sqlmodel import Session, col, select

from core.models import (
    GenerationJob,
    GpuInstance,
    InstanceState,
    JobStatus,
    PoolConfig,
    SchedulerLock,
)
from core.pool import costs


def render_metrics(session: Session, *, now: datetime, pool: str) -> str:
    """The text exposition format (0.0.4)."""
    lines: list[str] = []

    def metric(name: str, kind: str, help_text: str, samples: list[tuple[str, float]]) -> None:
        lines.extend([f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"])
        lines.extend(f"{name}{labels} {value}" for labels, value in samples)

    by_state = dict(
        session.exec(
            select(GpuInstance.state, sa.func.count())
            .where(GpuInstance.pool == pool)
            .group_by(col(GpuInstance.state))
        ).all()
    )
    metric(
        "aikings_pool_instances",
        "gauge",
        "Instances of the pool by state.",
        [(f'{{state="{s.value}"}}', by_state.get(s, 0)) for s in InstanceState],
    )
    jobs = dict(
        session.exec(
            select(GenerationJob.status, sa.func.count()).group_by(col(GenerationJob.status))
        ).all()
    )
    metric(
        "aikings_jobs",
        "gauge",
        "Generation jobs by status.",
        [(f'{{status="{s.value}"}}', jobs.get(s, 0)) for s in JobStatus],
    )
    metric(
        "aikings_queue_depth",
        "gauge",
        "Jobs waiting for a GPU.",
        [("", jobs.get(JobStatus.QUEUED, 0))],
    )
    config = session.get(PoolConfig, pool)
    if config is not None:
        metric(
            "aikings_pool_desired_size",
            "gauge",
            "Instances kept warm while awake.",
            [("", config.desired_size)],
        )
        metric(
            "aikings_pool_safe_mode",
            "gauge",
            "1 while safe mode is on.",
            [("", int(config.safe_mode))],
        )
        metric(
            "aikings_budget_usd",
            "gauge",
            "Spend caps.",
            [
                ('{window="day"}', float(config.daily_budget_usd)),
                ('{window="month"}', float(config.monthly_budget_usd)),
            ],
        )
    metric(
        "aikings_spend_usd",
        "gauge",
        "GPU spend in the current window.",
        [
            (
                '{window="day"}',
                float(costs.spend_since(session, pool=pool, since=costs.day_start(now))),
            ),
            (
                '{window="month"}',
                float(costs.spend_since(session, pool=pool, since=costs.month_start(now))),
            ),
        ],
    )
    finished = session.exec(
        select(GenerationJob.started_at, GenerationJob.finished_at)
        .where(GenerationJob.status == JobStatus.SUCCEEDED)
        .order_by(col(GenerationJob.id).desc())
        .limit(200)
    ).all()
    durations = sorted((end - start).total_seconds() for start, end in finished if start and end)
    if durations:
        metric(
            "aikings_job_duration_seconds",
            "summary",
            "Recent successful job durations.",
            [
                ('{quantile="0.5"}', durations[len(durations) // 2]),
                (
                    '{quantile="0.95"}',
                    durations[min(len(durations) - 1, int(len(durations) * 0.95))],
                ),
                ("_sum", sum(durations)),
                ("_count", len(durations)),
            ],
        )
    epoch = session.exec(select(sa.func.max(SchedulerLock.epoch))).one()
    metric(
        "aikings_scheduler_leader_epoch",
        "gauge",
        "Fencing epoch of the scheduler leader.",
        [("", int(epoch or 0))],
    )
    return "\n".join(lines) + "\n"


def render_reconcile_counters(*, ticks: int, errors: int) -> str:
    """This process's reconcile counters in the exposition format (they restart at 0)."""
    return (
        "# HELP aikings_reconcile_ticks_total Reconcile ticks run by this process.\n"
        "# TYPE aikings_reconcile_ticks_total counter\n"
        f"aikings_reconcile_ticks_total {ticks}\n"
        "# HELP aikings_reconcile_errors_total Provider errors seen while reconciling.\n"
        "# TYPE aikings_reconcile_errors_total counter\n"
        f"aikings_reconcile_errors_total {errors}\n"
    )


class MetricsServer:
    """`GET /metrics` and `GET /healthz` from a daemon thread (port 0 picks a free port)."""

    def __init__(self, port: int, render: Callable[[], str], host: str = "127.0.0.1") -> None:
        self._render = render
        self._host, self._port = host, port
        self._server: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        """The port actually bound."""
        return self._server.server_address[1] if self._server else self._port

    def start(self) -> MetricsServer:
        """Bind and serve in the background."""
        render = self._render

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                if self.path == "/metrics":
                    body, kind = render().encode(), "text/plain; version=0.0.4"
                elif self.path == "/healthz":
                    body, kind = b"ok\n", "text/plain"
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: object) -> None:
                return

        self._server = ThreadingHTTPServer((self._host, self._port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
