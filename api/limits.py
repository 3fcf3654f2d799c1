"""Per-token rate limiting: a token bucket per API token, in this process's memory.

Each API process keeps its own buckets, so with N API processes a token may make up to N
times its rate; the limit protects the service from a runaway client, not from an attacker
with many tokens (those are capped per user at creation).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """Allows `per_minute` requests a minute per key, in bursts of up to `per_minute`."""

    def __init__(self, per_minute: int) -> None:
        self._capacity = float(per_minute)
        self._per_second = per_minute / 60.0
        self._buckets: dict[int, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: int, *, now: float) -> float | None:
        """Spend one request for `key` at monotonic time `now`: None if allowed, else the
        seconds to wait before the next one is."""
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(self._capacity, now)
            bucket.tokens = min(
                self._capacity, bucket.tokens + (now - bucket.at) * self._per_second
            )
            bucket.at = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return None
            return (1.0 - bucket.tokens) / self._per_second
