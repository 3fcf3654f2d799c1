"""Idle gaps per level and the timeouts they make cheapest, on small synthetic histories."""

import math
from datetime import UTC, datetime, timedelta

from core.pool.gaps import (
    CANDIDATES_S,
    MIN_IDLE_S,
    GapTable,
    group_of,
    per_group,
    uses,
)

MONDAY = datetime(2026, 3, 2, tzinfo=UTC)
IDLE = 1.0  # a dollar per idle second
COLD = 600.0  # a cold start costs ten idle minutes


def at(seconds: float) -> datetime:
    return MONDAY + timedelta(seconds=seconds)


def test_a_job_arriving_while_another_runs_takes_a_second_level_and_gaps_run_from_job_ends():
    used = uses([at(0), at(10), at(100), at(400)], job_s=45.0)
    assert [u.level for u in used] == [1, 2, 1, 1]
    assert math.isinf(used[0].gap_s) and math.isinf(used[1].gap_s)
    assert used[1].idle_from is None
    assert used[2].idle_from == at(45) and used[2].gap_s == 55
    assert used[3].idle_from == at(145) and used[3].gap_s == 255


def test_a_timeouts_cost_is_idle_up_to_it_plus_a_cold_start_per_longer_gap():
    table = GapTable([100.0, 2000.0])
    costs = dict(zip(CANDIDATES_S, table.costs(IDLE, COLD), strict=True))
    assert costs[60] == 60 + COLD + 60 + COLD
    assert costs[120] == 100 + 120 + COLD
    assert costs[2010] == 100 + 2000


def test_short_gaps_are_bridged_and_long_ones_are_slept_through():
    short = [(at(3600 * k), 240.0) for k in range(50)]
    long = [(at(3600 * k), 5000.0) for k in range(50)]
    assert set(per_group(short, IDLE, COLD)) == {240}
    assert set(per_group(long, IDLE, COLD)) == {MIN_IDLE_S}


def test_each_hour_learns_its_own_gaps_and_a_thin_hour_takes_the_overall_choice():
    days = range(20)
    morning = [
        (MONDAY + timedelta(days=d, hours=9, minutes=m), 300.0) for d in days for m in (0, 20)
    ]
    evening = [
        (MONDAY + timedelta(days=d, hours=20, minutes=m), 4000.0) for d in days for m in (0, 20)
    ]
    lonely = [(MONDAY + timedelta(hours=3), 4000.0)]
    table = per_group(morning + evening + lonely, IDLE, COLD)
    assert table[group_of(MONDAY + timedelta(hours=9))] == 300
    assert table[group_of(MONDAY + timedelta(hours=20))] == MIN_IDLE_S
    overall = per_group(morning + evening, IDLE, COLD)[group_of(MONDAY + timedelta(hours=14))]
    assert table[group_of(MONDAY + timedelta(hours=3))] == overall


def test_groups_are_utc_hours_with_weekends_apart():
    saturday = MONDAY + timedelta(days=5)
    assert group_of(MONDAY + timedelta(hours=9, minutes=59)) == 9
    assert group_of(saturday + timedelta(hours=9)) == 33
    assert group_of(MONDAY.astimezone(UTC) + timedelta(days=4, hours=23)) == 23
