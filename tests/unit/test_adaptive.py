"""The adaptive pool advice as tables and properties: pure inputs, pure answers."""

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.pool import hindsight
from core.pool.adaptive import (
    FIXED_CANDIDATES_S,
    JOB_S,
    MIN_ARRIVALS,
    REPLAY_MAX_ARRIVALS,
    SLOT_S,
    Costs,
    advise,
    learn,
    slot_of_week,
)
from core.pool.gaps import MAX_IDLE_S, MIN_IDLE_S
from core.pool.policy import Expected

MONDAY = datetime(2026, 3, 2, tzinfo=UTC)
NOW = MONDAY + timedelta(days=21)
COSTS = Costs(Decimal("0.50"), 240.0, Decimal("5.00"))


def daily_sessions(hour: float, *, days: int = 21, jobs: int = 8, gap_s: int = 60) -> list:
    """A sitting of `jobs` submissions every day at `hour`, for the `days` before NOW."""
    return [
        MONDAY + timedelta(days=day, hours=hour, seconds=gap_s * k)
        for day in range(days)
        for k in range(jobs)
    ]


def first_prewarm(arrivals, costs, start, end):
    """The first 30 s tick in [start, end) at which the advice asks for a prewarm."""
    profile = learn(arrivals, start, costs)
    at = start
    while at < end:
        advice = advise(profile, costs, now=at, last_demand_at=None, fallback_idle_s=900)
        if advice.prewarm_until is not None:
            return at, advice
        at += timedelta(seconds=30)
    return None, None


@pytest.mark.parametrize(
    "arrivals",
    [
        [],
        [NOW - timedelta(minutes=m) for m in range(1, MIN_ARRIVALS)],
        [NOW - timedelta(days=40, minutes=m) for m in range(100)],  # older than the window
        [NOW + timedelta(minutes=m) for m in range(100)],  # not yet happened
    ],
    ids=["none", "too-few", "too-old", "future"],
)
def test_without_enough_history_the_configured_idle_timeout_is_used_and_nothing_prewarmed(
    arrivals,
):
    profile = learn(arrivals, NOW, COSTS)
    advice = advise(profile, COSTS, now=NOW, last_demand_at=NOW, fallback_idle_s=777)
    assert profile is None
    assert advice.idle_timeout_s == 777 and advice.prewarm_until is None


@pytest.mark.parametrize("boot_s", [120.0, 240.0, 420.0])
def test_a_strong_daily_pattern_prewarms_about_one_boot_before_it(boot_s):
    costs = Costs(Decimal("0.50"), boot_s, Decimal("5.00"))
    burst = NOW + timedelta(hours=9)
    at, advice = first_prewarm(daily_sessions(9), costs, NOW + timedelta(hours=6), burst)
    assert at is not None, "no prewarm before a burst seen every day for three weeks"
    lead_s = (burst - at).total_seconds()
    assert boot_s <= lead_s < boot_s + 30  # one 30 s tick of resolution
    assert advice.prewarm_until >= burst + timedelta(seconds=SLOT_S)


def test_prewarm_ends_with_the_run_of_busy_slots():
    _at, advice = first_prewarm(
        daily_sessions(9, jobs=2), COSTS, NOW + timedelta(hours=8), NOW + timedelta(hours=9)
    )
    assert advice.prewarm_until == NOW + timedelta(hours=9, seconds=SLOT_S)


def test_when_waiting_is_worth_nothing_no_slot_is_worth_prewarming():
    free_waits = Costs(Decimal("0.50"), 240.0, Decimal(0))
    at, _ = first_prewarm(
        daily_sessions(9), free_waits, NOW + timedelta(hours=6), NOW + timedelta(hours=10)
    )
    assert at is None


def test_one_odd_day_does_not_make_a_warm_slot_but_the_same_burst_every_week_does():
    usual = daily_sessions(20, jobs=3)
    start = NOW + timedelta(hours=2)

    def night_burst(day: int) -> list:
        return [MONDAY + timedelta(days=day, hours=3, seconds=10 * k) for k in range(60)]

    once, _ = first_prewarm(usual + night_burst(14), COSTS, start, start + timedelta(hours=2))
    weekly = usual + night_burst(0) + night_burst(7) + night_burst(14)
    every_week, _ = first_prewarm(weekly, COSTS, start, start + timedelta(hours=2))
    assert once is None
    assert every_week is not None


