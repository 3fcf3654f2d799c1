"""Adaptive warm-pool advice: learn when jobs come, then say how long to idle and when to prewarm.

Pure: callers pass the recent job submission times, the costs and `now`; nothing here reads a
clock or a database. The pure policy (`core.pool.policy`) takes the advice as its inputs
(`idle_timeout_s`, `prewarm_until`), so `plan()` itself stays a table-tested function.

The reasoning, in the policy's own currency:

- Keeping an idle instance costs its price, `p` dollars a second. Letting it go and being
  asked again costs a cold start: the replacement bills `boot_s` before it serves anyone, and
  the user waits `boot_s`, valued at the operator's `wait_value_per_hour_usd`. So one cold
  start costs `C = boot_s * (p + w)`. (With `w = 0`, idling longer than `boot_s` never pays.)
- **Idle timeout (ski rental with a learnt distribution).** The fallback is the best fixed
  timeout so far: each of `FIXED_CANDIDATES_S` is replayed on the window's submissions (the
  latest `REPLAY_MAX_ARRIVALS` of them; `core.pool.hindsight`: boots, ticks, queues, the cap)
  and the cheapest in GPU plus waiting wins. The whole window, not its last week: a quiet pool
  has a few sittings a week, and the best timeout of so few swings from week to week with the
  luck of which pauses happened (on bench P2's sparse trace the weekly winner was 600, 300,
  600, 420 s in turn, while 600 s cost least over the four weeks); a busy pool reaches the
  replay's cap within days, so it still follows its recent past. The model is the history's
  idle gaps per level of concurrency (`core.pool.gaps`: within-sitting and between-sitting gaps
  as they occurred), by hour of the day and kind of day: per hour, the timeout minimising
  `p * min(gap, T) + C * [gap > T]` over the hour's gaps, shrunk toward all gaps. The per-hour
  table is used only if, learnt before the last `HOLDOUT_DAYS`, it cost less on those days than
  the best fixed timeout chosen on them in hindsight; unsure, every hour gets the fallback, so
  the policy cannot lose much to the best fixed rule of the past.
- **Extra GPUs.** An instance other than the one used last serves only the overlaps, whose
  gaps are longer: with the best fixed timeout for the last one, each shorter candidate is
  replayed as the others' timeout and the cheapest kept, the shortest of equals: when the replay
  sees no overlap that pays for a warm extra GPU, one the pool has anyway (a burst at start-up)
  is let go soon.
- **Rentals for a queue.** A job queued behind a GPU that frees (or finishes booting) before
  a new one could boot gains nothing from a rental but its bill. With the best fixed timeout
  the window is replayed both ways (`core.pool.hindsight`, `hold_rentals`): renting for every
  job that finds no GPU free or booting, or only for one that would otherwise wait longer
  than a boot (`core.pool.policy.queue_needs`); the cheaper rule is advised (`expected`).
- **Prewarm (per 15-minute slot of the week).** Asleep through a slot with `r` expected cold
  arrivals costs `r * C`; awake through it costs `p * SLOT_S`. A slot with `r * C >= p * SLOT_S`
  is a warm slot: the pool is woken `boot_s` before it so the first user finds a ready GPU, and
  kept awake to the end of the run of warm slots.
- **The profile.** A cold arrival is a submission the first GPU would have met asleep under
  the chosen timeouts (it starts a session). Its rate per slot of the week is counted over the
  last `WINDOW_DAYS`, at most `DAY_SLOT_CAP` per day and slot, and shrunk toward the same slot
  on days of the same kind (weekday / weekend) with a prior worth `SHRINK_DAYS` days, so one
  odd day cannot make a warm slot on its own and a young install borrows from similar days.
- Fewer than `MIN_ARRIVALS` submissions in the window: no advice, the configured idle timeout.

Money here is a forecast, not a ledger, so it is computed in floats from Decimal inputs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from core.pool import gaps, hindsight
from core.pool.policy import Expected

SLOT_S = 900
SLOTS_PER_DAY = 86_400 // SLOT_S
SLOTS_PER_WEEK = 7 * SLOTS_PER_DAY
WINDOW_DAYS = 28
MIN_ARRIVALS = 20
TICK_S = 30.0
"""The reconcile interval assumed when ranking timeouts on the past."""
HOLDOUT_DAYS = 7
REPLAY_MAX_ARRIVALS = 5_000
"""The most submissions one hindsight replay walks (the latest of its days): a replay costs
submissions x instances up, so a busy pool's week would keep the scheduler's tick busy for
a minute each relearning, and its latest few thousand submissions rank timeouts alike."""
FIXED_CANDIDATES_S = (60, 120, 180, 240, 300, 420, 600, 900, 1200, 1800, 2700, 3600, 5400, 7200)
"""The fixed timeouts the best one so far is chosen among."""
JOB_S = 45.0
"""The GPU time a job is taken to hold when only submission times are known."""
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
class Choice:
    """The idle timeout for each time-of-day group, and how it was chosen."""

    timeouts_s: tuple[int, ...]
    best_fixed_s: int
    """The fixed timeout that would have cost least on the window's submissions."""
    per_hour: bool
    """Whether the per-hour table beat that on held-out days (else every group has it)."""
    extra_s: int
    """The idle timeout of an instance other than the one used last: the candidate up to
    `best_fixed_s` that, with it, would have cost least on the window's submissions (the
    shortest of those that cost the same)."""
    hold_rentals: bool = False
    """Whether a queued job rents only when it would wait longer than a boot (chosen with
    `best_fixed_s`, the cheaper rule on the window's submissions), else whenever no instance
    is free or booting for it."""


