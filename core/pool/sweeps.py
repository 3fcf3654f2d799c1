"""Sweeps of the provider's instance list, taken apart from the reconcile tick.

Vast pages its instance list 25 rows a call, one call a second at most (VAST.md §1.3): at
1,000 instances one pass takes ~40 s, longer than a 30 s tick. So the leader's `Lister` pages
the list continuously on a thread of its own and publishes each *complete* pass (a `Sweep`,
with the times it started and ended) on a `SweepBoard`; the tick makes no list call and plans
from the last two sweeps (`Observation`).

The board lives in the leader's memory, not in a table: only the leader acts on it, a standby
must not list (the limits are per API key, shared by both), and a sweep from before a
takeover is of no use to the new leader, whose own rules wait for sweeps started after what it
did. Writing 1,000 rows a sweep would also take SQLite's one write lock every ~40 s for
nothing. A new leader therefore plans without an observation (lease expiry only) until its
lister's first sweep completes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property

from core.clock import Clock
from core.errors import ProviderError
from core.pool.provider import Provider, RemoteInstance

log = logging.getLogger(__name__)

MAX_SWEEP_AGE = timedelta(minutes=3)
"""A tick plans from the latest sweep only while it ended this recently: older, the provider
has been unreachable for long and the tick decides nothing that needs the provider's view."""
SWEEP_GAP_S = 1.0
"""The least time between the start of two sweeps (the list endpoint's interval): a provider
without pacing (the simulator, a static list) is not listed in a tight loop."""


@dataclass(frozen=True)
class Sweep:
    """One complete pass over the provider's instance list: every page of it, and the clock's
    time just before its first page was asked for and just after its last arrived."""

    started_at: datetime
    ended_at: datetime
    instances: tuple[RemoteInstance, ...]

    @cached_property
    def labels(self) -> frozenset[str]:
        """The labels this sweep listed."""
        return frozenset(remote.label for remote in self.instances if remote.label)


@dataclass(frozen=True)
class Observation:
    """What a tick plans from: the latest complete sweep and, when there was one, the sweep
    before it (an instance is lost only when absent from both)."""

    latest: Sweep
    previous: Sweep | None = None


@dataclass
class SweepBoard:
    """The last two complete sweeps, shared by the lister thread and the tick."""

    _sweeps: list[Sweep] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def publish(self, sweep: Sweep) -> None:
        """Make `sweep` the latest; the one it follows becomes the previous."""
        with self._lock:
            self._sweeps = [*self._sweeps[-1:], sweep]

    def clear(self) -> None:
        """Forget every sweep (leadership lost: a later term starts from nothing)."""
        with self._lock:
            self._sweeps = []

    def observation(self, now: datetime) -> Observation | None:
        """The latest sweep and the one before it; None when there is none, or the latest
        ended more than `MAX_SWEEP_AGE` before `now`."""
        with self._lock:
            sweeps = list(self._sweeps)
        if not sweeps or now - sweeps[-1].ended_at > MAX_SWEEP_AGE:
            return None
        return Observation(sweeps[-1], sweeps[0] if len(sweeps) == 2 else None)


class Lister:
    """Pages a pool's instance list into sweeps on `board`, while this process leads."""

    def __init__(
        self,
        provider: Provider,
        label_prefix: str,
        clock: Clock,
        board: SweepBoard,
        *,
        still_leading: Callable[[], bool],
    ) -> None:
        self.provider = provider
        self.label_prefix = label_prefix
        self.clock = clock
        self.board = board
        self.still_leading = still_leading
        self.last_failure: str | None = None
        """Why the latest pass could not list the provider; None once a pass lists it."""

    def sweep(self) -> Sweep | None:
        """One complete pass, published; None (nothing published) when not leading, when the
        provider could not be listed (`last_failure` says why), or when leadership was lost
        during the pass (a sweep begun under a lease a successor took may not be acted on)."""
        if not self.still_leading():
            self.board.clear()
            return None
        started = self.clock.now()
        try:
            listed: Sequence[RemoteInstance] = self.provider.list_instances(self.label_prefix)
        except ProviderError as exc:
            self.last_failure = str(exc)
            log.warning("pool.sweep_failed", extra={"error": str(exc)})
            return None
        self.last_failure = None
        if not self.still_leading():
            self.board.clear()
            return None
        sweep = Sweep(started, self.clock.now(), tuple(listed))
        self.board.publish(sweep)
        return sweep

    def run(self, stop: threading.Event, *, gap_s: float = SWEEP_GAP_S) -> None:
        """Sweep until `stop` is set, starting one at most every `gap_s` seconds (wall time);
        the provider's own pacing spaces the pages within."""
        while not stop.is_set():
            began = time.monotonic()
            try:
                self.sweep()
            except Exception:  # a database fault in the lease check, a client closed at exit
                if stop.is_set():
                    return
                # A lister that died would leave every later tick without a sweep.
                log.exception("pool.sweep_crashed")
            stop.wait(max(0.0, began + gap_s - time.monotonic()))
