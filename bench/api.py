"""A: the HTTP API as clients use it: submit->status overhead and sustained reads.

The real API process (`python -m api`, what `aikings-api` runs) listens on loopback over a
scratch database; beside it runs the real dispatch path of P1: a warm simulated Vast instance
serving the simulated ComfyUI (zero compute) and the scheduler's Runtime dispatching at the
scheduler's own 1 s interval, so the jobs submitted over HTTP really run, and the status
reads happen while they do.

- submit->status: a client's `POST /v1/jobs` (screening, credit hold, queue) then its first
  `GET /v1/jobs/{id}` (the job with its queue place and outlook): the two calls' wall time,
  after one untimed job (a fresh process's first request pays for lazy imports).
- sustained reads: concurrent clients polling `GET /v1/jobs/{id}` for a fixed time; the
  successful requests per second (any other answer is counted apart).
"""

from __future__ import annotations

import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.common import Figure, percentile, row, scratch_engine
from bench.engine import JOB_TIMEOUT_S, _warm_runtime
from core.accounts import legal
from core.clock import SystemClock
from core.config import load_settings
from core.db import read_scope, session_scope
from core.models import User
from testing.api import Api, api_process, token_for
from testing.sims import comfy_behind_vast

SUBMIT_STATUS_P50_GOAL_MS = 100.0
SUBMIT_STATUS_P95_GOAL_MS = 250.0  # both well under 1 % of a ~30 s warm generation
READS_PER_S_GOAL = 100.0  # a hundred clients polling once a second, from one API process
READ_CLIENTS = 8
DISPATCH_EVERY_S = 1.0
"""The scheduler's own dispatch interval (scheduler/main.py)."""
TERMINAL = {"succeeded", "failed", "cancelled"}


@dataclass(frozen=True)
class ApiResult:
    """A samples: per job, the submit and status calls; then the sustained read run."""

    submit_ms: list[float]
    status_ms: list[float]
    done_ms: list[float]
    """Submit until a status read showed the job succeeded, through the API."""
    succeeded: int
    reads: int
    failed_reads: int
    read_seconds: float

    @property
    def submit_status_ms(self) -> list[float]:
        """Per job, the submit call plus the first status call."""
        return [s + t for s, t in zip(self.submit_ms, self.status_ms, strict=True)]

    @property
    def reads_per_s(self) -> float:
        """Successful reads a second over the run."""
        return self.reads / self.read_seconds if self.read_seconds else 0.0

    def figures(self) -> list[Figure]:
        """Submit->status p50/p95, jobs not succeeded, reads a second and failed reads."""
        return [
            Figure(
                "A",
                "API submit->status p50 (POST /v1/jobs + GET /v1/jobs/{id})",
                percentile(self.submit_status_ms, 50),
                "ms",
                "<=",
                SUBMIT_STATUS_P50_GOAL_MS,
            ),
            Figure(
                "A",
                "API submit->status p95",
                percentile(self.submit_status_ms, 95),
                "ms",
                "<=",
                SUBMIT_STATUS_P95_GOAL_MS,
            ),
            Figure(
                "A",
                "API jobs not succeeded",
                len(self.submit_ms) - self.succeeded,
                "",
                "==",
                0,
            ),
            Figure(
                "A",
                f"API sustained reads, GET /v1/jobs/{{id}}, {READ_CLIENTS} clients",
                self.reads_per_s,
                "req/s",
                ">=",
                READS_PER_S_GOAL,
            ),
            Figure("A", "API reads not answered 200", self.failed_reads, "", "==", 0),
        ]


def _dispatching(runtime: object, stop: threading.Event) -> None:
    """Dispatch queued jobs until `stop`, as the scheduler's dispatch job does."""
    while not stop.is_set():
        runtime.dispatch()  # type: ignore[attr-defined]
        stop.wait(DISPATCH_EVERY_S)


def _one_job(client: httpx.Client, index: int) -> tuple[float, float, float | None]:
    """Submit, read the status once, then poll until the job ends: the submit and status
    milliseconds, and the milliseconds until it succeeded (None if it did not)."""
    started = time.perf_counter()
    reply = client.post("/v1/jobs", json={"prompt": f"a lighthouse {index}", "preset": "low",
                                          "seed": index})  # fmt: skip
    submitted = time.perf_counter()
    reply.raise_for_status()
    job_id = reply.json()["id"]
    status = client.get(f"/v1/jobs/{job_id}")
    read = time.perf_counter()
    status.raise_for_status()
    job = status.json()
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while job["status"] not in TERMINAL and time.monotonic() < deadline:
        time.sleep(0.01)
        job = client.get(f"/v1/jobs/{job_id}").json()
    done = (time.perf_counter() - started) * 1000 if job["status"] == "succeeded" else None
    return (submitted - started) * 1000, (read - submitted) * 1000, done


