"""The scheduler's stop signal handler: one clean shutdown however often, before or after start."""

import signal

from apscheduler.schedulers.background import BackgroundScheduler

from scheduler.main import Stopper


def test_a_stop_before_the_scheduler_starts_is_remembered_not_raised():
    scheduler = BackgroundScheduler(timezone="UTC")
    stop = Stopper(scheduler)
    stop(signal.SIGINT, None)
    assert stop.requested and not scheduler.running


def test_a_second_ctrl_c_after_shutdown_raises_nothing():
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.start()
    stop = Stopper(scheduler)
    stop(signal.SIGINT, None)
    assert not scheduler.running
    stop(signal.SIGINT, None)  # SchedulerNotRunningError here used to print a traceback
    assert stop.requested
