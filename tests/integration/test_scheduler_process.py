"""The scheduler runs as its own process and stops cleanly on SIGTERM."""

import signal
import time

from testing.processes import python_module, stop


def scheduler(tmp_path):
    """The scheduler process on a fresh SQLite database in `tmp_path`, ticking every second."""
    env = {
        "POOL_POLL_INTERVAL_S": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path}/s.db",
        "METRICS_PORT": "0",
    }
    return python_module("scheduler", env=env, cwd=tmp_path)


def test_scheduler_ticks_learns_demand_in_its_own_job_and_stops_cleanly_on_sigterm(tmp_path):
    with scheduler(tmp_path) as proc:
        deadline = time.monotonic() + 60  # a busy CI machine: NudeNet and migrations load first
        lines: list[str] = []

        def seen(event: str) -> int:
            return sum(event in line for line in lines)

        while time.monotonic() < deadline and (seen("pool.tick") < 2 or not seen("demand_learnt")):
            lines.append(proc.stderr.readline())
        assert seen("pool.tick") >= 2
        first_tick = next(i for i, line in enumerate(lines) if "pool.tick" in line)
        learnt = next(i for i, line in enumerate(lines) if "pool.demand_learnt" in line)
        assert first_tick < learnt  # the first tick did not wait for a learning
        rest = stop(proc, timeout_s=20)
    assert proc.returncode == 0
    assert "scheduler.stopped" in rest


def test_ctrl_c_twice_stops_cleanly_without_a_traceback(tmp_path):
    with scheduler(tmp_path) as proc:
        deadline = time.monotonic() + 60  # a busy CI machine: NudeNet and migrations load first
        line = ""
        while time.monotonic() < deadline and "scheduler.started" not in line:
            line = proc.stderr.readline()
        proc.send_signal(signal.SIGINT)  # a terminal's Ctrl-C, and a supervisor forwarding it
        proc.send_signal(signal.SIGINT)
        rest = stop(proc, timeout_s=20)
    assert proc.returncode == 0
    assert "scheduler.stopped" in rest
    assert "Traceback" not in rest and "SchedulerNotRunningError" not in rest