@dataclass(frozen=True)
class DemandProfile:
    """What the recent submissions taught: idle timeouts per hour and session starts per slot."""

    choice: Choice
    """The idle timeout per time-of-day group (`core.pool.gaps.group_of`)."""
    waiting_boots: float
    """Boots' worth of waiting one cold start causes: its first user waits a whole boot, and
    whoever submits during the boot waits for the rest of it."""
    cold_per_slot: tuple[float, ...]
    """Expected session starts in each 15-minute slot of the week (Monday 00:00 UTC first)."""


@dataclass(frozen=True)
class Advice:
    """What the pool should use this tick."""

    idle_timeout_s: int
    prewarm_until: datetime | None
    reason: str
    extra_idle_timeout_s: int | None = None
    """For `core.pool.policy.PoolSettings.extra_idle_timeout_s` (None: `idle_timeout_s`)."""
    expected: Expected | None = None
    """For `core.pool.policy.PoolSettings.expected`: the boot and job times the queue is served
    by (None: every queued job rents, as without advice)."""


def slot_of_week(at: datetime) -> int:
    """The index (0..SLOTS_PER_WEEK-1) of the 15-minute UTC slot of the week `at` falls in."""
    at = at.astimezone(UTC)
    return at.weekday() * SLOTS_PER_DAY + (at.hour * 3600 + at.minute * 60 + at.second) // SLOT_S


