"""Two `python -m scheduler` processes on one database: one leads, nothing is rented twice."""

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

from sim.vast import Timings
from testing.factories import make_rentable_pool
from testing.sims import comfy_behind_vast
from testing.worker_stack import leader_settings


def test_two_schedulers_rent_the_pool_once(engine, tmp_path):
    make_rentable_pool(
        engine,
        desired_size=2,
        max_instances=3,
        prewarm_until=datetime.now(UTC) + timedelta(hours=1),
    )
    with comfy_behind_vast(timings=Timings(null_s=0, created_s=0, loading_s=1)) as (_, vast):
        env = os.environ | leader_settings(
            database_url=engine.url.render_as_string(hide_password=False),
            vast_url=vast.url,
            folder=tmp_path,
        )
        env["SCHEDULER_LOCK_TTL_S"] = "5"
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "scheduler"],
                env=env,
                cwd=tmp_path,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and len(vast.alive()) < 2:
                time.sleep(0.5)
            time.sleep(4)  # several more ticks from both processes
            created = vast.dump()["instances"]
        finally:
            outputs = []
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                outputs.append(proc.communicate(timeout=30)[1])
    assert len(created) == 2, f"expected the pool rented once, got {len(created)} instances"
    leaders = [out.count("leader.acquired") for out in outputs]
    assert sum(leaders) >= 1 and min(leaders) == 0, leaders  # one led; the other waited
    assert all(proc.returncode == 0 for proc in procs)
