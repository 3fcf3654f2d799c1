"""Adaptive warm-pool advice: learn when jobs come, then say how long to idle and when to prewarm.

Pure: callers pass the recent job submission times, the costs and `now`; nothing here reads a
clock or a database. The pure policy (`core.pool.policy`) takes the advice as its inputs
(`idle_timeout_s`, `prewarm_until`), so `plan()` itself stays a table-tested function.

The reasoning, in the policy's own currency:

- Keeping an idle instance costs its price, `p` dollars a second. Letting it go and being
  asked again costs a cold start: the replacement bills `boot_s` before it serves anyone, and
  the user waits `boot_s`, valued at the operator's `wait_value_per_hour_usd`. So one cold
  start costs `C = boot_s * (p + w)`. (With `w = 0`, idling longer than `boot_s` never pays.)
- **Idle timeout (ski rental with a forecast).** After the last demand, the next arrival comes
  after `t` seconds with survival `S(t)`. Idling until `T` then sleeping costs
  `p * integral_0^T S(t) dt + C * (S(T) - S(cap))`: we pay for idle seconds until the next job
  or `T`, and a cold start if the job lands between `T` and the cap (arrivals past the cap are
  cold whatever `T` is, so they do not move the choice). `T` is the grid point minimising that,
  clamped to `[MIN_IDLE_S, MAX_IDLE_S]`. `S` multiplies two forecasts: the empirical
  distribution of gaps between recent submissions (users submit in sessions: short gaps follow
  a job) and the learned rate of session starts in the coming slots (a busy hour ahead is worth
  bridging). Without history the classic break-even `C / p` is the deterministic
  2-competitive choice; with history we do better by minimising the expected cost instead.
- **Prewarm (per 15-minute slot of the week).** Asleep through a slot with `r` expected cold
  arrivals costs `r * C`; awake through it costs `p * SLOT_S`. A slot with `r * C >= p * SLOT_S`
  is a warm slot: the pool is woken `boot_s` before it so the first user finds a ready GPU, and
  kept awake to the end of the run of warm slots.
- **The profile.** A cold arrival is a submission after a gap longer than the history's own
  break-even timeout (it starts a session). Its rate per slot of the week is counted over the
  last `WINDOW_DAYS`, at most `DAY_SLOT_CAP` per day and slot, and shrunk toward the same slot
  on days of the same kind (weekday / weekend) with a prior worth `SHRINK_DAYS` days, so one
  odd day cannot make a warm slot on its own and a young install borrows from similar days.
- Fewer than `MIN_ARRIVALS` submissions in the window: no advice, the configured idle timeout.

Money here is a forecast, not a ledger, so it is computed in floats from Decimal inputs.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

SLOT_S = 900
SLOTS_PER_DAY = 86_400 // SLOT_S
SLOTS_PER_WEEK = 7 * SLOTS_PER_DAY
WINDOW_DAYS = 28
MIN_ARRIVALS = 20
MIN_IDLE_S = 60
MAX_IDLE_S = 2 * 3600
GRID_S = 30
GRID_STEPS = MAX_IDLE_S // GRID_S
DAY_SLOT_CAP = 3
SHRINK_DAYS = 7.0
DEFAULT_BOOT_S = 240.0
"""A cold boot before anything was measured: image pull and model load take 3-5 minutes."""


@dataclass(frozen=True)
class Costs:
    """What idling and cold starts cost: the inputs of every decision here."""

    price_per_hour_usd: Decimal
    boot_s: float
    wait_value_per_hour_usd: Decimal

    @property
    def idle_usd_per_s(self) -> float:
        """What one idle instance-second costs."""
        return float(self.price_per_hour_usd) / 3600

    def cold_start_usd(self, waiting_boots: float = 1.0) -> float:
        """What one cold start costs: the boot it bills plus `waiting_boots` boots of waiting."""
        price, wait = float(self.price_per_hour_usd), float(self.wait_value_per_hour_usd)
        return self.boot_s * (price + wait * waiting_boots) / 3600


@dataclass(frozen=True)
class DemandProfile:
    """What the recent submissions taught: gaps between them and session starts per slot."""

    gap_survival: tuple[float, ...]
    """Share of gaps between consecutive submissions longer than each grid time (0, 30 s, ...)."""
    session_gap_s: float
    """The break-even timeout of the gaps alone; a longer gap starts a (cold) session."""
    waiting_boots: float
    """Boots' worth of waiting one cold start causes: its first user waits a whole boot, and
    whoever submits during the boot waits for the rest of it."""
    cold_per_slot: tuple[float, ...]
    """Expected session starts in each 15-minute slot of the week (Monday 00:00 UTC first)."""
    step_decay: tuple[float, ...]
    """Per slot of the week: the chance of no session start during one grid step."""


@dataclass(frozen=True)
class Advice:
    """What the pool should use this tick."""

    idle_timeout_s: int
    prewarm_until: datetime | None
    reason: str


def slot_of_week(at: datetime) -> int:
    """The index (0..SLOTS_PER_WEEK-1) of the 15-minute UTC slot of the week `at` falls in."""
    at = at.astimezone(UTC)
    return at.weekday() * SLOTS_PER_DAY + (at.hour * 3600 + at.minute * 60 + at.second) // SLOT_S


def learn(
    arrivals: Sequence[datetime], now: datetime, costs: Costs, *, window_days: int = WINDOW_DAYS
) -> DemandProfile | None:
    """The demand profile of the submissions in the last `window_days` before `now`.

    None when there are fewer than `MIN_ARRIVALS` of them: too little to learn from.
    """
    since = now - timedelta(days=window_days)
    times = sorted(t for t in arrivals if since <= t < now)
    if len(times) < MIN_ARRIVALS:
        return None
    gaps = sorted((later - earlier).total_seconds() for earlier, later in pairwise(times))
    gap_survival = tuple(
        (len(gaps) - bisect_right(gaps, step * GRID_S)) / len(gaps)
        for step in range(GRID_STEPS + 1)
    )
    guess_s = _best_timeout(gap_survival, costs.idle_usd_per_s, costs.cold_start_usd(), ())
    waiting_boots = _waiting_boots(times, _session_starts(times, guess_s), costs.boot_s)
    cold_usd = costs.cold_start_usd(waiting_boots)
    session_gap_s = _best_timeout(gap_survival, costs.idle_usd_per_s, cold_usd, ())
    starts = [times[i] for i in _session_starts(times, session_gap_s)]
    cold_per_slot = _slot_rates(starts, first=times[0], now=now)
    return DemandProfile(
        gap_survival=gap_survival,
        session_gap_s=float(session_gap_s),
        waiting_boots=waiting_boots,
        cold_per_slot=cold_per_slot,
        step_decay=tuple(math.exp(-rate * GRID_S / SLOT_S) for rate in cold_per_slot),
    )


def advise(
    profile: DemandProfile | None,
    costs: Costs,
    *,
    now: datetime,
    last_demand_at: datetime | None,
    fallback_idle_s: int,
) -> Advice:
    """The idle timeout and prewarm the pool should use now.

    Without a profile: `fallback_idle_s` (the configured timeout) and no prewarm. Otherwise the
    timeout lies in `[MIN_IDLE_S, MAX_IDLE_S]` and a prewarm, when given, ends after `now`.
    """
    if profile is None:
        return Advice(fallback_idle_s, None, "too little demand history: configured idle timeout")
    idle_s = idle_timeout_s(profile, costs, last_demand_at or now)
    warm_until = prewarm_until(profile, costs, now)
    reason = f"idle {idle_s} s (break-even with a {costs.boot_s:.0f} s boot)"
    if warm_until is not None:
        reason += f"; warm until {warm_until:%a %H:%M} for expected demand"
    return Advice(idle_s, warm_until, reason)


def idle_timeout_s(profile: DemandProfile, costs: Costs, last_demand_at: datetime) -> int:
    """The idle timeout, counted from `last_demand_at`, in `[MIN_IDLE_S, MAX_IDLE_S]`."""
    cold_usd = costs.cold_start_usd(profile.waiting_boots)
    decay = _session_decay(profile, last_demand_at)
    return _best_timeout(profile.gap_survival, costs.idle_usd_per_s, cold_usd, decay)


def prewarm_until(profile: DemandProfile, costs: Costs, now: datetime) -> datetime | None:
    """End of the run of warm slots that `now` is in, or that starts within `boot_s`; else None."""
    threshold = costs.idle_usd_per_s * SLOT_S / costs.cold_start_usd(profile.waiting_boots)

    def warm(at: datetime) -> bool:
        return profile.cold_per_slot[slot_of_week(at)] >= threshold

    for probe in (now, now + timedelta(seconds=costs.boot_s)):
        if warm(probe):
            end = _slot_start(probe)
            limit = probe + timedelta(days=7)
            while warm(end) and end < limit:
                end += timedelta(seconds=SLOT_S)
            return end
    return None


def _best_timeout(
    gap_survival: Sequence[float], idle: float, cold: float, decay: Sequence[float]
) -> int:
    """The grid timeout minimising idle cost plus expected cold-start cost (module docstring).

    `idle` is dollars per idle second, `cold` dollars per cold start, and `decay[i]` the
    chance that no session starts during grid step `i` (none given: gaps alone).
    """
    survivals, no_start = [], 1.0
    for index, gaps_left in enumerate(gap_survival):
        survivals.append(gaps_left * no_start)
        if index < len(decay):
            no_start *= decay[index]
    tail = survivals[-1]
    best_s, best_cost, idle_area = MIN_IDLE_S, math.inf, 0.0
    for index, survival in enumerate(survivals):
        if index:
            idle_area += (survivals[index - 1] + survival) / 2 * GRID_S
        t = index * GRID_S
        cost = idle * idle_area + cold * (survival - tail)
        if t >= MIN_IDLE_S and cost < best_cost - 1e-12:
            best_s, best_cost = t, cost
    return best_s


def _session_decay(profile: DemandProfile, anchor: datetime) -> list[float]:
    """Per grid step after `anchor`: the chance that no session starts (from the slot rates)."""
    into_week_s = (anchor - _week_start(anchor)).total_seconds()
    per_slot = profile.step_decay
    return [
        per_slot[int((into_week_s + step * GRID_S) // SLOT_S) % SLOTS_PER_WEEK]
        for step in range(GRID_STEPS)
    ]


def _session_starts(times: Sequence[datetime], gap_s: float) -> list[int]:
    """Indexes of the submissions that follow a gap longer than `gap_s` (and the first)."""
    return [0] + [
        index
        for index in range(1, len(times))
        if (times[index] - times[index - 1]).total_seconds() > gap_s
    ]


def _waiting_boots(times: Sequence[datetime], starts: Sequence[int], boot_s: float) -> float:
    """Mean boots' worth of waiting behind a session start: 1 for it, the rest of the boot for
    each submission during it."""
    total = 0.0
    for first in starts:
        total += 1.0
        for later in times[first + 1 :]:
            into_boot_s = (later - times[first]).total_seconds()
            if into_boot_s >= boot_s:
                break
            total += 1 - into_boot_s / boot_s
    return total / len(starts)


def _slot_rates(starts: Sequence[datetime], *, first: datetime, now: datetime) -> tuple[float, ...]:
    """Session starts per slot of the week, capped per day and shrunk toward similar days."""
    per_day_slot = Counter((s.date(), slot_of_week(s)) for s in starts)
    days = [first.date() + timedelta(days=n) for n in range((now.date() - first.date()).days + 1)]
    days_per_weekday = Counter(day.weekday() for day in days)
    hits = [0.0] * SLOTS_PER_WEEK
    for (_day, slot), n in per_day_slot.items():
        hits[slot] += min(n, DAY_SLOT_CAP)
    rates = []
    for slot in range(SLOTS_PER_WEEK):
        weekday, of_day = divmod(slot, SLOTS_PER_DAY)
        kin = [d for d in range(7) if (d >= 5) == (weekday >= 5)]
        kin_days = sum(days_per_weekday[d] for d in kin)
        kin_hits = sum(hits[d * SLOTS_PER_DAY + of_day] for d in kin)
        prior = kin_hits / kin_days if kin_days else 0.0
        rates.append((hits[slot] + SHRINK_DAYS * prior) / (days_per_weekday[weekday] + SHRINK_DAYS))
    return tuple(rates)


def _week_start(at: datetime) -> datetime:
    day = at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


def _slot_start(at: datetime) -> datetime:
    return _week_start(at) + timedelta(seconds=slot_of_week(at) * SLOT_S)
