"""P1 and T through the real processes: `python -m sim` and `python -m scheduler`, as in
production, sharing one SQLite database with this process (which submits as the Studio does).
As deployed: every instance has its own ComfyUI (one client, one connection pool each), and
the measured scheduler ticks the pool at production's interval (`pool_poll_interval_s`, 30 s);
a first scheduler ticking every second only makes the instances ready and is stopped before.

P1: one warm instance, zero GPU time, 2–3 MB outputs; per run, submit -> the job row says
succeeded (its picture stored), against the same graph sent straight to the simulated ComfyUI
with one reused client. The difference is what orchestration costs.
T: jobs/s with 4 and 16 warm instances at zero GPU time, a burst of jobs submitted at once.
A picture job ends once its output is stored; the output is shown once its checks (decode,
blocked-copy look-up, screener: `core.gallery.verdicts`) have run after it, on a thread of
lower priority: both times are reported, and the scheduler's CPU per job up to each.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from bench.common import Figure, percentile, row, scratch_engine
from bench.engine import _register
from core.accounts import ledger
from core.comfy.client import ComfyClient
from core.comfy.presets import Presets
from core.comfy.workflows import GenerationRequest, build_graph
from core.config import REPO_ROOT, Settings, load_settings
from core.db import read_scope, session_scope
from core.models import Asset, GenerationJob, GpuInstance, InstanceState, JobStatus, Screening
from core.pool.launch import headers_by_url
from core.pool.service import ensure_pool
from testing.processes import free_port, python_module
from testing.worker_stack import POOL_IMAGE, leader_settings, submit_picture, wait_ready

P1_P50_GOAL_MS = 50.0
P1_P95_GOAL_MS = 100.0
THROUGHPUT_GOAL = 30.0
OUTPUT_GRAIN = 32  # the simulator's 1024² PNGs then weigh 2–3 MB, as real ones do
ROW_POLL_S = 0.002
BURST_POLL_S = 0.02
"""T's poll of its burst's rows: a 2 ms poll of 60+ rows took ~10 % of a core from the
scheduler it measures on a 2-core machine; 20 ms is < 1 % of a burst of seconds."""
DIRECT_SEED_OFFSET = 1_000_000
WARM_JOBS = 3
"""Jobs run and checked before a section measures: the chance that all of them are flat
pictures (no perceptual hash taken, so its first import still to come) is ~1 in 200."""
DONE = (JobStatus.SUCCEEDED, JobStatus.FAILED)


@dataclass
class Stack:
    """The two processes, the shared database, and a funded user."""

    engine: Engine
    comfy_url: str
    """The ComfyUI of the instance warmed first (P1's only one)."""
    comfy_headers: dict[str, str]
    """What authenticates a client at `comfy_url` (the instance's own token)."""
    user_id: int
    settings: Settings
    """What this process (the Studio's side) submits with, loaded once."""
    scheduler_pid: int
    tick_s: int
    """How often the measured scheduler ticks the pool."""
    sim_pid: int = 0
    """The simulator's process: its CPU (the ComfyUI side's work) shares this host's cores."""


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) process `pid` has used so far; None where /proc cannot say.
    On a machine shared with other work the wall clock measures the machine; this measures
    what the process itself spent."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def _stack(instances: int, *, grain: int) -> Iterator[Stack]:
    """`python -m sim` and `python -m scheduler` with `instances` warm instances ready."""
    with ExitStack() as stack:
        engine = stack.enter_context(scratch_engine())
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="aikings-p1-")))
        vast_port = free_port()
        sim_env = {
            "SIM_VAST_PORT": str(vast_port),
            "SIM_COMFY_PORT": str(free_port()),
            "SIM_COMFY_PER_INSTANCE": "1",  # each instance its own ComfyUI, as on Vast
            # The pool's image has its models already: no simulated downloads before ready.
            "SIM_FLEET": json.dumps({"prebuilt_images": [POOL_IMAGE], "comfy_start_s": 0.5}),
            "SIM_STEP_DELAY_S": "0",
            "SIM_COMFY_FAULTS": json.dumps({"output_grain": grain}),
            "SIM_VAST_TIMINGS": json.dumps({"null_s": 0.2, "created_s": 0.2, "loading_s": 0.2}),
        }
        sim = stack.enter_context(python_module("sim", env=sim_env, cwd=REPO_ROOT))
        warming = leader_settings(
            database_url=str(engine.url),
            vast_url=f"http://127.0.0.1:{vast_port}",
            folder=folder,
            instances=instances,
            log_level="WARNING",
        )
        # The measured scheduler ticks at production's interval: the default, not the
        # warm-up's 1 s.
        env = {name: value for name, value in warming.items() if name != "POOL_POLL_INTERVAL_S"}
        settings = load_settings(
            database_url=env["DATABASE_URL"],
            sim_vast_url=env["SIM_VAST_URL"],
            media_root=folder / "media",
            backup_dir=folder / "backups",
            pool_desired_size=instances,
            pool_max_instances=instances,
        )
        with session_scope(engine) as session:
            config = ensure_pool(session, settings)
            config.max_price_per_hour_usd, config.min_reliability = Decimal("5"), 0.9
            config.min_vram_gb, config.prewarm_until = 8, datetime.now(UTC) + timedelta(hours=1)
            config.image = POOL_IMAGE
            session.add(config)
            user = _register(session, starter_credits=0)
            ledger.grant(
                session,
                user_id=user.id or 0,
                credits=10**7,
                key="bench",
                note="",
                now=user.created_at,
            )
        with python_module("scheduler", env=warming, cwd=REPO_ROOT):
            wait_ready(engine, instances)
        scheduler = stack.enter_context(python_module("scheduler", env=env, cwd=REPO_ROOT))
        comfy_url = _first_comfy_url(engine)
        headers = headers_by_url(
            engine, pool=settings.pool_name, secret=settings.audit_hmac_secret.get_secret_value()
        )(comfy_url)
        yield Stack(
            engine,
            comfy_url,
            headers,
            user.id or 0,
            settings,
            scheduler.pid,
            settings.pool_poll_interval_s,
            sim.pid,
        )


