"""`python -m bench [--quick] [--runs N] [--only P1,P4]`: every benchmark, then one table.

Each section prints its own detail, then returns `Figure`s (a measured value beside its
goal); the last table lists them all with whether each goal is met. A section that returns
None (one that prints its own table only) gets a line pointing above.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench import (
    api,
    cold_start,
    dispatch,
    engine,
    gallery,
    grid,
    history,
    pool,
    pool_policy,
    safety,
    scale_out,
    scale_up,
    sign_in,
    stopped_tier,
)
from bench.common import Figure, table


@dataclass(frozen=True)
class Scale:
    """How big each section runs: the full benchmark or a quick smoke run."""

    quick: bool
    workers: int
    campaign_runs: int
    overhead_runs: int
    tick_instances: int
    steady_ticks: int
    page_rows: tuple[int, ...]
    renders: int
    day_seeds: int
    day_hours: float
    sign_in_submits: int
    sign_in_samples: int
    postgres_url: str | None = None

    @classmethod
    def of(cls, *, quick: bool, runs: int | None, workers: int) -> Scale:
        """The quick or full sizes; `runs` overrides the fault campaign's."""
        if quick:
            return cls(True, workers, runs or 10, 5, 100, 5, (10_000,), 5, 1, 3, 5, 10)
        return cls(
            False, workers, runs or 100, 50, 100, 20, (100_000, 1_000_000), 20, 3, 12, 40, 40
        )

    def page_repeats(self, rows: int) -> int:
        """Timed samples of each P4 page (as many of its deep page, interleaved): every page
        is an index range at any size, so as many at a million rows as at a thousand."""
        return 40


SectionRun = Callable[[Scale], Sequence[Figure] | None]


@dataclass(frozen=True)
class Section:
    """One benchmark: an id for `--only`, a title, and what runs it at a given scale."""

    id: str
    title: str
    run: SectionRun


def _warm_and_cold(scale: Scale) -> list[Figure]:
    """The cold start phase by phase, then days served warm and cold with that boot time."""
    speeds = (cold_start.GOAL_LINK_MBPS,) if scale.quick else (cold_start.GOAL_LINK_MBPS, 500.0)
    cold = cold_start.cold_starts(speeds)
    stock = cold.at_goal(cold_start.SCENARIOS[0])
    boot_s = stock.total_s - stock.first_job_s
    days = pool.warm_vs_cold(scale.day_seeds, scale.day_hours, scale.workers, boot_s=boot_s)
    return [*cold.figures(), *days.figures()]


def _ticks(scale: Scale) -> list[Figure]:
    """Reconcile ticks at 100 and 1,000 instances with a month of history, and at 100 without
    (the same tick must not grow with the month); with history, the steady ticks again
    against Vast's real per-endpoint minimum intervals; then the ticks while scaling from
    none to 100 and to 1,000 against those intervals, the creates on the manager's sender."""
    runs = [
        (scale.tick_instances, None, 0),
        (scale.tick_instances, history.month_of_history, scale.steady_ticks),
        (10 * scale.tick_instances, history.month_of_history, scale.steady_ticks),
    ]
    ticks = [
        figure
        for count, seed, limited in runs
        for figure in engine.reconcile_at_scale(count, scale.steady_ticks, seed, limited).figures(
            tick_interval_s=pool.TICK_S
        )
    ]
    window_s = SCALE_UP_WINDOW_S[scale.quick]
    return ticks + [
        figure
        for count in (scale.tick_instances, 10 * scale.tick_instances)
        for figure in scale_up.scaling_up(count, window_s).figures()
    ]


SCALE_UP_WINDOW_S = {True: 60.0, False: 600.0}
"""Wall seconds P3's scale-up phase ticks through (quick, full): renting 1,000 at Vast's
create interval takes over an hour, so past the window the time is projected."""


def _pages(scale: Scale) -> list[Figure]:
    pages = [
        figure
        for rows in scale.page_rows
        for url in (None, *filter(None, [scale.postgres_url]))
        for figure in gallery.page_queries(rows, scale.page_repeats(rows), url).figures()
    ]
    return [*pages, *grid.grid_render(3 if scale.quick else 10).figures()]


