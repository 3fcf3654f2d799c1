"""WK: jobs/hour with 1, 2 and 4 worker processes (`python -m scheduler worker`) on PostgreSQL.

The deployed layout on one machine: `python -m sim` (a ComfyUI per instance), a leader in
`DISPATCH_MODE=workers` with eight warm instances, and N workers of two threads each. Each job
takes the simulator's GPU time (18 steps); a burst is submitted at once and timed from the
first submit to the last job ended. The goal is capacity that grows with the workers: at least
70 % of what N workers' threads could do if only GPU time counted.
"""

from __future__ import annotations

import time
from collections import Counter

from sqlmodel import col, select

from bench.common import Figure, postgres_url, row, scratch_postgres
from core.db import read_scope
from core.models import GenerationJob, JobStatus
from testing.worker_stack import WorkerStack, worker_stack

INSTANCES = 8
THREADS_PER_WORKER = 2
STEP_DELAY_S = 0.1
STEPS = 18  # the "low" preset the burst submits
EFFICIENCY_GOAL = 0.7
WIDTHS = (12, 14, 12, 10, 12)


def _burst(stack: WorkerStack, workers: int, jobs: int, users: list[int]) -> list[Figure]:
    for _ in range(workers):
        stack.start_worker(WORKER_THREADS=str(THREADS_PER_WORKER))
    warm = [stack.submit(users[0], 900_000 + n) for n in range(workers * THREADS_PER_WORKER)]
    stack.wait_ended(warm)  # every worker has started and loaded what a first job loads
    started = time.perf_counter()
    ids = [stack.submit(users[n % len(users)], workers * 10_000 + n) for n in range(jobs)]
    statuses = stack.wait_ended(ids, timeout_s=900)
    elapsed_s = time.perf_counter() - started
    stack.stop_workers()
    with read_scope(stack.engine) as session:
        attempts = session.exec(
            select(GenerationJob.attempts).where(col(GenerationJob.id).in_(ids))
        ).all()
    succeeded = Counter(statuses)[JobStatus.SUCCEEDED]
    per_hour = succeeded / elapsed_s * 3600
    ideal = min(workers * THREADS_PER_WORKER, INSTANCES) * 3600 / (STEPS * STEP_DELAY_S)
    print(
        row(
            f"{workers} worker{'s' if workers > 1 else ''}",
            f"{per_hour:,.0f}/h",
            f"{per_hour / ideal:.0%}",
            f"{elapsed_s:.1f} s",
            f"{succeeded}/{jobs}",
            widths=WIDTHS,
        )
    )
    return [
        Figure(
            "WK",
            f"jobs/hour, {workers} worker(s) x {THREADS_PER_WORKER} threads",
            per_hour,
            "jobs/h",
            ">=",
            round(EFFICIENCY_GOAL * ideal),
        ),
        Figure("WK", f"jobs not succeeded ({workers} workers)", jobs - succeeded, "", "==", 0),
        Figure(
            "WK",
            f"jobs run more than once ({workers} workers)",
            sum(a > 1 for a in attempts),
            "",
            "==",
            0,
        ),
    ]


def workers_section(jobs: int) -> list[Figure]:
    """WK: a `jobs` burst with 1, 2 and 4 workers on a scratch PostgreSQL database (a figure
    that is not met, and a line saying why, when no server is configured)."""
    url = postgres_url()
    if url is None:
        print(
            "\n== WK workers: not run (set BENCH_DATABASE_URL or TEST_DATABASE_URL to a "
            "PostgreSQL server where databases may be created) =="
        )
        return [Figure("WK", "postgresql: worker runs", 0, "", ">=", 1)]
    print(
        f"\n== WK jobs/hour by worker processes on PostgreSQL: {INSTANCES} warm instances, "
        f"{STEPS * STEP_DELAY_S:.1f} s GPU time a job, {jobs}-job bursts =="
    )
    print(row("workers", "rate", "of GPU-bound", "elapsed", "succeeded", widths=WIDTHS))
    with (
        scratch_postgres(url) as engine,
        worker_stack(engine, instances=INSTANCES, step_delay_s=STEP_DELAY_S) as stack,
    ):
        users = [stack.funded_user() for _ in range(4)]
        return [figure for n in (1, 2, 4) for figure in _burst(stack, n, jobs, users)]
