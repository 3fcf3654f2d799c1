"""P1 orchestration overhead, P3 a reconcile tick at 100 instances, P5 the Studio page render.

P1: a warm simulated instance with zero compute time; submit -> stored asset through the
scheduler's Runtime, against the same graph sent straight to the simulated ComfyUI.
P3: one reconcile tick with 100 instances listed (provider calls and wall time).
P5: the Studio page rendered by AppTest for a signed-in user.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from bench.common import percentile, row, scratch_engine
from core.accounts import ledger, sessions, users
from core.clock import FakeClock, SystemClock
from core.comfy.client import ComfyClient
from core.comfy.presets import Presets
from core.comfy.workflows import GenerationRequest, build_graph
from core.config import get_settings, load_settings
from core.db import read_scope, session_scope
from core.models import GenerationJob, JobStatus, PoolConfig
from core.studio import jobs
from scheduler.jobs import Runtime
from sim.comfy import ComfySimConfig
from sim.vast import Timings
from tests.factories import make_pool
from tests.pool_harness import PoolHarness
from tests.sims import comfy_sim, vast_sim

RUNS = 20


def orchestration_overhead() -> None:
    """P1: Runtime submit->asset vs the bare ComfyUI round trip, zero compute."""
    presets = Presets.load()
    engine = scratch_engine()
    folder = Path(tempfile.mkdtemp(prefix="aikings-p1-"))
    with (
        comfy_sim(ComfySimConfig()) as comfy,
        vast_sim(timings=Timings(0, 0, 0), comfy_port=int(comfy.url.rsplit(":", 1)[1])) as vast,
    ):
        settings = load_settings(
            database_url=str(engine.url),
            sim_vast_url=vast.url,
            media_root=folder / "media",
            backup_dir=folder / "b",
            pool_desired_size=1,
        )
        runtime = Runtime(settings, SystemClock())
        with session_scope(engine) as session:
            config = session.get(PoolConfig, settings.pool_name)
            config.max_price_per_hour_usd, config.min_reliability = Decimal("5"), 0.9
            config.min_vram_gb, config.prewarm_until = 8, datetime.now(UTC) + timedelta(hours=1)
            session.add(config)
            user = users.register(
                session,
                username="bench",
                email="b@example.test",
                display_name="B",
                password="a long enough secret",
                date_of_birth=date(1990, 1, 1),
                now=datetime.now(UTC),
                starter_credits=0,
            )
            ledger.grant(
                session,
                user_id=user.id or 0,
                credits=10**6,
                key="bench",
                note="",
                now=datetime.now(UTC),
            )
        runtime.tick_pool()
        runtime.tick_pool()  # warm: one ready instance
        through, direct = [], []
        for index in range(RUNS):
            started = time.perf_counter()
            job = jobs.submit(
                engine,
                user_id=user.id or 0,
                request=jobs.StudioRequest(
                    prompt=f"a lighthouse {index}", preset="low", seed=index
                ),
                clock=runtime.clock,
                presets=presets,
                pricing=jobs.pricing_from(settings),
                pool=settings.pool_name,
            )
            while True:
                runtime.dispatch()
                with read_scope(engine) as session:
                    status = session.get(GenerationJob, job.id).status
                if status in (JobStatus.SUCCEEDED, JobStatus.FAILED):
                    break
                time.sleep(0.005)
            through.append((time.perf_counter() - started) * 1000)
            graph = build_graph(
                GenerationRequest(
                    positive=f"a lighthouse {index}",
                    negative="",
                    model=presets.default_model("image"),
                    preset="low",
                    seed=index,
                ),
                presets,
            )
            started = time.perf_counter()
            with ComfyClient(comfy.url) as client:
                result = client.run(graph)
                for ref in result.outputs:
                    client.view(ref)
            direct.append((time.perf_counter() - started) * 1000)
        runtime.shutdown(grace_s=5)
    print("\n== P1 orchestration overhead (warm instance, zero compute; goal < 250 ms p50) ==")
    print(row("path", "p50 ms", "p95 ms"))
    print(
        row(
            "submit -> stored asset",
            f"{percentile(through, 50):.0f}",
            f"{percentile(through, 95):.0f}",
        )
    )
    print(
        row(
            "graph straight to ComfyUI",
            f"{percentile(direct, 50):.0f}",
            f"{percentile(direct, 95):.0f}",
        )
    )
    print(f"overhead p50: {percentile(through, 50) - percentile(direct, 50):.0f} ms")


def reconcile_at_scale(count: int = 100) -> None:
    """P3: one tick with `count` instances listed."""
    engine = scratch_engine()
    make_pool(
        engine,
        desired_size=count,
        max_instances=count,
        max_price_per_hour_usd=Decimal("5"),
        min_reliability=0.9,
        min_vram_gb=8,
        prewarm_until=datetime(2030, 1, 1, tzinfo=UTC),
    )
    with vast_sim() as sim:
        sim.state.refill_offers(count + 10)
        harness = PoolHarness(engine, sim, FakeClock(datetime.now(UTC)))
        harness.tick()  # rents them all
        harness.tick()  # marks them ready
        samples, calls = [], []
        for _ in range(10):
            before = len(sim.state.calls)
            started = time.perf_counter()
            harness.tick()
            samples.append((time.perf_counter() - started) * 1000)
            calls.append(len(sim.state.calls) - before)
        harness.close()
    print(f"\n== P3 one reconcile tick with {count} instances (goal: 1 list call/page, < 1 s) ==")
    print(row("p50 ms", "p95 ms", "provider calls"))
    print(
        row(
            f"{percentile(samples, 50):.0f}",
            f"{percentile(samples, 95):.0f}",
            f"{statistics.median(calls):.0f}",
        )
    )


def studio_render() -> None:
    """P5: AppTest render time of the Studio page for a signed-in user."""
    from streamlit.testing.v1 import AppTest

    engine = scratch_engine(Path(tempfile.mkdtemp(prefix="aikings-p5-")))
    os.environ["DATABASE_URL"] = str(engine.url)  # the page builds its engine from settings
    get_settings.cache_clear()
    with session_scope(engine) as session:
        user = users.register(
            session,
            username="bench",
            email="b@example.test",
            display_name="B",
            password="a long enough secret",
            date_of_birth=date(1990, 1, 1),
            now=datetime.now(UTC),
            starter_credits=100,
        )
        token = sessions.create_session(
            session, user_id=user.id or 0, now=datetime.now(UTC), ttl_s=3600
        )
    root = Path(__file__).resolve().parents[1]
    samples = []
    for _ in range(10):
        app = AppTest.from_file(str(root / "pages" / "studio.py"), default_timeout=30)
        app.session_state["age_confirmed"] = True
        app.session_state["auth_token"] = token
        started = time.perf_counter()
        app.run()
        samples.append((time.perf_counter() - started) * 1000)
    print("\n== P5 Studio page render (AppTest; goal < 300 ms p50) ==")
    print(row("p50 ms", "p95 ms"))
    print(row(f"{percentile(samples, 50):.0f}", f"{percentile(samples, 95):.0f}"))


def main() -> None:
    """Run P1, P3 and P5."""
    orchestration_overhead()
    reconcile_at_scale()
    studio_render()