def test_sparse_random_demand_sleeps_at_the_floor_and_busy_random_demand_stays_warm():
    rng = random.Random(7)
    sparse = [MONDAY + timedelta(days=d, hours=rng.uniform(0, 24)) for d in range(21)]
    busy, at = [], MONDAY
    while (at := at + timedelta(seconds=rng.expovariate(1 / 120))) < NOW:
        busy.append(at)
    sparse_advice = advise(
        learn(sparse, NOW, COSTS), COSTS, now=NOW, last_demand_at=NOW, fallback_idle_s=900
    )
    busy_advice = advise(
        learn(busy, NOW, COSTS), COSTS, now=NOW, last_demand_at=NOW, fallback_idle_s=900
    )
    assert sparse_advice.idle_timeout_s == MIN_IDLE_S and sparse_advice.prewarm_until is None
    assert busy_advice.prewarm_until is not None or busy_advice.idle_timeout_s >= 900


def test_slot_of_week_starts_monday_midnight_utc_in_quarter_hours():
    assert slot_of_week(MONDAY) == 0
    assert slot_of_week(MONDAY + timedelta(minutes=14, seconds=59)) == 0
    assert slot_of_week(MONDAY + timedelta(days=6, hours=23, minutes=59)) == 7 * 96 - 1


@settings(max_examples=60, deadline=None)
@given(
    offsets_s=st.lists(st.integers(0, 28 * 86_400), min_size=0, max_size=300),
    price=st.decimals("0.05", "5", places=2),
    boot_s=st.floats(30, 1200),
    wait_value=st.decimals("0", "50", places=2),
    since_demand_s=st.integers(0, 86_400),
)
def test_advice_stays_within_floor_and_cap_and_never_prewarms_into_the_past(
    offsets_s, price, boot_s, wait_value, since_demand_s
):
    costs = Costs(price, boot_s, wait_value)
    arrivals = [NOW - timedelta(seconds=s) for s in offsets_s]
    profile = learn(arrivals, NOW, costs)
    advice = advise(
        profile,
        costs,
        now=NOW,
        last_demand_at=NOW - timedelta(seconds=since_demand_s),
        fallback_idle_s=900,
    )
    if profile is None:
        assert advice.idle_timeout_s == 900
    else:
        assert MIN_IDLE_S <= advice.idle_timeout_s <= MAX_IDLE_S
    assert advice.prewarm_until is None or advice.prewarm_until > NOW
    assert advice == advise(
        profile,
        costs,
        now=NOW,
        last_demand_at=NOW - timedelta(seconds=since_demand_s),
        fallback_idle_s=900,
    )


def two_kinds_of_hour(days: int = 21) -> list:
    """Mornings with 20-minute pauses (worth bridging), evenings with 50-minute ones (not)."""
    return [
        MONDAY + timedelta(days=day, hours=hour, minutes=pause * k)
        for day in range(days)
        for hour, pause, jobs in ((9, 21, 4), (20, 51, 3))
        for k in range(jobs)
    ]


def test_hours_with_different_gaps_get_their_own_timeouts_when_that_beats_any_fixed_one():
    profile = learn(two_kinds_of_hour(), NOW, COSTS)
    assert profile is not None and profile.choice.per_hour
    morning = advise(
        profile, COSTS, now=NOW, last_demand_at=NOW + timedelta(hours=9), fallback_idle_s=900
    )
    evening = advise(
        profile, COSTS, now=NOW, last_demand_at=NOW + timedelta(hours=20), fallback_idle_s=900
    )
    assert morning.idle_timeout_s >= 21 * 60 - 45
    assert evening.idle_timeout_s == MIN_IDLE_S
    assert profile.choice.best_fixed_s < morning.idle_timeout_s


def test_without_a_pattern_by_hour_every_hour_falls_back_to_the_best_fixed_timeout_so_far():
    rng = random.Random(3)
    arrivals, at = [], MONDAY
    while (at := at + timedelta(seconds=rng.expovariate(1 / 900))) < NOW:
        arrivals.append(at)
    profile = learn(arrivals, NOW, COSTS)
    assert profile is not None and not profile.choice.per_hour
    assert set(profile.choice.timeouts_s) == {profile.choice.best_fixed_s}


def test_a_busy_pools_relearning_replays_only_its_latest_submissions(monkeypatch):
    walked: list[int] = []
    replay = hindsight.cost_usd

    def counted(times, timeout_of, model, extra_s=None, **kwargs):
        walked.append(len(times))
        return replay(times, timeout_of, model, extra_s, **kwargs)

    monkeypatch.setattr(hindsight, "cost_usd", counted)
    busy = [NOW - timedelta(seconds=20 * k) for k in range(1, 3 * REPLAY_MAX_ARRIVALS)]
    assert learn(busy, NOW, COSTS) is not None
    assert walked and max(walked) == REPLAY_MAX_ARRIVALS


