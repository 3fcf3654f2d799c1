"""The scheduler runs as its own process and stops cleanly on SIGTERM."""

import os
import signal
import subprocess
import sys
import time


def test_scheduler_ticks_and_stops_cleanly_on_sigterm(tmp_path):
    env = {
        **os.environ,
        "POOL_POLL_INTERVAL_S": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path}/s.db",
        "METRICS_PORT": "0",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "scheduler"],
        env=env,
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        lines: list[str] = []
        while time.monotonic() < deadline and sum("pool.tick" in line for line in lines) < 2:
            lines.append(proc.stderr.readline())
        assert sum("pool.tick" in line for line in lines) >= 2
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert "scheduler.stopped" in rest