SECTIONS: tuple[Section, ...] = (
    Section(
        "P1",
        "orchestration overhead through the real scheduler process",
        lambda s: dispatch.process_overhead(s.overhead_runs).figures(),
    ),
    Section(
        "TP",
        "throughput with 4 and 16 warm instances",
        lambda s: dispatch.throughput_section(60 if s.quick else 300),
    ),
    Section("P2", "pool-policy replay", lambda s: pool_policy.main(quick=s.quick)),
    Section("T", "stopped tier vs fresh boots", lambda s: stopped_tier.main(quick=s.quick)),
    Section("P3", "reconcile ticks with a month of history", _ticks),
    Section("P4", "gallery and audit pages", _pages),
    Section("P5", "Studio page render", lambda s: engine.studio_render(s.renders).figures()),
    Section("W", "cold start and warm pool vs cold start", _warm_and_cold),
    Section(
        "L",
        "sign-in under attack",
        lambda s: sign_in.sign_in_under_attack(s.sign_in_submits, s.sign_in_samples).figures(),
    ),
    Section(
        "F",
        "fault campaign",
        lambda s: pool.fault_campaigns(s.campaign_runs, s.workers),
    ),
    Section(
        "WK",
        "jobs/hour with 1, 2 and 4 worker processes (PostgreSQL)",
        lambda s: scale_out.workers_section(32 if s.quick else 200),
    ),
    Section("S", "content safety", lambda s: safety.main(quick=s.quick).figures()),
    Section(
        "A",
        "HTTP API submit->status and sustained reads",
        lambda s: api.api_under_load(s.overhead_runs, 2.0 if s.quick else 10.0).figures(),
    ),
)


def run(sections: Sequence[Section], scale: Scale) -> tuple[list[list[str]], dict[str, float]]:
    """Run `sections` in order; the consolidated table's lines and each section's seconds."""
    lines: list[list[str]] = []
    seconds: dict[str, float] = {}
    for section in sections:
        started = time.perf_counter()
        figures = section.run(scale)
        seconds[section.id] = time.perf_counter() - started
        if figures is None:
            lines.append([section.id, f"{section.title}: see its table above", "", "", ""])
            continue
        lines += [[f.id, f.what, f.shown, f.goal, "yes" if f.met else "NO"] for f in figures]
    return lines, seconds


def _chosen(only: str | None, parser: argparse.ArgumentParser) -> list[Section]:
    if not only:
        return list(SECTIONS)
    wanted = [name.strip().upper() for name in only.split(",") if name.strip()]
    known = {section.id for section in SECTIONS}
    unknown = [name for name in wanted if name not in known]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return [section for section in SECTIONS if section.id in wanted]


def _page_rows(text: str, parser: argparse.ArgumentParser) -> tuple[int, ...]:
    try:
        sizes = tuple(int(size.replace("_", "")) for size in text.split(",") if size.strip())
    except ValueError:
        parser.error(f"--page-rows takes whole numbers separated by commas, not {text!r}")
    if not sizes or min(sizes) < 1:
        parser.error("--page-rows needs at least one size of 1 row or more")
    return sizes


def main(argv: Sequence[str] | None = None) -> None:
    """Parse flags, run the chosen sections and print the consolidated table."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument(
        "--runs", type=int, default=None, help="fault campaign runs (default 100; 10 quick)"
    )
    parser.add_argument(
        "--only", default=None, help="comma-separated section ids, e.g. P1,P4 (default: all)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="processes for the fault campaign and the simulated days (default: CPU count)",
    )
    parser.add_argument(
        "--page-rows",
        default=None,
        metavar="N[,N]",
        help="P4's gallery sizes, e.g. 200000,1000000 (default 10,000 quick; 100,000 and 1M)",
    )
    parser.add_argument(
        "--postgres",
        default=None,
        metavar="URL",
        help="also run P4 on PostgreSQL, in databases made beside this URL's (cached there)",
    )
    args = parser.parse_args(argv)
    if args.runs is not None and args.runs < 1:
        parser.error("--runs must be at least 1")
    sections = _chosen(args.only, parser)
    scale = dataclasses.replace(
        Scale.of(quick=args.quick, runs=args.runs, workers=max(1, args.workers)),
        postgres_url=args.postgres,
    )
    if args.page_rows:
        scale = dataclasses.replace(scale, page_rows=_page_rows(args.page_rows, parser))
    logging.disable(logging.CRITICAL)  # alerts and pool events would drown the tables
    started = time.perf_counter()
    try:
        lines, seconds = run(sections, scale)
    finally:
        logging.disable(logging.NOTSET)
    graded = [line for line in lines if line[4]]
    unmet = sum(1 for line in graded if line[4] == "NO")
    print(f"\n== Summary ({'quick' if scale.quick else 'full'} run) ==")
    print(table(["id", "what", "figure", "goal", "met"], lines))
    print(
        f"\n{len(graded) - unmet} of {len(graded)} goals met. Seconds per section: "
        + ", ".join(f"{name} {value:.0f}" for name, value in seconds.items())
        + f"; total {time.perf_counter() - started:.0f}."
    )


if __name__ == "__main__":
    main()
