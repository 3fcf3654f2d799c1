"""Vast's per-endpoint, per-identity request limits (VAST.md §1.3), as the simulator enforces
them when `Faults.min_intervals` is on.

Vast enforces "a minimum interval between requests" per endpoint and per identity (bearer
token, `api_key` param and client IP). The interval counts from the last call it accepted; a
call sooner is refused with 429. Create adds a penalty: a refused create locks that identity
out of creates for `penalty_s` (Vast's undocumented `penalty 12`, read as a lock-out). Search
is limited to 10 calls in any minute instead of an interval.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Limit:
    """One endpoint's limit: a minimum interval, or at most `per_window` calls a `window_s`."""

    interval_s: float = 0.0
    penalty_s: float = 0.0
    per_window: int = 0
    window_s: float = 60.0

    @property
    def threshold_s(self) -> float:
        """The seconds Vast names in its 429 (`endpoint threshold=...`)."""
        return self.interval_s or self.window_s / max(self.per_window, 1)


LIMITS: dict[str, Limit] = {
    "list": Limit(interval_s=1.0),
    "show": Limit(interval_s=2.0),
    "create": Limit(interval_s=4.5, penalty_s=12.0),
    "destroy": Limit(interval_s=3.0),
    "manage": Limit(interval_s=1.0),
    "charges": Limit(interval_s=1.0),
    "search": Limit(per_window=10, window_s=60.0),
}
"""By simulator route name (`sim.vast.app.ROUTES`); routes not named here are unlimited."""


@dataclass
class Intervals:
    """What each identity last called, to refuse what comes too soon (callers hold the lock)."""

    accepted: dict[tuple[str, str], deque[float]] = field(default_factory=dict)
    locked_until: dict[tuple[str, str], float] = field(default_factory=dict)

    def refused(self, identity: str, endpoint: str, now: float) -> Limit | None:
        """The limit a call by `identity` to `endpoint` at `now` breaks (recording the
        penalty it earns), or None: the call is accepted and counted."""
        limit = LIMITS.get(endpoint)
        if limit is None:
            return None
        key = (identity, endpoint)
        calls = self.accepted.setdefault(key, deque())
        if limit.per_window:
            while calls and calls[0] <= now - limit.window_s:
                calls.popleft()
            too_soon = len(calls) >= limit.per_window
        else:
            too_soon = bool(calls) and now - calls[-1] < limit.interval_s
        if too_soon or now < self.locked_until.get(key, 0.0):
            if too_soon and limit.penalty_s:
                self.locked_until[key] = max(self.locked_until.get(key, 0.0), now + limit.penalty_s)
            return limit
        calls.append(now)
        if not limit.per_window:
            while len(calls) > 1:
                calls.popleft()
        return None
