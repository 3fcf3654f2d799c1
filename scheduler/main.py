"""The scheduler process: reconcile, dispatch and maintenance on APScheduler until SIGTERM.

Run as `aikings-scheduler` or `python -m scheduler`.
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import UTC, datetime
from types import FrameType

from apscheduler.events import EVENT_JOB_ERROR, JobExecutionEvent
from apscheduler.schedulers.base import STATE_RUNNING, BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from core.clock import SystemClock
from core.config import Settings, get_settings
from core.db import migrate
from core.logs import configure_logging
from core.pool.manager import RELEARN_EVERY, STOP_DESTROYS_S
from scheduler.metrics_server import MetricsServer
from scheduler.tasks import Runtime

log = logging.getLogger(__name__)
TRENDING_REFRESH_S = 300  # trending counts views by the day: minutes of lag do not show
WEBHOOK_INTERVAL_S = 5  # a receiver hears of a finished job within seconds


class Stopper:
    """The SIGINT/SIGTERM handler: shuts the scheduler down once, however often it is called.

    A second Ctrl-C, or one before the scheduler started (during the first tick), used to
    raise `SchedulerNotRunningError` out of the handler and print a traceback.
    """

    def __init__(self, scheduler: BaseScheduler) -> None:
        self.scheduler = scheduler
        self.requested = False

    def __call__(self, signum: int, _frame: FrameType | None) -> None:
        """Ask for a clean stop: shut a running scheduler down; otherwise only remember it."""
        first = not self.requested
        self.requested = True
        if first:
            log.info("scheduler.stopping", extra={"signal": signal.Signals(signum).name})
        if self.scheduler.state == STATE_RUNNING:
            self.scheduler.shutdown(wait=True)


def add_jobs(scheduler: BaseScheduler, runtime: Runtime, settings: Settings) -> None:
    """Register the scheduler's periodic jobs, each under its own id, on `runtime`.

    The demand profile's learning is a job of its own, first run as soon as the scheduler
    starts and hourly after: the ticks only read what it learnt, so the first tick after a
    start plans with the configured idle timeout instead of waiting seconds for a month of
    submissions to be learnt."""
    common = {"replace_existing": True, "coalesce": True, "max_instances": 1}
    interval = settings.pool_poll_interval_s
    scheduler.add_job(
        runtime.tick_pool,
        "interval",
        seconds=interval,
        id="tick_pool",
        misfire_grace_time=interval,
        **common,
    )
    scheduler.add_job(
        runtime.refresh_trending,
        "interval",
        seconds=TRENDING_REFRESH_S,
        id="refresh_trending",
        misfire_grace_time=TRENDING_REFRESH_S,
        **common,
    )
    scheduler.add_job(
        runtime.deliver_webhooks,
        "interval",
        seconds=WEBHOOK_INTERVAL_S,
        id="deliver_webhooks",
        misfire_grace_time=WEBHOOK_INTERVAL_S,
        **common,
    )
    if settings.stripe_api_key is not None:
        scheduler.add_job(
            runtime.sync_payments, "interval", seconds=60, id="sync_payments", **common
        )
    scheduler.add_job(
        runtime.daily_maintenance,
        "cron",
        hour=3,
        minute=17,
        id="daily_maintenance",
        misfire_grace_time=3600,
        **common,
    )
    learn_s = int(RELEARN_EVERY.total_seconds())
    scheduler.add_job(
        runtime.relearn_demand,
        "interval",
        seconds=learn_s,
        id="relearn_demand",
        next_run_time=datetime.now(UTC),
        misfire_grace_time=learn_s,
        **common,
    )


def main() -> None:
    """Build the runtime and the scheduler, register the jobs, block until told to stop."""
    settings = get_settings()
    configure_logging(settings.log_level, as_json=settings.log_json)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # it logs every run of a job
    migrate(settings.database_url)
    runtime = Runtime(settings, SystemClock())
    scheduler = BlockingScheduler(timezone="UTC")
    add_jobs(scheduler, runtime, settings)

    def _on_error(event: JobExecutionEvent) -> None:
        log.error(
            "scheduler.job_error", extra={"job": event.job_id, "error": repr(event.exception)}
        )

    scheduler.add_listener(_on_error, EVENT_JOB_ERROR)

    stop = Stopper(scheduler)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    metrics = None
    if settings.metrics_port:  # METRICS_PORT=0 turns them off
        metrics = MetricsServer(runtime.metrics.registry, settings.metrics_port).start()
        log.info("scheduler.metrics", extra={"url": f"http://127.0.0.1:{metrics.port}/metrics"})
    log.info("scheduler.started", extra={"poll_interval_s": settings.pool_poll_interval_s})
    stop_dispatch = threading.Event()
    senders = [
        threading.Thread(
            target=runtime.send_forever, args=(stop_dispatch, kind), name=kind, daemon=True
        )
        for kind in ("create", "destroy")
    ]
    for sender in senders:  # before the first tick: its creates must not hold up the start
        sender.start()
    runtime.tick_pool()  # sweeps the list itself: the lister thread is not running yet
    runtime.refresh_trending()  # a new leader's gallery trends at once, not in 5 minutes
    dispatcher = threading.Thread(
        target=runtime.dispatch_forever, args=(stop_dispatch,), name="dispatch", daemon=True
    )
    lister = threading.Thread(
        target=runtime.sweep_forever, args=(stop_dispatch,), name="lister", daemon=True
    )
    lister.start()
    if runtime.embedded:  # with DISPATCH_MODE=workers, worker processes run the jobs
        dispatcher.start()
    if not stop.requested:  # a Ctrl-C during the first tick: stop without starting
        scheduler.start()
    stop_dispatch.set()
    for thread in (dispatcher, lister):
        if thread.is_alive():
            thread.join(timeout=5)
    for sender in senders:  # the destroy sender sends what it holds first, while leading
        sender.join(timeout=STOP_DESTROYS_S + 5)
    clean = runtime.shutdown()
    if metrics is not None:
        metrics.stop()
    log.info("scheduler.stopped", extra={"clean": clean})
