"""Idle gaps and the idle timeout they make cheapest: ski rental with a learnt distribution.

Pure: callers pass submission times; nothing here reads a clock or a database.

- **Idle gaps.** Each job is taken to hold a GPU for `job_s` from its submission. Counting
  concurrent jobs in levels (the first GPU, the second, ...), a level's idle gap runs from the
  end of one job on it to the start of the next. Within a sitting these gaps are short, between
  sittings long; the learnt distribution is the mixture of both as they occurred.
- **The cost of a timeout `T` on a gap `g`:** idle `min(g, T)` seconds at `idle` dollars a
  second, plus one cold start (`cold` dollars) when `g > T`. Summed over the gaps it is what a
  fixed timeout `T` would have cost on that history; `GapTable` evaluates it for every
  candidate in `CANDIDATES_S` in `O(log n)` each.
- **Per time of day.** Gaps are grouped by the UTC hour their idle period starts in and by the
  kind of day (weekday or weekend). A group's cost is shrunk toward its hour on every day, and
  that toward all gaps, with a prior worth `PRIOR_GAPS` gaps, so a thin group takes the overall
  choice: the best fixed timeout of the history.
- `core.pool.adaptive` keeps the per-hour table only where it beats the best fixed timeout
  (ranked by `core.pool.hindsight`) on held-out recent days.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

MIN_IDLE_S = 60
MAX_IDLE_S = 2 * 3600
GRID_S = 30
CANDIDATES_S = tuple(range(MIN_IDLE_S, MAX_IDLE_S + 1, GRID_S))
"""The idle timeouts chosen among."""
GROUPS = 2 * 24
"""Weekday hours 0-23, then weekend hours 24-47."""
PRIOR_GAPS = 30.0


@dataclass(frozen=True)
class Use:
    """One submission as a level of concurrency sees it."""

    index: int
    """Its place among the submissions, in time order."""
    level: int
    """1 for the first GPU, 2 for a second one needed at the same time, ..."""
    idle_from: datetime | None
    """When its level fell idle before it; None for the first use of the level."""
    gap_s: float
    """Seconds the level was idle before it (infinite for the first use)."""


def uses(times: Sequence[datetime], job_s: float) -> list[Use]:
    """Every submission of the sorted `times` with its level and the idle gap before it."""
    hold = timedelta(seconds=job_s)
    ends: list[datetime | None] = []  # per level: when its last job ends (None: never used)
    result = []
    for index, at in enumerate(times):
        level = next((n for n, end in enumerate(ends) if end is None or end <= at), len(ends))
        if level == len(ends):
            ends.append(None)
        idle_from = ends[level]
        gap_s = math.inf if idle_from is None else (at - idle_from).total_seconds()
        result.append(Use(index, level + 1, idle_from, gap_s))
        ends[level] = at + hold
    return result


def group_of(at: datetime) -> int:
    """The time-of-day group (0..GROUPS-1) of an idle period starting at `at`."""
    at = at.astimezone(UTC)
    return at.hour + (24 if at.weekday() >= 5 else 0)


class GapTable:
    """Sorted gap lengths with prefix sums: the cost of each candidate timeout on them."""

    def __init__(self, lengths: Sequence[float]) -> None:
        self.lengths = sorted(lengths)
        self.prefix = [0.0]
        for length in self.lengths:
            self.prefix.append(self.prefix[-1] + length)

    def __len__(self) -> int:
        return len(self.lengths)

    def costs(self, idle: float, cold: float) -> list[float]:
        """Per candidate of `CANDIDATES_S`: the total cost of that fixed timeout on the gaps."""
        result = []
        for timeout_s in CANDIDATES_S:
            bridged = bisect_right(self.lengths, timeout_s)
            dropped = len(self.lengths) - bridged
            result.append(idle * (self.prefix[bridged] + timeout_s * dropped) + cold * dropped)
        return result


def per_group(gaps: Sequence[tuple[datetime, float]], idle: float, cold: float) -> tuple[int, ...]:
    """Per time-of-day group, the candidate minimising idle plus cold-start cost on `gaps`
    (idle start, length): its own gaps' costs shrunk toward its hour's, those toward all gaps'.
    With no gaps every group gets `MIN_IDLE_S`."""
    by_group: list[list[float]] = [[] for _ in range(GROUPS)]
    for at, length in gaps:
        by_group[group_of(at)].append(length)
    overall = _mean(GapTable([g for _, g in gaps]), idle, cold)
    choices = []
    for group in range(GROUPS):
        hour = group % 24
        hourly = _shrunk(GapTable(by_group[hour] + by_group[hour + 24]), idle, cold, overall)
        own = _shrunk(GapTable(by_group[group]), idle, cold, hourly)
        choices.append(_argmin(own))
    return tuple(choices)


def _shrunk(table: GapTable, idle: float, cold: float, prior: list[float]) -> list[float]:
    """Mean cost per candidate over the table's gaps plus `PRIOR_GAPS` gaps costing `prior`."""
    costs = table.costs(idle, cold)
    weight = len(table) + PRIOR_GAPS
    return [(own + PRIOR_GAPS * base) / weight for own, base in zip(costs, prior, strict=True)]


def _mean(table: GapTable, idle: float, cold: float) -> list[float]:
    count = max(len(table), 1)
    return [cost / count for cost in table.costs(idle, cold)]


def _argmin(costs: Sequence[float]) -> int:
    """The shortest candidate of least cost (ties go to sleeping sooner)."""
    best = 0
    for index, cost in enumerate(costs):
        if cost < costs[best] - 1e-12:
            best = index
    return CANDIDATES_S[best]