def _first_comfy_url(engine: Engine) -> str:
    """The ComfyUI address of the pool's warmest ready instance."""
    with read_scope(engine) as session:
        url = session.exec(
            select(GpuInstance.comfy_url)
            .where(col(GpuInstance.state) == InstanceState.READY)
            .order_by(col(GpuInstance.last_used_at).desc(), col(GpuInstance.id))
        ).first()
    if url is None:
        raise RuntimeError("no ready instance has a ComfyUI address")
    return url


def _submit(stack: Stack, presets: Presets, index: int) -> int:
    return submit_picture(
        stack.engine, stack.settings, user_id=stack.user_id, index=index, presets=presets
    )


def _statuses(engine: Engine, job_ids: list[int]) -> list[JobStatus]:
    with read_scope(engine) as session:
        return list(
            session.exec(
                select(GenerationJob.status).where(col(GenerationJob.id).in_(job_ids))
            ).all()
        )


def _count(engine: Engine, statement: sa.Select[tuple[int]]) -> int:
    """One count over a plain connection: a poll through an ORM session cost this process
    ~1 ms of CPU (7x this), taken from the 2 cores the processes it measures share."""
    with engine.connect() as connection:
        return int(connection.execute(statement).scalar_one())


def _wait_done(
    engine: Engine, job_ids: list[int], timeout_s: float = 120.0, poll_s: float = ROW_POLL_S
) -> int:
    """Poll the rows every `poll_s` until every job has ended; how many succeeded."""
    unfinished = (
        sa.select(sa.func.count())
        .select_from(GenerationJob)
        .where(col(GenerationJob.id).in_(job_ids), col(GenerationJob.status).not_in(DONE))
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and _count(engine, unfinished):
        time.sleep(poll_s)
    return sum(s is JobStatus.SUCCEEDED for s in _statuses(engine, job_ids))


def _wait_checked(engine: Engine, job_ids: list[int], timeout_s: float = 120.0) -> None:
    """Poll until no output of these jobs waits for its checks (`core.gallery.verdicts`):
    until then nobody is shown it."""
    waiting = (
        sa.select(sa.func.count())
        .select_from(Asset)
        .where(col(Asset.job_id).in_(job_ids), col(Asset.screening) == Screening.WAITING)
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and _count(engine, waiting):
        time.sleep(ROW_POLL_S if len(job_ids) == 1 else BURST_POLL_S)


def _straight_to_comfy_with(client: ComfyClient, presets: Presets, index: int) -> int:
    """The graph `_submit(index)`'s job builds but for its seed, sent with `client`, outputs
    downloaded; their bytes. The seed differs so the simulated ComfyUI renders and saves the
    picture again: the job's own graph would be answered from its cache (ComfyUI's caching
    of an identical prompt), and the render time would count as orchestration."""
    request = GenerationRequest(
        positive=f"a lighthouse {index}",
        negative="",
        model=presets.default_model("image"),
        preset="low",
        seed=index + DIRECT_SEED_OFFSET,
    )
    result = client.run(build_graph(request, presets))
    return sum(len(client.view(ref)) for ref in result.outputs)


@dataclass(frozen=True)
class ProcessOverhead:
    """P1 samples in milliseconds, and the stored output's size."""

    through_ms: list[float]
    direct_ms: list[float]
    succeeded: int
    output_bytes: int
    checked_ms: list[float] = field(default_factory=list)
    """Per run, submit -> its output checked and shown (`core.gallery.verdicts`)."""

    @property
    def overhead_ms(self) -> list[float]:
        """Per run, what the orchestration added over the bare round trip of the same graph."""
        return [t - d for t, d in zip(self.through_ms, self.direct_ms, strict=True)]

    def figures(self) -> list[Figure]:
        """Overhead p50 and p95 against their goals; jobs that did not succeed."""
        overhead = self.overhead_ms
        return [
            Figure(
                "P1",
                "overhead p50, real scheduler process",
                percentile(overhead, 50),
                "ms",
                "<=",
                P1_P50_GOAL_MS,
            ),
            Figure(
                "P1",
                "overhead p95, real scheduler process",
                percentile(overhead, 95),
                "ms",
                "<=",
                P1_P95_GOAL_MS,
            ),
            Figure("P1", "jobs not succeeded", len(self.through_ms) - self.succeeded, "", "==", 0),
        ]


def process_overhead(runs: int = 50) -> ProcessOverhead:
    """P1: submit -> stored through the real scheduler process vs straight to ComfyUI."""
    presets = Presets.load()
    through: list[float] = []
    direct: list[float] = []
    checked: list[float] = []
    succeeded = 0
    with (
        _stack(1, grain=OUTPUT_GRAIN) as stack,
        ComfyClient(stack.comfy_url, headers=stack.comfy_headers) as client,
    ):
        for warm in range(WARM_JOBS):  # first jobs warm the checks (see `throughput`)
            warm_id = _submit(stack, presets, 10_000 + warm)
            _wait_done(stack.engine, [warm_id])
            _wait_checked(stack.engine, [warm_id])
            _straight_to_comfy_with(client, presets, 10_000 + warm)
        for index in range(runs):
            started = time.perf_counter()
            job_id = _submit(stack, presets, index)
            succeeded += _wait_done(stack.engine, [job_id])
            through.append((time.perf_counter() - started) * 1000)
            _wait_checked(stack.engine, [job_id])
            checked.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            size = _straight_to_comfy_with(client, presets, index)
            direct.append((time.perf_counter() - started) * 1000)
    result = ProcessOverhead(through, direct, succeeded, size, checked)
    print(
        f"\n== P1 overhead through the real scheduler process: 1 warm instance, zero GPU "
        f"time, {size / 1e6:.1f} MB outputs, {runs} runs; its own ComfyUI, pool tick every "
        f"{stack.tick_s} s (production's) =="
    )
    print(row("path", "p50 ms", "p95 ms"))
    for name, samples in (
        ("submit -> stored (job row)", through),
        ("graph straight to ComfyUI", direct),
        ("overhead (per-run difference)", result.overhead_ms),
        ("submit -> checked, shown", checked),
    ):
        print(row(name, f"{percentile(samples, 50):.0f}", f"{percentile(samples, 95):.0f}"))
    return result


def throughput(instances: int, jobs: int) -> tuple[Figure, Figure]:
    """T: a burst of `jobs` submitted at once over `instances` warm instances, zero GPU time
    (the simulator's small outputs): jobs/s from the first submit to the last success."""
    presets = Presets.load()
    with _stack(instances, grain=0) as stack:
        # First jobs warm the checks (the screener's first run; the perceptual hash's import
        # of scipy, ~0.2 s of CPU once per process, skipped for a flat picture as ~1 in 6 of
        # the simulator's are): done and checked before the CPU is read, or that would count
        # as the burst's.
        warm_ids = [_submit(stack, presets, 20_000 + warm) for warm in range(WARM_JOBS)]
        _wait_done(stack.engine, warm_ids)
        _wait_checked(stack.engine, warm_ids)
        cpu_before = cpu_seconds(stack.scheduler_pid)
        sim_before = cpu_seconds(stack.sim_pid)
        started = time.perf_counter()
        ids = [_submit(stack, presets, index) for index in range(jobs)]
        submitted_s = time.perf_counter() - started
        succeeded = _wait_done(stack.engine, ids, timeout_s=300, poll_s=BURST_POLL_S)
        elapsed_s = time.perf_counter() - started
        cpu_after = cpu_seconds(stack.scheduler_pid)
        _wait_checked(stack.engine, ids, timeout_s=300)
        checked_s = time.perf_counter() - started
        cpu_checked = cpu_seconds(stack.scheduler_pid)
        sim_after = cpu_seconds(stack.sim_pid)
    rate = succeeded / elapsed_s

    def per_job(after: float | None, before: float | None = cpu_before) -> str:
        if before is None or after is None:
            return "n/a"
        return f"{(after - before) * 1000 / max(succeeded, 1):.0f} ms"

    cpu_ms = f"{per_job(cpu_after)} / {per_job(cpu_checked)}"
    sim_ms = per_job(sim_after, sim_before)
    print(
        row(
            f"{instances} instances, {jobs} jobs",
            f"{rate:.1f} jobs/s",
            f"{elapsed_s:.1f} s",
            f"{submitted_s:.1f} s",
            f"{succeeded}",
            f"{checked_s:.1f} s",
            cpu_ms,
            sim_ms,
            widths=(28, 14, 10, 12, 10, 12, 22, 14),
        )
    )
    return (
        Figure(
            "TP",
            f"jobs/s, {instances} warm instances, zero GPU time",
            rate,
            "jobs/s",
            ">=",
            THROUGHPUT_GOAL,
        ),
        Figure("TP", f"jobs not succeeded ({instances} instances)", jobs - succeeded, "", "==", 0),
    )


def throughput_section(jobs: int) -> list[Figure]:
    """T at 4 and 16 warm instances."""
    tick_s = load_settings().pool_poll_interval_s
    print(
        f"\n== T throughput through the real scheduler process, {jobs}-job bursts; each "
        f"instance its own ComfyUI, pool tick every {tick_s} s (production's) =="
    )
    print(
        row(
            "run", "rate", "elapsed", "submitting", "succeeded", "all checked",
            "CPU/job ended/checked", "sim CPU/job", widths=(28, 14, 10, 12, 10, 12, 22, 14),
        )
    )  # fmt: skip
    return [figure for n in (4, 16) for figure in throughput(n, jobs)]
