"""The pool-policy benchmark's replay on one reported day: what must hold between strategies."""

from datetime import timedelta
from decimal import Decimal
from itertools import islice

import pytest

from bench.common import percentile
from bench.pool_policy import (
    EPOCH,
    TRACES,
    Job,
    Outcome,
    Trace,
    compare,
    fresh_traces,
    make_trace,
    ratios,
    replay,
    sim_price_per_hour_usd,
    spread_seeds,
)
from core.pool.adaptive import Advice
from core.pool.policy import Expected


@pytest.fixture(scope="module")
def outcomes():
    price = sim_price_per_hour_usd()
    results = {}
    for name in TRACES:
        trace = make_trace(name, 1, history_days=7, report_days=1)
        reported = sum(1 for job in trace.jobs if trace.report_from <= job.at < trace.report_until)
        results[name] = (reported, {o.strategy: o for o in compare(trace, price)})
    return results


@pytest.mark.parametrize("trace", list(TRACES))
def test_every_job_is_served_and_the_optimum_is_cheapest_with_no_waits(outcomes, trace):
    reported, by_strategy = outcomes[trace]
    optimum = by_strategy.pop("offline optimum")
    # The no-prewarm optimum minimises GPU plus waiting: it may bill less GPU time than the
    # no-wait optimum by making a job wait for a GPU still booting, so only its jobs count here.
    no_prewarm = by_strategy.pop("no-prewarm optimum")
    assert reported > 0
    assert optimum.cold_starts == 0 and max(optimum.waits_s) == 0
    assert len(no_prewarm.waits_s) == reported
    for outcome in by_strategy.values():
        assert len(outcome.waits_s) == reported, outcome.strategy
        assert optimum.cost_usd <= outcome.cost_usd, outcome.strategy


@pytest.mark.parametrize("trace", list(TRACES))
def test_always_on_outspends_both_timeouts_and_the_short_one_starts_cold_the_most(outcomes, trace):
    _reported, by_strategy = outcomes[trace]
    online = [o for name, o in by_strategy.items() if not name.endswith("optimum")]
    always_on, short = by_strategy["always-on"], by_strategy["short 3-min idle"]
    assert always_on.cost_usd > by_strategy["fixed 15-min idle"].cost_usd > short.cost_usd
    assert short.cold_starts == max(o.cold_starts for o in online)


def test_adaptive_learns_to_stay_warm_under_steady_load(outcomes):
    _reported, by_strategy = outcomes["steady load"]
    adaptive, fixed = by_strategy["adaptive"], by_strategy["fixed 15-min idle"]
    assert adaptive.cold_starts < fixed.cold_starts / 4
    assert percentile(adaptive.waits_s, 95) < percentile(fixed.waits_s, 95)


def test_adaptive_idles_less_than_the_old_timeout_on_sparse_evenings(outcomes):
    # The best fixed timeout of the history is shorter than 15 minutes there: it trades a few
    # cold starts for GPU hours, so only the GPU cost is bound to be lower on one day.
    _reported, by_strategy = outcomes["sparse evening use"]
    adaptive, fixed = by_strategy["adaptive"], by_strategy["fixed 15-min idle"]
    assert adaptive.cost_usd < fixed.cost_usd


def test_the_spread_replays_seeds_the_bench_never_reports():
    bench_seeds = set(range(len(TRACES)))
    fresh = [s for seed in bench_seeds for s in islice(spread_seeds(seed), 50)]
    assert len(set(fresh)) == len(fresh) == 50 * len(TRACES)
    assert not bench_seeds & set(fresh)


def test_the_spread_skips_a_seed_with_no_demand_in_its_reported_days():
    # Sparse evenings reported over one day: 4001 (the fourth of its seeds) draws no sitting.
    traces = fresh_traces("sparse evening use", 1, 5, history_days=1, report_days=1)
    assert len(traces) == 5
    assert all(any(t.report_from <= j.at < t.report_until for j in t.jobs) for t in traces)


def test_ratios_compare_adaptive_with_waiting_valued():
    wait_value = Decimal("36.00")  # a cent a second
    outcomes = [
        Outcome("adaptive", Decimal("2.00"), 1, [100.0]),
        Outcome("best fixed (600 s, hindsight)", Decimal("1.00"), 2, [200.0]),
        Outcome("no-prewarm optimum", Decimal("1.50"), 1, [50.0]),
    ]
    over_fixed, over_no_prewarm = ratios(outcomes, wait_value)
    assert over_fixed == pytest.approx(3.00 / 3.00)
    assert over_no_prewarm == pytest.approx(3.00 / 2.00)


def test_the_replay_hands_the_policy_the_advised_queue_rule():
    # A job queued behind one that ends well before a boot: told to hold back (as the manager
    # passes `Advice.expected`), the replayed pool rents no second GPU for it; told nothing,
    # it rents one and lets it go once the first GPU took the job.
    start = EPOCH + timedelta(hours=2)
    jobs = (Job(start, 100.0), Job(start + timedelta(seconds=320), 30.0))
    trace = Trace("queued behind a busy GPU", jobs, start - timedelta(minutes=30),
                  start + timedelta(hours=1))  # fmt: skip
    held = Advice(600, None, "held", expected=Expected(240.0, 45.0))
    rents = Advice(600, None, "rents")
    kept = replay(trace, "held", lambda _now, _last: held, Decimal(1))
    rented = replay(trace, "rents", lambda _now, _last: rents, Decimal(1))
    assert kept.waits_s == rented.waits_s
    assert kept.cost_usd < rented.cost_usd
