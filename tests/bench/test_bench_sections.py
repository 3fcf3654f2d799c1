"""The benchmark keeps working: every section runs at a tiny size and returns sane figures.

Timings are never compared with goals here (the machine decides those); what is checked is
that each section measured what it claims: jobs succeeded, calls were counted, deep pages
were deep, the page rendered, the campaign summed its runs, and the CLI wires it together.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from bench import api, dispatch, engine, gallery, grid, pool, pool_policy, scale_up, stopped_tier
from bench.__main__ import SECTIONS, main
from bench.common import Figure, interleaved_ms, parallel_map, percentile
from core.db import read_scope
from core.models import GpuInstance, InstanceState, PoolConfig
from testing.main_module import kept_main_module


def _ordered(samples: list[float]) -> None:
    assert samples and all(sample > 0 for sample in samples)
    assert percentile(samples, 95) >= percentile(samples, 50) > 0


@pytest.mark.parametrize(
    ("op", "value", "met"),
    [("<=", 5, True), ("<=", 6, False), (">=", 5, True), (">=", 4, False), ("==", 5, True)],
)
def test_a_figure_meets_its_goal_only_on_the_right_side_of_the_limit(op, value, met):
    figure = Figure("X", "thing", value, "ms", op, 5)
    assert figure.met is met
    assert figure.goal.endswith("5 ms")


def test_overhead_runs_every_job_through_the_scheduler_process_and_times_both_paths():
    result = dispatch.process_overhead(runs=2)
    assert result.succeeded == 2
    assert 2_000_000 <= result.output_bytes <= 3_000_000  # a real 1024² picture's weight
    _ordered(result.through_ms)
    _ordered(result.direct_ms)
    assert len(result.overhead_ms) == 2
    _ordered(result.checked_ms)  # every output checked (and shown) after its job
    assert {figure.id for figure in result.figures()} == {"P1"}


def test_the_dispatch_stack_runs_as_deployed_each_instance_its_own_comfy_at_the_usual_tick():
    with dispatch._stack(2, grain=0) as stack:
        with read_scope(stack.engine) as session:
            urls = session.exec(
                select(GpuInstance.comfy_url).where(GpuInstance.state == InstanceState.READY)
            ).all()
        environ = Path(f"/proc/{stack.scheduler_pid}/environ").read_bytes().split(b"\0")
    assert len(set(urls)) == 2  # not one ComfyUI serving every instance
    # The measured scheduler is not the warm-up's (ticking every second): production's tick.
    assert b"POOL_POLL_INTERVAL_S=1" not in environ


def test_api_section_runs_jobs_through_the_real_api_process_and_counts_its_reads():
    result = api.api_under_load(runs=2, read_seconds=0.5)
    assert result.succeeded == 2
    _ordered(result.submit_ms)
    _ordered(result.status_ms)
    _ordered(result.done_ms)
    assert result.reads > 0 and result.failed_reads == 0
    assert result.reads_per_s > 0
    assert {figure.id for figure in result.figures()} == {"A"}


def test_reconcile_counts_one_list_page_per_25_instances_once_the_pool_is_steady():
    result = engine.reconcile_at_scale(30, steady_ticks=3)
    calls = result.scale_up_calls
    assert (calls["list"], calls["create"]) == (1, 30)
    assert 1 <= calls["search"] <= 30 // engine.OFFERS_PER_SEARCH  # not one search per rent
    assert result.steady_calls == [{"list": 2}] * 3
    assert result.steady_observed == [30, 30, 30]
    _ordered(result.steady_ms)
    calls = [f for f in result.figures(tick_interval_s=30) if "provider calls" in f.what]
    assert [figure.met for figure in calls] == [True, True]


def test_page_queries_time_a_first_and_a_truly_deep_page_of_every_query():
    result = gallery.page_queries(1000, repeats=3)
    assert [page.query for page in result.pages] == [
        *(name for name, _sort, _filters in gallery.QUERIES),
        "board page",
        "board page by link",
        "audit log",
        "audit log, action filter",
    ]
    unfiltered = [p for p in result.pages if p.query.split()[-1] in gallery.SORTS]
    assert len(unfiltered) == 8
    for page in unfiltered:
        assert page.depth == 900
        assert page.deep_items == gallery.PAGE_SIZE
    for page in result.pages:
        _ordered(page.first_ms)
        _ordered(page.deep_ms)
        assert page.depth_ratio > 0
    for name in ("board page", "board page by link"):  # 1000 pictures on 100 boards
        board = {p.query: p for p in result.pages}[name]
        assert (board.depth, board.deep_items) == (9, 1)
    searched = {p.query: p for p in result.pages}["mine newest, search 1 in 10"]
    assert 90 <= searched.depth < 100  # one title in ten starts with the common word
    assert result.seed_s > 0
    assert result.writer_wait_ms > 0
    assert len(result.figures()) == len(result.pages) + 4  # + slowest p50 and p95


def test_grid_render_shows_every_thumbnail_without_exceptions():
    result = grid.grid_render(renders=2)
    assert (result.images, result.exceptions) == (grid.THUMBNAILS, 0)
    _ordered(result.warm_ms)
    _ordered(result.empty_warm_ms)
    assert result.cold_ms > 0 and result.empty_cold_ms > 0


def test_studio_render_times_a_sessions_reruns_with_every_finished_job_shown():
    result = engine.studio_render(renders=2, finished_jobs=2)
    assert (result.images, result.exceptions) == (2, 0)
    assert result.title
    assert len(result.warm_ms) == len(result.empty_warm_ms) == 2
    _ordered(result.warm_ms)
    _ordered(result.empty_warm_ms)
    assert result.cold_ms > 0 and result.empty_cold_ms > 0


def test_warm_and_cold_pools_serve_the_same_demand_and_both_spend():
    result = pool.warm_vs_cold(seeds=1, hours=1)
    assert sum(day.jobs for day in result.cold) == sum(day.jobs for day in result.warm) > 0
    for day in result.cold + result.warm:
        assert len(day.waits) == day.jobs
        assert all(wait >= 0 for wait in day.waits)
        assert day.cost_usd > 0
    assert result.cost_ratio > 0


def test_fault_campaign_sums_its_runs_and_finds_nothing_leaked():
    summary = pool.fault_campaign(runs=1, workers=1)
    assert [result.seed for result in summary.results] == [0]
    assert summary.total("jobs") > 0 and summary.total("db_faults") > 0
    assert all(figure.met for figure in summary.figures() if figure.op == "==")
    assert all(figure.what.startswith("sqlite: ") for figure in summary.figures())
    assert summary.converge_ticks[0] >= 1


def test_fault_campaigns_cover_both_databases_and_say_when_postgresql_is_missing(
    monkeypatch, capsys
):
    ran = []

    def campaign(runs, workers, database):
        ran.append(database)
        return pool.CampaignSummary([], 0.0, database)

    monkeypatch.setattr(pool, "fault_campaign", campaign)
    monkeypatch.setenv("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/x")
    both = pool.fault_campaigns(1, 1)
    assert ran == ["sqlite", "postgresql"]
    assert {figure.what.split(":")[0] for figure in both} == {"sqlite", "postgresql"}
    ran.clear()
    monkeypatch.delenv("TEST_DATABASE_URL")
    monkeypatch.delenv("BENCH_DATABASE_URL", raising=False)
    alone = pool.fault_campaigns(1, 1)
    assert ran == ["sqlite"]
    assert [f for f in alone if f.what.startswith("postgresql")][0].met is False
    assert "Fault campaign on postgresql: not run" in capsys.readouterr().out


def test_policy_replay_reports_adaptive_against_the_optimum_for_every_trace(capsys):
    figures = pool_policy.main(quick=True)
    assert len(pool_policy.TRACES) == 4
    assert [f.what.split(":")[0] for f in figures[::2]] == list(pool_policy.TRACES)
    assert all("best fixed timeout in hindsight" in f.what for f in figures[::2])
    assert all("no-prewarm optimum" in f.what for f in figures[1::2])
    assert all(f.value > 0 for f in figures)
    out = capsys.readouterr().out
    assert "break-even" in out and "foresight optimum" in out
    spread = out[out.index("The same ratios on fresh seeds") :].splitlines()[1:5]
    assert [line.split(":")[0].strip() for line in spread] == list(pool_policy.TRACES)
    assert all(line.count("/1 met)") == 2 for line in spread)


def test_the_optima_are_lower_bounds_of_every_rule_on_a_trace():
    trace = pool_policy.make_trace("noisy daily cycle, heavy tails", 3, history_days=1,
                                   report_days=1)  # fmt: skip
    price = Decimal("0.9")
    wait = PoolConfig(name="bench").wait_value_per_hour_usd
    outcomes = pool_policy.compare(trace, price)
    no_prewarm, foresight = outcomes[-2], outcomes[-1]
    rules = [o for o in outcomes[:-2] if o.strategy != "adaptive" and o.strategy != "always-on"]

    assert all(no_prewarm.total_usd(wait) <= o.total_usd(wait) + Decimal("0.01") for o in rules)
    assert foresight.total_usd(wait) <= no_prewarm.total_usd(wait)


def test_the_no_prewarm_optimum_bills_a_boot_and_the_run_after_it_and_makes_later_jobs_wait():
    start = datetime(2026, 1, 5, 20, tzinfo=UTC)
    jobs = (pool_policy.Job(start, 50.0), pool_policy.Job(start + timedelta(seconds=100), 40.0))
    trace = pool_policy.Trace("two", jobs, start, start + timedelta(hours=1))
    optimum = pool_policy.no_prewarm_optimum(trace, Decimal("3.6"), Decimal("0"))
    boot = pool_policy.BOOT_S
    # The second job comes while the GPU rented for the first still boots: it waits for the
    # boot and the first job's run, and every second of both runs is billed.
    assert optimum.waits_s == [boot, boot + 50.0 - 100]
    assert optimum.cost_usd == Decimal(str(float(boot + 50 + 40))) / 1000
    price, no_wait = Decimal("3.6"), Decimal(0)
    alone = pool_policy.no_prewarm_optimum(replace(trace, jobs=jobs[:1]), price, no_wait)
    assert alone.cost_usd == Decimal(str(float(boot + 50))) / 1000


def test_safety_section_grades_every_set_and_time(capsys):
    from bench import safety

    run = safety.main(quick=True)
    assert [f.id for f in run.figures()] == [f"S{i}" for i in range(1, 72)]
    sets = {"dev", "holdout", "holdout17", "fresh17", "fresh18", "fresh19", "fresh20", "fresh21"}
    sets |= {"fresh22", "fresh23", "fresh24", "fresh25", "fresh26", "fresh28", "fresh29"}
    sets |= {"fresh30", "fresh31"}
    assert run.refusal.keys() == run.false_refusal.keys() == sets
    assert run.refusal_explicit.keys() == run.false_refusal_explicit.keys() == sets
    assert run.image_p50_ms > 0 and run.prompt_p99_ms > 0
    assert "content safety" in capsys.readouterr().out


def test_interleaved_timing_alternates_which_action_goes_first_after_one_untimed_call_each():
    calls: list[str] = []
    first, second = interleaved_ms(lambda: calls.append("a"), lambda: calls.append("b"), 4)
    assert calls == ["a", "b", "a", "b", "b", "a", "a", "b", "b", "a"]
    assert len(first) == len(second) == 4


def test_a_depth_ratio_is_of_medians_so_one_slow_sample_of_either_page_does_not_move_it():
    steady = [5.0] * 19
    page = gallery.PageTiming("q", 900, [*steady, 50.0], [*steady, 5.0], 24)
    assert page.depth_ratio == 1.0
    assert page.worst_ms(50) == 5.0


def test_parallel_map_keeps_the_order_of_items_across_spawned_workers():
    assert parallel_map(abs, [-3, 1, -2, 4, -5], workers=2) == [3, 1, 2, 4, 5]


def test_spawned_workers_after_a_page_run_import_the_real_main_module_not_the_page(tmp_path):
    page = tmp_path / "page.py"
    page.write_text(
        'import streamlit as st\n\nif __name__ == "__mp_main__":\n'
        '    raise SystemExit("a spawned worker ran the page")\nst.title("A page")\n'
    )
    with kept_main_module():
        AppTest.from_file(str(page)).run()
        assert sys.modules["__main__"].__file__ == str(page)  # what the run leaves behind
    assert parallel_map(abs, [-3, 1], workers=2) == [3, 1]


def test_cli_rejects_an_unknown_section():
    with pytest.raises(SystemExit) as exit_info:
        main(["--only", "P9"])
    assert exit_info.value.code == 2


def test_cli_runs_the_chosen_section_and_prints_the_summary_table(capsys):
    main(["--quick", "--only", "p5"])
    out = capsys.readouterr().out
    summary = out[out.index("== Summary (quick run) ==") :]
    assert "Studio page render p95" in summary
    assert "exceptions shown on the page" in summary
    assert "goals met. Seconds per section: P5 " in summary
    assert "P1" not in summary
    assert {section.id for section in SECTIONS} == {
        "P1",
        "P2",
        "T",
        "TP",
        "P3",
        "P4",
        "P5",
        "W",
        "F",
        "L",
        "WK",
        "S",
        "A",
    }


def _two_sittings() -> pool_policy.Trace:
    """One job, then another 30 minutes later: the pool sleeps (120 s idle) in between."""
    start = pool_policy.EPOCH + timedelta(hours=2)
    jobs = (pool_policy.Job(start, 30.0), pool_policy.Job(start + timedelta(minutes=30), 30.0))
    return pool_policy.Trace("two sittings", jobs, pool_policy.EPOCH + timedelta(hours=1.5),
                             start + timedelta(hours=1))  # fmt: skip


@pytest.mark.parametrize(
    ("half_life_s", "resumed", "lost", "second_wait_range_s"),
    [
        (1e12, 1, 0, (45, 45 + 2 * pool.TICK_S)),  # GPU still free: a 45 s restart
        (1e-6, 0, 1, (90 + pool.BOOT_S, 90 + pool.BOOT_S + 3 * pool.TICK_S)),  # taken: replaced
    ],
)
def test_stopped_tier_restarts_a_stopped_gpu_or_replaces_a_start_that_lost_it(
    half_life_s, resumed, lost, second_wait_range_s
):
    tier = stopped_tier.Tier(half_life_s, timedelta(hours=6), 45.0, Decimal("0.01"))
    model, built = stopped_tier.tier_model(tier, seed=0)
    outcome = pool_policy.replay(
        _two_sittings(), "tier", pool_policy.fixed_idle(120), Decimal("1"), pool_model=model
    )
    [replayed] = built
    assert (replayed.resumed, replayed.resume_failed) == (resumed, lost)
    low, high = second_wait_range_s
    assert low <= outcome.waits_s[1] <= high
    assert replayed.storage_usd() > 0  # the stopped disk billed while it waited
    fresh = pool_policy.replay(_two_sittings(), "fresh", pool_policy.fixed_idle(120), Decimal("1"))
    assert fresh.waits_s[1] >= pool.BOOT_S


def test_a_cold_start_is_measured_phase_by_phase_through_the_real_wiring():
    from bench import cold_start

    stock = cold_start.cold_start(cold_start.SCENARIOS[0], 1000.0, gpu=False)
    cached = cold_start.cold_start(cold_start.SCENARIOS[2], 1000.0, gpu=False)
    assert stock.ready and cached.ready
    # Neither the first image's checkpoint (6.9 GB) nor all the shipped models (~27 GB,
    # the rest in the background) can arrive faster than the link carries them.
    assert stock.download_s >= 6.9e9 * 8 / 1e9
    assert stock.all_models_s >= stock.boot_s + 27e9 * 8 / 1e9
    assert cached.download_s == 0.0 and cached.boot_s == stock.boot_s
    for run in (stock, cached):
        assert 0 <= run.noticed_s < cold_start.TICK_S
        assert run.first_job_s > 0 and run.warm_job_s > 0
        waited = run.boot_s + run.download_s + run.comfy_start_s + run.noticed_s
        assert waited % cold_start.TICK_S < 1e-6 or run.noticed_s == 0
    result = cold_start.ColdStartResult([stock, cached])
    figures = {figure.what: figure for figure in result.figures()[:2]}
    assert [f.value for f in figures.values()] == [stock.total_s, cached.total_s]


def test_the_seeded_history_day_totals_add_up_to_its_accruals():
    from bench import history
    from bench.common import scratch_engine
    from core.db import read_scope
    from core.models import GenerationJob, PoolSpendDay, UsageEvent

    now = datetime(2026, 3, 1, tzinfo=UTC)
    with scratch_engine() as engine:
        history.seed_month(engine, now, accruals=500, jobs=300)
        with read_scope(engine) as session:
            events = session.exec(select(UsageEvent)).all()
            days = session.exec(select(PoolSpendDay)).all()
            jobs = session.exec(select(GenerationJob)).all()
    assert len(events) == 500 and len(jobs) == 300
    assert sum(d.accrued_usd for d in days) == sum(e.cost_usd for e in events)
    assert all(now - timedelta(days=history.DAYS) <= e.at < now for e in events)


def test_reconcile_ticks_again_against_vasts_intervals_with_the_client_paced_as_for_vast():
    """The paced ticks plan from the lister's sweeps (no list call of their own), and the
    orphan and the ghost made after them are acted on within their sweeps' bounds."""
    result = engine.reconcile_at_scale(30, steady_ticks=1, limited_ticks=2)
    assert (result.limited_blind, result.limited_refusals) == (0, 0)
    assert len(result.limited_ms) == 2 and result.sweep_s >= engine.MIN_INTERVAL_S["list"]
    assert 0 < result.orphan_s <= result.ghost_s
    limited = [f for f in result.figures(tick_interval_s=30) if "intervals on" in f.what]
    assert [figure.op for figure in limited] == ["<=", "==", "<=", "<=", "<="]
    assert limited[1].value == 0 and all(figure.met for figure in limited[1:4])


def test_scaling_up_rents_through_the_create_sender_while_the_ticks_go_on():
    """The tick deciding the rents only records them; the create sender rents them one by one
    at Vast's pace (no 429), while the ticks go on."""
    result = scale_up.scaling_up(2, window_s=30)
    assert result.rented == 2 and result.all_rented_s is not None
    assert result.refusals == 0
    assert len(result.tick_ms) >= 2 and result.first_tick_ms == result.tick_ms[0]
    assert result.projected_s == result.all_rented_s
    assert result.figures()[0].value == percentile(list(result.tick_ms), 95)