def test_a_second_gpu_needed_only_at_each_sittings_start_gets_a_shorter_timeout():
    # Every sitting opens with two submissions at once; the rest come one at a time.
    pairs = daily_sessions(10, jobs=1) + daily_sessions(10, jobs=12, gap_s=300)
    profile = learn(pairs, NOW, COSTS)
    assert profile is not None
    assert profile.choice.extra_s < profile.choice.best_fixed_s
    advice = advise(profile, COSTS, now=NOW, last_demand_at=NOW, fallback_idle_s=900)
    assert advice.extra_idle_timeout_s == profile.choice.extra_s
    assert "another GPU idles" in advice.reason
    # One at a time: the replay never has a second GPU, so every timeout for one costs the
    # same, and one the pool has anyway (two jobs at its start) is let go soonest.
    alone = learn(daily_sessions(10, jobs=12, gap_s=300), NOW, COSTS)
    assert alone is not None and alone.choice.best_fixed_s > FIXED_CANDIDATES_S[0]
    assert alone.choice.extra_s == FIXED_CANDIDATES_S[0]


def evening_sittings(paused_days: range, *, days: int = 28, pause_s: int = 900) -> list:
    """A sitting of six submissions a minute apart every evening of the `days` before
    NOW + 7 days; on `paused_days` the user pauses `pause_s` after the third submission."""
    start = NOW + timedelta(days=7 - days)
    arrivals = []
    for day in range(days):
        at = start + timedelta(days=day, hours=20)
        for k in range(6):
            arrivals.append(at)
            at += timedelta(seconds=60 + (pause_s if k == 2 and day in paused_days else 0))
    return arrivals


def best_fixed_s(arrivals: list, now: datetime) -> int:
    profile = learn(arrivals, now, COSTS)
    assert profile is not None
    return profile.choice.best_fixed_s


def test_a_last_week_without_pauses_does_not_undo_three_weeks_that_had_them():
    later = NOW + timedelta(days=7)
    arrivals = evening_sittings(range(21))  # the last 7 evenings have no pause
    last_week = [t for t in arrivals if t >= later - timedelta(days=7)]
    # That week alone would sleep at once; the month bridges the pause it saw on 21 evenings.
    assert best_fixed_s(arrivals, later) > best_fixed_s(last_week, later) == MIN_IDLE_S


def test_three_paused_evenings_in_a_month_do_not_buy_a_long_timeout_for_every_evening():
    later = NOW + timedelta(days=7)
    arrivals = evening_sittings(range(25, 28))  # only the last three evenings pause
    last_week = [t for t in arrivals if t >= later - timedelta(days=7)]
    # That week alone would bridge the pause; over the month it is cheaper to start cold.
    assert best_fixed_s(arrivals, later) == MIN_IDLE_S < best_fixed_s(last_week, later)


def test_what_is_learnt_at_now_never_depends_on_submissions_at_or_after_now():
    past = two_kinds_of_hour()
    future = [NOW + timedelta(minutes=7 * k) for k in range(2_000)]  # a busy week to come
    assert learn(past + future, NOW, COSTS) == learn(past, NOW, COSTS)
    assert learn(past + future, NOW, COSTS) != learn(past + future, NOW + timedelta(days=7), COSTS)


def test_a_second_job_always_queued_just_behind_the_first_waits_for_it_instead_of_renting():
    # Each sitting's jobs come in pairs 10 s apart: the second waits 35 s for the first GPU,
    # cheaper than renting one that is ready only after the first has finished.
    firsts = daily_sessions(10, jobs=6, gap_s=300)
    pairs = sorted(firsts + [at + timedelta(seconds=10) for at in firsts])
    profile = learn(pairs, NOW, COSTS)
    assert profile is not None and profile.choice.hold_rentals
    advice = advise(profile, COSTS, now=NOW, last_demand_at=NOW, fallback_idle_s=900)
    assert advice.expected == Expected(COSTS.boot_s, JOB_S)
    assert "rents only if it would wait longer than a boot" in advice.reason
    # Without a profile nothing is held back: the pool rents as it always did.
    assert advise(None, COSTS, now=NOW, last_demand_at=NOW, fallback_idle_s=900).expected is None
