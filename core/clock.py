"""Time as a dependency: `SystemClock` in production, `FakeClock` in tests and simulations.

Pure code takes `now` as a parameter; only the edges (manager, leases, jobs, pages) ask a clock.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """A source of the current time."""

    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards (for measuring intervals)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait `seconds` (a fake clock advances instead of waiting)."""
        ...


class SystemClock:
    """The real wall and monotonic clocks."""

    def now(self) -> datetime:
        """See `Clock.now`."""
        return datetime.now(UTC)

    def monotonic(self) -> float:
        """See `Clock.monotonic`."""
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        """See `Clock.sleep`."""
        time.sleep(seconds)


class FakeClock:
    """A clock that moves only when told to; thread-safe."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        if self._now.tzinfo is None:
            raise ValueError("FakeClock needs a timezone-aware start")
        self._elapsed_s = 0.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """See `Clock.now`."""
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        """See `Clock.monotonic`."""
        with self._lock:
            return self._elapsed_s

    def sleep(self, seconds: float) -> None:
        """Advance by `seconds` without waiting."""
        self.advance(seconds)

    def advance(self, seconds: float) -> datetime:
        """Move time forward by `seconds` (>= 0) and return the new now."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        with self._lock:
            self._now += timedelta(seconds=seconds)
            self._elapsed_s += seconds
            return self._now