def _sustained_reads(api: Api, token: str, job_id: int, seconds: float) -> tuple[int, int, float]:
    """READ_CLIENTS clients reading one job for `seconds` from the moment all are ready:
    (answered 200, any other answer, seconds the run took)."""
    window: list[float] = []
    ready = threading.Barrier(READ_CLIENTS, action=lambda: window.append(time.monotonic()))

    def reader(_: int) -> tuple[int, int]:
        ok = other = 0
        with api.client(token) as client:
            ready.wait(timeout=60)
            until = window[0] + seconds
            while time.monotonic() < until:
                if client.get(f"/v1/jobs/{job_id}").status_code == 200:
                    ok += 1
                else:
                    other += 1
        return ok, other

    with ThreadPoolExecutor(READ_CLIENTS) as pool:
        counts = list(pool.map(reader, range(READ_CLIENTS)))
    elapsed = time.monotonic() - window[0]
    return sum(ok for ok, _ in counts), sum(other for _, other in counts), elapsed


def api_under_load(runs: int = 50, read_seconds: float = 10.0) -> ApiResult:
    """A: `runs` jobs submitted and followed over HTTP, then `read_seconds` of status reads."""
    submit_ms: list[float] = []
    status_ms: list[float] = []
    done_ms: list[float] = []
    with (
        scratch_engine() as engine,
        tempfile.TemporaryDirectory(prefix="aikings-api-bench-") as folder,
        comfy_behind_vast() as (_comfy, vast),
    ):
        media = Path(folder) / "media"
        settings = load_settings(
            database_url=str(engine.url),
            sim_vast_url=vast.url,
            media_root=media,
            backup_dir=Path(folder) / "backups",
            pool_desired_size=1,
        )
        runtime, user_id = _warm_runtime(engine, settings)
        with session_scope(engine) as session:  # a token works once its user accepted the terms
            legal.accept(session, user_id=user_id, texts=legal.load(), now=SystemClock().now())
        with read_scope(engine) as session:
            user = session.get(User, user_id)
        assert user is not None
        token = token_for(engine, user)
        env = {
            "MEDIA_ROOT": str(media),
            "SIM_VAST_URL": vast.url,
            "API_RATE_PER_MINUTE": "100000",
            "LOG_LEVEL": "ERROR",
        }
        stop = threading.Event()
        dispatcher = threading.Thread(target=_dispatching, args=(runtime, stop), daemon=True)
        dispatcher.start()
        try:
            with api_process(engine, env=env, cwd=Path(folder)) as api, api.client(token) as client:
                _one_job(client, runs)  # untimed: a fresh process's first call loads lazily
                for index in range(runs):
                    submit, status, done = _one_job(client, index)
                    submit_ms.append(submit)
                    status_ms.append(status)
                    if done is not None:
                        done_ms.append(done)
                last_job = client.get("/v1/jobs", params={"limit": 1}).json()[0]["id"]
                reads, failed, elapsed = _sustained_reads(api, token, last_job, read_seconds)
        finally:
            stop.set()
            dispatcher.join(timeout=10)
            runtime.shutdown(grace_s=5)
            runtime.engine.dispose()
    result = ApiResult(submit_ms, status_ms, done_ms, len(done_ms), reads, failed, elapsed)
    print(f"\n== A HTTP API: `python -m api` on loopback, warm instance, {runs} jobs ==")
    print(row("call", "p50 ms", "p95 ms"))
    for name, samples in (
        ("POST /v1/jobs", submit_ms),
        ("first GET /v1/jobs/{id}", status_ms),
        ("submit -> status", result.submit_status_ms),
        ("submit -> succeeded (polling)", done_ms),
    ):
        print(row(name, f"{percentile(samples, 50):.0f}", f"{percentile(samples, 95):.0f}"))
    print(
        f"sustained reads: {reads} in {elapsed:.1f} s by {READ_CLIENTS} clients "
        f"= {result.reads_per_s:.0f} req/s ({failed} not 200)"
    )
    return result
