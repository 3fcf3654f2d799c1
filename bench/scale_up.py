"""P3 while the pool scales up: from none to `count` desired against Vast's minimum intervals.

The simulator refuses calls sooner than Vast allows, the client paces itself (sleeping in
wall time) as production builds it for Vast, and the manager runs as the scheduler runs it:
the lister pages the list on a thread of its own and the creates and destroys go through the
manager's senders on threads of their own (`PoolManager.send_forever`), so a tick only
records the rents it decided. The ticks (one a second, only `reconcile()` timed) are
measured while the create sender works through the queue, for at most `window_s` of wall
time; the time until all are rented is measured when it is reached within the window, else
projected from the creates' measured rate (said so in the output).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from bench.common import Figure, percentile, row, scratch_engine
from bench.engine import DETECT_TICK_S, STEADY_TICK_P95_GOAL_MS, SimTime, make_unbounded_pool
from core.clock import FakeClock
from core.models import InstanceState
from core.pool.vast import MIN_INTERVAL_S, Pacer
from testing.pool_harness import PoolHarness
from testing.sims import vast_sim

RENTED = (InstanceState.BOOTING, InstanceState.READY, InstanceState.BUSY)


@dataclass(frozen=True)
class ScaleUpResult:
    """The ticks while renting `instances` from none, and how far the renting got."""

    instances: int
    tick_ms: tuple[float, ...]
    """Every tick's time, the first (which decided and recorded every rent) included."""
    first_tick_ms: float
    rented: int
    elapsed_s: float
    all_rented_s: float | None
    """Wall seconds from the first tick until every instance was rented (None: not within
    the window)."""
    refusals: int

    @property
    def rate_per_min(self) -> float:
        """Creates that returned per minute of the window."""
        return 60 * self.rented / self.elapsed_s if self.elapsed_s else 0.0

    @property
    def projected_s(self) -> float:
        """The time until all are rented: measured, else at the measured rate."""
        if self.all_rented_s is not None:
            return self.all_rented_s
        return 60 * self.instances / self.rate_per_min if self.rate_per_min else float("inf")

    def figures(self) -> list[Figure]:
        """The tick's p95 while scaling against the steady tick's budget."""
        how = "measured" if self.all_rented_s is not None else "projected at the measured rate"
        return [
            Figure(
                "P3",
                f"tick p95 scaling 0 -> {self.instances}, Vast's intervals on, creates on the "
                f"sender (all rented after {self.projected_s:.0f} s, {how}; "
                f"{self.refusals} 429s)",
                percentile(list(self.tick_ms), 95),
                "ms",
                "<=",
                STEADY_TICK_P95_GOAL_MS,
            )
        ]


def scaling_up(count: int, window_s: float) -> ScaleUpResult:
    """P3 scaling: a pool of `count` desired from none, ticking every `DETECT_TICK_S` for at
    most `window_s` wall seconds or until all are rented."""
    with scratch_engine() as engine:
        make_unbounded_pool(engine, count)
        with vast_sim() as sim:
            sim.state.market.refill(count + 10)
            harness = PoolHarness(engine, sim, FakeClock(datetime.now(UTC)))
            sim.faults(min_intervals=True)
            harness.client.sleep = time.sleep
            harness.client.pacer = Pacer(MIN_INTERVAL_S, clock=sim.state.now)
            manager = harness.manager
            manager.clock = manager.lister.clock = SimTime(sim.state.now)
            manager.sweeps_inline = False
            stop = threading.Event()
            threads = [
                threading.Thread(target=manager.lister.run, args=(stop,), daemon=True),
                *(
                    threading.Thread(target=manager.send_forever, args=(sender, stop), daemon=True)
                    for sender in (manager.creates, manager.destroys)
                ),
            ]
            for thread in threads:
                thread.start()
            try:
                while manager.board.observation(manager.clock.now()) is None:
                    time.sleep(0.2)
                ticks, all_rented_s = [], None
                began = time.perf_counter()
                while time.perf_counter() - began < window_s:
                    started = time.perf_counter()
                    manager.reconcile()
                    ticks.append((time.perf_counter() - started) * 1000)
                    if len(harness.rows(*RENTED)) >= count:
                        all_rented_s = time.perf_counter() - began
                        break
                    time.sleep(DETECT_TICK_S)
                elapsed_s = time.perf_counter() - began
                rented = len(harness.rows(*RENTED))
            finally:
                stop.set()
                for thread in threads:
                    thread.join(timeout=30)
                harness.close()
            refusals = sum(status == 429 for _m, _e, status in sim.state.calls)
    result = ScaleUpResult(count, tuple(ticks), ticks[0], rented, elapsed_s, all_rented_s, refusals)
    widths = (34, 12, 12, 40)
    print(f"\n== P3 scaling up 0 -> {count}, Vast's intervals on, creates on the sender ==")
    print(row("ticks", "p50 ms", "p95 ms", "progress", widths=widths))
    print(row("the tick deciding the rents", f"{result.first_tick_ms:.0f}", "", "", widths=widths))
    print(
        row(
            f"while scaling ({len(result.tick_ms)} ticks)",
            f"{percentile(list(result.tick_ms), 50):.0f}",
            f"{percentile(list(result.tick_ms), 95):.0f}",
            f"{rented}/{count} rented in {elapsed_s:.0f} s ({result.rate_per_min:.1f}/min)",
            widths=widths,
        )
    )
    if all_rented_s is not None:
        print(f"all {count} rented after {all_rented_s:.0f} s (measured); {refusals} 429s")
    else:
        print(
            f"all {count} rented after ~{result.projected_s:.0f} s (projected at the measured "
            f"rate; the window was {window_s:.0f} s); {refusals} 429s"
        )
    return result
