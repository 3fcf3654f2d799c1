"""Creates and destroys sent apart from the reconcile tick, one queue per endpoint kind.

Vast spaces creates ~4.5 s apart and destroys 3 s (VAST.md §1.3; the client's `Pacer` sleeps
to keep them so): a tick that sent 10 creates itself would take ~45 s, longer than its 30 s
interval. So the tick only records its intent (a `requested` row, a `terminating` row) and
hands the call to a `Sender`, whose worker thread sends one at a time as the pacer lets it.

A sender knows which keys (a row id, a provider id) are queued or in flight (`pending`), so
the plan neither decides the same rent nor the same destroy twice while one waits. A key
leaves `pending` only after its call's outcome is committed: a tick that reads `pending`
before the rows sees either the key still pending or its outcome on the row.

A sender sends only while its process leads: when `still_leading()` turns false it drops
what it holds unsent (a newer leader resolves those rows from its own sweeps: a create never
sent is closed, a destroy not sent is sent again). When the process stops cleanly, a worker
given `flush_s` (the destroys') first sends what it holds for up to that long, still only
while leading: an instance waiting to be destroyed bills until a leader's sweep gets to it,
which may be minutes when no standby is running. What is left after it is dropped, as are
the creates (their `requested` rows are closed unsent by the next leader's sweeps).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
IDLE_WAIT_S = 1.0
"""How long an idle worker waits for work before it looks at its stop event again."""
FAILURES_KEPT = 100
"""The worker's failures kept for the next tick to report (the oldest forgotten past it)."""


class Sender(Generic[K]):
    """A queue of provider calls of one kind, each under a key, sent one at a time by `run`
    (a worker thread) or `drain` (a caller sending inline)."""

    def __init__(self, kind: str, *, still_leading: Callable[[], bool]) -> None:
        self.kind = kind
        self.still_leading = still_leading
        self._queue: deque[tuple[K, Callable[[], None]]] = deque()
        self._pending: set[K] = set()
        self._in_flight: K | None = None
        self._lock = threading.Lock()
        self._sending = threading.Lock()
        """Held while a call is sent: a worker and an inline drain never send at once."""
        self._wake = threading.Condition(self._lock)
        self._failures: deque[str] = deque(maxlen=FAILURES_KEPT)

    def put(self, key: K, send: Callable[[], None]) -> bool:
        """Queue `send` under `key`; False (nothing queued) when `key` is already pending."""
        with self._lock:
            if key in self._pending:
                return False
            self._pending.add(key)
            self._queue.append((key, send))
            self._wake.notify()
        return True

    def pending(self) -> frozenset[K]:
        """The keys queued or in flight."""
        with self._lock:
            return frozenset(self._pending)

    def stranded(self) -> frozenset[K]:
        """The keys pending yet neither queued nor in flight: none in a sound sender (such a
        key would never be sent, and the plan never decide its call again; the fault
        campaign asserts there are none)."""
        with self._lock:
            stray = self._pending - {key for key, _send in self._queue}
            if self._in_flight is not None:
                stray.discard(self._in_flight)
            return frozenset(stray)

    def __len__(self) -> int:
        with self._lock:
            return len(self._queue)

    def drop(self) -> int:
        """Forget every queued call (not the one in flight); how many were dropped."""
        with self._lock:
            dropped = list(self._queue)
            self._queue.clear()
            self._pending.difference_update(key for key, _send in dropped)
        if dropped:
            log.warning("pool.sends_dropped", extra={"kind": self.kind, "dropped": len(dropped)})
        return len(dropped)

    def send_next(self) -> str | None:
        """Send the oldest queued call, if this process still leads (else drop every one);
        why it failed, or None (sent, or nothing to send)."""
        with self._sending:
            if not self.still_leading():
                self.drop()
                return None
            with self._lock:
                if not self._queue:
                    return None
                key, send = self._queue.popleft()
                self._in_flight = key
            try:
                send()
            except Exception as exc:  # noqa: BLE001 - one failed call must not stop the rest
                log.warning(
                    "pool.send_failed", extra={"kind": self.kind, "key": key, "error": str(exc)}
                )
                return f"{self.kind}: {exc}"
            finally:
                with self._lock:
                    self._pending.discard(key)
                    self._in_flight = None
        return None

    def take_failures(self) -> list[str]:
        """The failures of the worker's calls since the last time they were taken."""
        with self._lock:
            failures = list(self._failures)
            self._failures.clear()
        return failures

    def drain(self) -> list[str]:
        """Send every queued call now (inline, for a caller with no worker thread); the
        failures, each as `kind: reason`."""
        failures = []
        while len(self):
            failure = self.send_next()
            if failure is not None:
                failures.append(failure)
        return failures

    def flush(self, deadline_s: float) -> int:
        """Send queued calls (while leading, as `send_next`) until none is left or
        `deadline_s` seconds have passed; how many were tried. The deadline is checked before
        each call: the last one may run past it by its own timeout."""
        deadline = time.monotonic() + deadline_s
        tried = 0
        while len(self) and time.monotonic() < deadline:
            try:
                failure = self.send_next()
            except Exception:  # a database fault in the lease check: stop, drop the rest
                log.exception("pool.sender_crashed", extra={"kind": self.kind})
                break
            tried += 1
            if failure is not None:
                with self._lock:
                    self._failures.append(failure)
        return tried

    def run(self, stop: threading.Event, *, flush_s: float = 0.0) -> None:
        """Send queued calls until `stop` is set, then for up to `flush_s` more seconds
        (`flush`); what is still queued then is dropped (the next leader's sweeps resolve
        its rows). The call in flight at `stop` is finished."""
        while not stop.is_set():
            with self._lock:
                if not self._queue:
                    self._wake.wait(IDLE_WAIT_S)
                    continue
            try:
                failure = self.send_next()
            except Exception:  # a database fault in the lease check
                log.exception("pool.sender_crashed", extra={"kind": self.kind})
                stop.wait(IDLE_WAIT_S)
                continue
            if failure is not None:
                with self._lock:
                    self._failures.append(failure)
        if flush_s > 0:
            self.flush(flush_s)
        self.drop()
