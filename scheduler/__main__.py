"""`python -m scheduler`: the APScheduler loop until SIGTERM.

Until the pool manager is wired in, the tick only keeps the leader lease and logs.
"""

from __future__ import annotations

import logging
import signal
import socket
from types import FrameType

from apscheduler.schedulers.blocking import BlockingScheduler

from core.clock import SystemClock
from core.config import get_settings
from core.db import make_engine, migrate
from core.logs import configure_logging
from scheduler.leader import LeaderLease

log = logging.getLogger("scheduler")


def main() -> None:
    """Register the tick job and block until SIGTERM or SIGINT."""
    settings = get_settings()
    configure_logging(settings.log_level, as_json=settings.log_json)
    migrate(settings.database_url)
    engine = make_engine(settings.database_url)
    leader = LeaderLease(
        engine, SystemClock(), holder=socket.gethostname(), ttl_s=settings.scheduler_lock_ttl_s
    )
    scheduler = BlockingScheduler(timezone="UTC")

    def tick() -> None:
        log.info("pool.tick", extra={"leader": leader.acquire_or_renew()})

    scheduler.add_job(tick, "interval", seconds=settings.pool_poll_interval_s, id="tick_pool")

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info("scheduler.stopping", extra={"signal": signal.Signals(signum).name})
        scheduler.shutdown(wait=True)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    tick()
    scheduler.start()
    leader.step_down()
    log.info("scheduler.stopped")


if __name__ == "__main__":
    main()