def learn(
    arrivals: Sequence[datetime],
    now: datetime,
    costs: Costs,
    *,
    window_days: int = WINDOW_DAYS,
    job_s: float = JOB_S,
    tick_s: float = TICK_S,
    max_instances: int = 4,
) -> DemandProfile | None:
    """The demand profile of the submissions in the last `window_days` before `now`, each
    taken to hold a GPU for `job_s`, for a pool of at most `max_instances` reconciled every
    `tick_s`.

    None when there are fewer than `MIN_ARRIVALS` of them: too little to learn from.
    """
    since = now - timedelta(days=window_days)
    times = sorted(t for t in arrivals if since <= t < now)
    if len(times) < MIN_ARRIVALS:
        return None
    used = gaps.uses(times, job_s)
    idle_gaps = [(u.idle_from, u.gap_s) for u in used if u.idle_from is not None]
    model = hindsight.PoolModel(
        boot_s=costs.boot_s,
        tick_s=tick_s,
        job_s=job_s,
        max_instances=max_instances,
        idle=costs.idle_usd_per_s,
        wait=float(costs.wait_value_per_hour_usd) / 3600,
    )
    guess = _choose(times, idle_gaps, now, costs.cold_start_usd(), model)
    waiting_boots = _waiting_boots(times, _cold_starts(used, guess), costs.boot_s)
    choice = _choose(times, idle_gaps, now, costs.cold_start_usd(waiting_boots), model)
    starts = [times[i] for i in _cold_starts(used, choice)]
    return DemandProfile(
        choice=choice,
        waiting_boots=waiting_boots,
        cold_per_slot=_slot_rates(starts, first=times[0], now=now),
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
    idle_s = idle_timeout_s(profile, last_demand_at or now)
    warm_until = prewarm_until(profile, costs, now)
    how = "this hour's learnt gaps" if profile.choice.per_hour else "best fixed so far"
    reason = f"idle {idle_s} s ({how}, a {costs.boot_s:.0f} s boot)"
    extra_s = profile.choice.extra_s
    if extra_s < idle_s:
        reason += f"; another GPU idles {extra_s} s"
    if warm_until is not None:
        reason += f"; warm until {warm_until:%a %H:%M} for expected demand"
    expected = None
    if profile.choice.hold_rentals:
        expected = Expected(costs.boot_s, JOB_S)
        reason += "; a queued job rents only if it would wait longer than a boot"
    return Advice(idle_s, warm_until, reason, extra_s, expected)


def idle_timeout_s(profile: DemandProfile, last_demand_at: datetime) -> int:
    """The idle timeout for an idle period starting at `last_demand_at`, in
    `[MIN_IDLE_S, MAX_IDLE_S]`: a table look-up, the learning done in `learn`."""
    return profile.choice.timeouts_s[gaps.group_of(last_demand_at)]


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


def _choose(
    times: Sequence[datetime],
    idle_gaps: Sequence[tuple[datetime, float]],
    now: datetime,
    cold_usd: float,
    model: hindsight.PoolModel,
) -> Choice:
    """The best fixed timeout of the window (its latest `REPLAY_MAX_ARRIVALS` submissions), and
    the per-hour table of the gaps if, learnt on the gaps before the last `HOLDOUT_DAYS`, it
    cost less on those days than the best fixed timeout chosen on them (a test it can only pass
    by a real margin)."""
    recent = times[-REPLAY_MAX_ARRIVALS:]
    costs = {
        (t, hold): hindsight.cost_usd(recent, _fixed(t), model, hold_rentals=hold)
        for t in FIXED_CANDIDATES_S
        for hold in (True, False)
    }
    best_fixed, hold = min(costs, key=lambda key: (costs[key], key[0], not key[1]))
    extra = {
        t: hindsight.cost_usd(recent, _fixed(best_fixed), model, extra_s=t, hold_rentals=hold)
        for t in FIXED_CANDIDATES_S
        if t < best_fixed
    }
    extra[best_fixed] = costs[best_fixed, hold]
    # On a tie the shortest: the replay saw no overlap it pays for, and an extra GPU the pool
    # has anyway (a burst at start-up, a queue the replay served otherwise) should not idle.
    extra_s = min(extra, key=lambda t: (extra[t], t))
    fixed = Choice((best_fixed,) * gaps.GROUPS, best_fixed, False, extra_s, hold)
    holdout_from = now - timedelta(days=HOLDOUT_DAYS)
    learnt = [(at, g) for at, g in idle_gaps if at < holdout_from]
    held = [t for t in times if t >= holdout_from][-REPLAY_MAX_ARRIVALS:]
    if len(learnt) < MIN_ARRIVALS or len(held) < MIN_ARRIVALS:
        return fixed
    trial = gaps.per_group(learnt, model.idle, cold_usd)
    origin = held[0]

    def trial_of(at_s: float) -> float:
        return trial[gaps.group_of(origin + timedelta(seconds=at_s))]

    held_fixed = min(
        hindsight.cost_usd(held, _fixed(t), model, hold_rentals=hold) for t in FIXED_CANDIDATES_S
    )
    if hindsight.cost_usd(held, trial_of, model, hold_rentals=hold) >= held_fixed:
        return fixed
    per_group = gaps.per_group(idle_gaps, model.idle, cold_usd)
    return Choice(per_group, best_fixed, True, extra_s, hold)


def _fixed(timeout_s: int) -> Callable[[float], float]:
    """The rule idling `timeout_s` after every job."""
    return lambda _idle_from_s: timeout_s


def _cold_starts(used: Sequence[gaps.Use], choice: Choice) -> list[int]:
    """Indexes of the submissions the first GPU would meet cold under `choice`."""
    return [
        u.index
        for u in used
        if u.level == 1
        and (u.idle_from is None or u.gap_s > choice.timeouts_s[gaps.group_of(u.idle_from)])
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
