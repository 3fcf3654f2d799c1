"""The multi-process layout on one PostgreSQL database, as deployed: `python -m sim` (a
ComfyUI per rented instance), a leading `python -m scheduler` with `DISPATCH_MODE=workers`,
and worker processes (`python -m scheduler worker`) that come and go. Tests and the bench
start it; every process is reaped when the block ends."""

from __future__ import annotations

import json
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from core.clock import SystemClock
from core.comfy.presets import Presets
from core.config import REPO_ROOT, Settings, load_settings
from core.db import read_scope, session_scope
from core.models import GenerationJob, GpuInstance, InstanceState, JobStatus
from core.pool.service import ensure_pool
from core.studio.compose import StudioRequest
from core.studio.pricing import pricing_from
from core.studio.submit import submit
from testing.factories import RENTABLE_FILTERS, make_funded_user
from testing.processes import free_port, python_module, stop

POOL_IMAGE = "vastai/comfy:latest"
ENDED = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


@dataclass
class WorkerStack:
    """The running processes' shared settings, and the workers started so far."""

    engine: Engine
    env: dict[str, str]
    settings: Settings
    """`env` loaded once, as a Studio process loads its settings once."""
    exits: ExitStack
    workers: list[subprocess.Popen[str]] = field(default_factory=list)

    def start_worker(self, **env: str) -> subprocess.Popen[str]:
        """Start one more `python -m scheduler worker` (with `env` over the stack's)."""
        proc = self.exits.enter_context(
            python_module("scheduler", env={**self.env, **env}, cwd=REPO_ROOT, args=("worker",))
        )
        self.workers.append(proc)
        return proc

    def stop_workers(self) -> None:
        """SIGTERM every worker started so far and wait for each to exit."""
        for proc in self.workers:
            stop(proc)
        self.workers.clear()

    def kill(self, proc: subprocess.Popen[str]) -> None:
        """SIGKILL a process: no shutdown, no step-down, its jobs abandoned mid-run."""
        proc.send_signal(signal.SIGKILL)
        proc.communicate()  # reaps it and closes its stderr pipe

    def submit(self, user_id: int, index: int) -> int:
        """Submit one small picture job for `user_id` as the Studio does; its id."""
        return submit_picture(self.engine, self.settings, user_id=user_id, index=index)

    def funded_user(self, credits: int = 10**6) -> int:
        """A new user with `credits` to spend; their id."""
        return make_funded_user(self.engine, credits, now=SystemClock().now()).id or 0

    def wait_ended(self, job_ids: list[int], timeout_s: float = 300.0) -> list[JobStatus]:
        """Poll until every job has ended (or the timeout); their statuses."""
        deadline = time.monotonic() + timeout_s
        while True:
            with read_scope(self.engine) as session:
                statuses = [
                    JobStatus(status)
                    for status in session.exec(
                        select(GenerationJob.status).where(col(GenerationJob.id).in_(job_ids))
                    ).all()
                ]
            if all(s in ENDED for s in statuses) or time.monotonic() > deadline:
                return statuses
            time.sleep(0.05)


def leader_settings(
    *,
    database_url: str,
    vast_url: str,
    folder: Path,
    instances: int | None = None,
    log_level: str | None = None,
) -> dict[str, str]:
    """The settings of a leading `python -m scheduler` on `database_url` against the
    simulated Vast at `vast_url`: files under `folder`, the pool reconciled every second, no
    metrics port; with `instances`, that many instances at most and wanted; `log_level` (the
    default logs every event) if given."""
    env = {
        "DATABASE_URL": database_url,
        "SIM_VAST_URL": vast_url,
        "MEDIA_ROOT": str(folder / "media"),
        "BACKUP_DIR": str(folder / "backups"),
        "POOL_POLL_INTERVAL_S": "1",
        "METRICS_PORT": "0",
    }
    if instances is not None:
        env |= {"POOL_DESIRED_SIZE": str(instances), "POOL_MAX_INSTANCES": str(instances)}
    if log_level is not None:
        env["LOG_LEVEL"] = log_level
    return env


def submit_picture(
    engine: Engine,
    settings: Settings,
    *,
    user_id: int,
    index: int,
    presets: Presets | None = None,
) -> int:
    """Submit one small picture job (`a lighthouse <index>`, seed `index`) for `user_id` as
    the Studio does, with `settings` (loaded once by the caller, as the Studio's process
    does: loading them costs more than the submit itself); its id."""
    job = submit(
        engine,
        user_id=user_id,
        request=StudioRequest(prompt=f"a lighthouse {index}", preset="low", seed=index),
        clock=SystemClock(),
        presets=presets or Presets.load(),
        pricing=pricing_from(settings),
        pool=settings.pool_name,
    )
    return job.id or 0


@contextmanager
def worker_stack(
    engine: Engine, *, instances: int, step_delay_s: float = 0.0, **leader_env: str
) -> Iterator[WorkerStack]:
    """The simulator and a leader in workers mode with `instances` warm instances ready on
    `engine`'s PostgreSQL database (migrated); no worker yet (`start_worker`)."""
    with ExitStack() as exits:
        folder = Path(exits.enter_context(tempfile.TemporaryDirectory(prefix="aikings-w-")))
        vast_port = free_port()
        sim_env = {
            "SIM_VAST_PORT": str(vast_port),
            "SIM_COMFY_PORT": str(free_port()),
            "SIM_COMFY_PER_INSTANCE": "1",  # each instance its own ComfyUI, as on Vast
            # The pool's image has its models already: no simulated downloads before ready.
            "SIM_FLEET": json.dumps({"prebuilt_images": [POOL_IMAGE], "comfy_start_s": 0.5}),
            "SIM_STEP_DELAY_S": str(step_delay_s),
            "SIM_VAST_TIMINGS": json.dumps({"null_s": 0.2, "created_s": 0.2, "loading_s": 0.2}),
        }
        exits.enter_context(python_module("sim", env=sim_env, cwd=REPO_ROOT))
        env = leader_settings(
            database_url=engine.url.render_as_string(hide_password=False),
            vast_url=f"http://127.0.0.1:{vast_port}",
            folder=folder,
            instances=instances,
            log_level="WARNING",
        )
        env |= {"OUTPUT_SCREENER": "pending", "DISPATCH_MODE": "workers"}
        settings = load_settings(database_url=env["DATABASE_URL"])
        with session_scope(engine) as session:
            config = ensure_pool(session, settings)
            for name, value in RENTABLE_FILTERS.items():
                setattr(config, name, value)
            config.desired_size = config.max_instances = instances
            config.image = POOL_IMAGE
            config.prewarm_until = datetime.now(UTC) + timedelta(hours=1)
            session.add(config)
        # Unwound last in, first out: the workers stop before the leader, the leader before
        # the simulator.
        exits.enter_context(python_module("scheduler", env={**env, **leader_env}, cwd=REPO_ROOT))
        wait_ready(engine, instances)
        yield WorkerStack(engine, env, settings, exits)


def wait_ready(engine: Engine, instances: int, timeout_s: float = 120.0) -> None:
    """Block until `instances` instances are ready; RuntimeError after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with read_scope(engine) as session:
            ready = session.exec(
                select(sa.func.count())
                .select_from(GpuInstance)
                .where(col(GpuInstance.state) == InstanceState.READY)
            ).one()
        if ready >= instances:
            return
        time.sleep(0.2)
    raise RuntimeError(f"fewer than {instances} instances became ready")
