"""The one dispatch loop: claim queued jobs for free ready instances, run them on threads.

The leading scheduler runs one (embedded dispatch: SQLite, or PostgreSQL without worker
processes); each worker process (`scheduler.worker`) runs one too, with its own `worker_id`
stamped on the jobs it claims and their heartbeats renewed. Claiming is
`core.studio.queue.claim_next` (SKIP LOCKED between processes), running is
`core.studio.runner.run_job`; this class only keeps track of which jobs its threads run and
of the endings it still owes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial

from sqlalchemy.engine import Engine

from core.clock import Clock
from core.db import run_transaction, session_scope
from core.pool import leases
from core.studio import needs, queue, runner
from core.studio.runner import RunContext
from scheduler.waker import QueueWaker

log = logging.getLogger(__name__)

ENDING_RETRIES = 2
"""Ticks a job ending that failed to be written is tried again before the job is recovered."""

DISPATCH_BACKSTOP_S = 1.0
"""The longest the dispatcher sleeps without a sign of work (what signals nothing: a lease
expiring, an instance freed by another process)."""

NO_FIT_PAUSE_S = 0.5
"""The pause after a wake-up that dispatched nothing (no queued job fits a free instance)."""


class Dispatcher:
    """Claims and runs jobs of `pool` on `threads` threads while `may_claim()` says so."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        *,
        pool: str,
        run_context: RunContext,
        threads: int,
        may_claim: Callable[[], bool],
        worker_id: str | None = None,
    ) -> None:
        self.engine, self.clock, self.pool = engine, clock, pool
        self.run_context = run_context
        self.may_claim = may_claim
        self.worker_id = worker_id
        self.threads = threads
        self.workers = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="job")
        self.waker = QueueWaker(engine, pool=pool)
        self._needs = partial(needs.job_files, presets=run_context.presets)
        self._running: set[int] = set()
        self._pending_endings: dict[int, tuple[runner.Ending, int]] = {}
        self._lock = threading.Lock()
        # Held from claiming a job until it counts as running, and while recovering orphans:
        # a job just claimed is never mistaken for one whose worker died.
        self._claiming = threading.Lock()
        self._dispatching = threading.Lock()
        self._wanted = threading.Event()  # a claim round was asked for (`_claim_if_wanted`)
        self._stopping = False

    def dispatch_forever(self, stop: threading.Event) -> None:
        """Dispatch whenever the waker sees work (a submit, a ready instance), at least every
        DISPATCH_BACKSTOP_S, until `stop` is set."""
        while not stop.is_set():
            woke = self.waker.wait(DISPATCH_BACKSTOP_S)
            if stop.is_set():
                return
            try:
                if self.dispatch() == 0 and woke:
                    # Work seen but none fits (the free instances still download what the
                    # queued jobs load): look again later, not at once in a loop.
                    stop.wait(NO_FIT_PAUSE_S)
            except Exception:  # noqa: BLE001 - the loop outlives one failed transaction
                log.exception("dispatch.failed")
                stop.wait(DISPATCH_BACKSTOP_S)

    def dispatch(self) -> int:
        """Hand queued jobs to free ready instances; return how many started. One caller at
        a time in this process (the loop, a finishing job, a tick), so no job is claimed twice
        here; other processes are kept apart by `queue.claim_next`."""
        if not self.may_claim():
            return 0
        with self._dispatching:
            started = self._claim_round()
        return started + self._claim_if_wanted()

    def _dispatch_after_job(self) -> None:
        """Ask for a claim round, without waiting for one under way: with many instances,
        finishing jobs' threads queued behind each other's rounds (~0.4 s each with 16
        instances) instead of running the jobs those rounds had claimed."""
        if self.may_claim():
            self._wanted.set()
            self._claim_if_wanted()

    def _claim_if_wanted(self) -> int:
        """Run the claim rounds asked for while another thread held `_dispatching`: whoever
        asks sets `_wanted` before trying the lock, and whoever holds it looks at `_wanted`
        after releasing it, so no request is left unserved."""
        started = 0
        while self._wanted.is_set() and self._dispatching.acquire(blocking=False):
            try:
                started += self._claim_round()
            finally:
                self._dispatching.release()
        return started

    def _claim_round(self) -> int:
        """One claim round (the caller holds `_dispatching`); it serves every request made
        before it starts."""
        self._wanted.clear()
        return 0 if self._stopping else self._claim_all()

    def _claim_all(self) -> int:
        started = 0
        while self._has_free_thread():
            # A read first: a round with nothing to claim (every round's last look) takes no
            # write transaction, which on SQLite waits for the write lock behind every ending;
            # on a SQLite file it is read over the waker's own connection (no session).
            if not self.waker.may_have_work():
                return started
            with self._claiming:
                now = self.clock.now()
                with session_scope(self.engine) as session:
                    claimed = queue.claim_next(
                        session,
                        pool=self.pool,
                        now=now,
                        worker_id=self.worker_id,
                        needs=self._needs,
                    )
                    if claimed is None:
                        return started
                    job_id, claim = claimed
                    # Marked running in the claim's unit of work, not in one more of the
                    # job's own: a write transaction fewer per job. A crash after this
                    # commit leaves a running job with an open lease, recovered as any.
                    running = runner.start(session, job_id=job_id, now=now)
                with self._lock:
                    self._running.add(job_id)
            self.workers.submit(self._run, job_id, claim, running)
            started += 1
        return started

    def _has_free_thread(self) -> bool:
        """A worker process claims no more than its threads can run at once, so another
        worker takes the rest; the leader's dispatcher has a thread per instance anyway."""
        if self.worker_id is None:
            return True
        with self._lock:
            return len(self._running) < self.threads

    def _run(self, job_id: int, claim: leases.Claim, started: runner.Started) -> None:
        pending = None
        try:
            pending = runner.run_job(self.run_context, job_id=job_id, claim=claim, started=started)
        finally:
            self._settled(job_id, pending)
        # Work-conserving: the instance this job freed takes the next queued job now.
        try:
            self._dispatch_after_job()
        except Exception:  # noqa: BLE001 - the dispatch loop retries; this job is settled
            log.exception("dispatch.after_job_failed", extra={"job_id": job_id})

    def _settled(self, job_id: int, pending: runner.Ending | None, tries: int = 0) -> None:
        """The job's thread is done: forget it, or keep it (and its lease) until the ending
        it could not write is written (`retry_endings`)."""
        with self._lock:
            if pending is None or tries >= ENDING_RETRIES:
                self._pending_endings.pop(job_id, None)
                self._running.discard(job_id)
            else:
                self._pending_endings[job_id] = (pending, tries)

    def endings_owed(self) -> set[int]:
        """The jobs whose ending this dispatcher failed to write and still owes."""
        with self._lock:
            return set(self._pending_endings)

    def retry_endings(self) -> int:
        """Try again to write the job endings whose writing failed; how many are still owed.

        After ENDING_RETRIES tries an ending is given up (logged): the job then counts as
        orphaned and the leader's recovery requeues or refunds it.
        """
        with self._lock:
            owed = list(self._pending_endings.items())
        for job_id, (ending, tries) in owed:
            pending = runner.retry_ending(ending, job_id=job_id)
            if pending is not None and tries + 1 >= ENDING_RETRIES:
                log.error("job.ending_given_up", extra={"job_id": job_id})
            self._settled(job_id, pending, tries + 1)
        with self._lock:
            return len(self._pending_endings)

    def is_running(self, job_id: int) -> bool:
        """Whether one of this dispatcher's threads runs `job_id` (or owes its ending)."""
        with self._lock:
            return job_id in self._running

    def running_count(self) -> int:
        """How many jobs this dispatcher's threads run (or owe an ending of) now."""
        with self._lock:
            return len(self._running)

    @contextmanager
    def claims_paused(self) -> Iterator[None]:
        """No job is claimed by this dispatcher inside the block (orphan recovery runs here)."""
        with self._claiming:
            yield

    def heartbeat(self) -> int:
        """Renew the heartbeat of the jobs this worker process claimed; how many (0 for the
        leader's own dispatcher, whose jobs carry no worker id)."""
        if self.worker_id is None:
            return 0
        worker_id, now = self.worker_id, self.clock.now()
        return run_transaction(
            self.engine,
            lambda session: queue.heartbeat(session, worker_id=worker_id, now=now),
            name="dispatch.heartbeat",
        )

    def shutdown(self, grace_s: float) -> bool:
        """Stop claiming, give running generations `grace_s` to finish; False if some were
        still running (their leases stay open: the leader's recovery requeues them)."""
        with self._dispatching:  # no claim after this: nothing would run it
            self._stopping = True
        self.workers.shutdown(wait=False, cancel_futures=True)
        deadline = self.clock.monotonic() + grace_s
        while self.clock.monotonic() < deadline and self.running_count():
            threading.Event().wait(0.1)
        self.waker.close()
        return not self.running_count()
