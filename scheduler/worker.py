"""The worker process: claims generation jobs from PostgreSQL and runs them, on any host.

Run as `aikings-worker` or `python -m scheduler worker`, beside one leading scheduler started
with `DISPATCH_MODE=workers`: the leader reconciles the pool, expires leases and recovers the
jobs of a worker whose heartbeat went stale; workers only claim (`FOR UPDATE SKIP LOCKED`),
run and heartbeat, through the same `scheduler.dispatcher.Dispatcher` the leader uses when it
runs jobs itself. Any number may run at once, on several machines. SQLite has no workers: the
scheduler process does everything there.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from types import FrameType

from core.clock import Clock, SystemClock
from core.config import Settings, get_settings
from core.db import make_engine
from core.logs import configure_logging
from core.studio.runner import RunContext
from scheduler import wiring
from scheduler.dispatcher import Dispatcher

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_S = 30.0
"""How long a stopping worker lets its running generations finish (heartbeats go on)."""


class Worker:
    """One worker process's dispatcher, heartbeat and shutdown."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.settings, self.clock = settings, clock
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}"
        self.engine = make_engine(settings.database_url)
        self.dispatcher = Dispatcher(
            self.engine,
            clock,
            pool=settings.pool_name,
            run_context=wiring.build_run_context(settings, self.engine, clock),
            threads=settings.worker_threads,
            may_claim=lambda: True,
            worker_id=self.worker_id,
        )

    @property
    def run_context(self) -> RunContext:
        """What a generation needs: the dispatcher's own, so a replaced one reaches every run."""
        return self.dispatcher.run_context

    def beat(self) -> None:
        """Write the endings owed, then renew the heartbeat of the jobs still running; a
        database that refuses is logged and asked again at the next beat."""
        try:
            self.dispatcher.retry_endings()
            self.dispatcher.heartbeat()
        except Exception:  # noqa: BLE001 - the leader only recovers after several missed beats
            log.exception("worker.heartbeat_failed", extra={"worker": self.worker_id})

    def run(self, stop: threading.Event) -> bool:
        """Claim and run jobs until `stop` is set, then let the running ones finish for
        SHUTDOWN_GRACE_S; True if none was left running (a job left running keeps its lease
        and is recovered by the leader once its heartbeat is stale)."""
        done = threading.Event()
        beating = threading.Thread(target=self._beat_until, args=(done,), name="heartbeat")
        beating.start()
        claiming = threading.Event()
        loop = threading.Thread(
            target=self.dispatcher.dispatch_forever, args=(claiming,), name="dispatch"
        )
        loop.start()
        log.info("worker.started", extra={"worker": self.worker_id})
        while not stop.wait(1.0):  # wakes for signals too
            pass
        claiming.set()
        loop.join(timeout=5)
        clean = self.dispatcher.shutdown(SHUTDOWN_GRACE_S)
        done.set()
        beating.join(timeout=5)
        self.run_context.comfy.close()
        self.run_context.after_job.shutdown(wait=True, cancel_futures=False)
        self.engine.dispose()
        log.info("worker.stopped", extra={"worker": self.worker_id, "clean": clean})
        return clean

    def _beat_until(self, done: threading.Event) -> None:
        while not done.wait(self.settings.worker_heartbeat_s):
            self.beat()


def main() -> None:
    """Start a worker and block until SIGTERM or SIGINT."""
    settings = get_settings()
    configure_logging(settings.log_level, as_json=settings.log_json)
    if settings.database_url.startswith("sqlite"):
        raise SystemExit(
            "aikings-worker needs PostgreSQL (DATABASE_URL=postgresql://...); with SQLite "
            "the scheduler process runs every job itself"
        )
    worker = Worker(settings, SystemClock())
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        if not stop.is_set():
            log.info("worker.stopping", extra={"signal": signal.Signals(signum).name})
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    worker.run(stop)
