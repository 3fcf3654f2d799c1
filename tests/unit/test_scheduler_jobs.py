"""The scheduler's jobs: the demand profile is learnt by a job of its own, never by the tick."""

from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from core.config import load_settings
from core.pool.manager import RELEARN_EVERY
from scheduler.main import add_jobs


class _Runtime:
    """Stands in for `scheduler.tasks.Runtime`: only its job methods are registered."""

    def __getattr__(self, name: str):
        def task() -> None:
            pass

        task.__name__ = name
        return task


def test_learning_is_its_own_hourly_job_started_at_once_beside_the_tick():
    scheduler = BackgroundScheduler(timezone="UTC")
    before = datetime.now(UTC)
    add_jobs(scheduler, _Runtime(), load_settings(pool_poll_interval_s=30))
    scheduler.start(paused=True)
    try:
        jobs = {job.id: job for job in scheduler.get_jobs()}
        learn, tick = jobs["relearn_demand"], jobs["tick_pool"]
        assert isinstance(learn.trigger, IntervalTrigger)
        assert learn.trigger.interval == RELEARN_EVERY == timedelta(hours=1)
        assert before <= learn.next_run_time <= datetime.now(UTC) + timedelta(seconds=1)
        assert tick.trigger.interval == timedelta(seconds=30)
        assert (learn.func.__name__, tick.func.__name__) == ("relearn_demand", "tick_pool")
    finally:
        scheduler.shutdown(wait=False)
