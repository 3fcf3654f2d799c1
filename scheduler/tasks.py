"""The scheduler's periodic tasks, each a few lines into `core`, gated on leadership.

`Runtime` owns what the tasks share: the engine, the pool manager, the leader lease, the
worker threads running generations and the process's metrics. Only the leader reconciles or
dispatches.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx

from core.accounts import payments, webhooks
from core.clock import Clock
from core.config import Settings
from core.db import make_engine, read_scope, session_scope
from core.errors import ProviderError
from core.gallery import engagement
from core.ops import backup, retention, snapshot
from core.ops.metrics import scheduler_metrics
from core.pool import billing, leases
from core.pool.manager import PoolManager
from core.pool.service import ensure_pool
from core.studio import outcomes, queue, runner
from scheduler import wiring
from scheduler.leader import LeaderLease

log = logging.getLogger(__name__)

ENDING_RETRIES = 2
"""Ticks a job ending that failed to be written is tried again before the job is recovered."""


class Runtime:
    """Everything the scheduler's periodic tasks need, built once per process."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.engine = make_engine(settings.database_url)
        with session_scope(self.engine) as session:
            ensure_pool(session, settings)
        self.leader = LeaderLease(
            self.engine,
            clock,
            holder=f"{socket.gethostname()}:{os.getpid()}",
            ttl_s=settings.scheduler_lock_ttl_s,
        )
        self.manager: PoolManager = wiring.build_manager(
            settings, self.engine, clock, still_leading=self.leader.holds
        )
        self.run_context = wiring.build_run_context(settings, self.engine, clock)
        self.workers = ThreadPoolExecutor(
            max_workers=max(1, settings.pool_max_instances), thread_name_prefix="job"
        )
        self._running: set[int] = set()
        self._pending_endings: dict[int, tuple[runner.Ending, int]] = {}
        self._lock = threading.Lock()
        # Held from claiming a job until it counts as running, and while recovering orphans:
        # a job just claimed is never mistaken for one whose worker died.
        self._claiming = threading.Lock()
        self._led_before = False
        self.webhook_client = httpx.Client()
        self.metrics = scheduler_metrics(self.engine, clock, pool=settings.pool_name)

    def tick_pool(self) -> None:
        """Write the job endings that failed before, renew leadership, recover orphaned jobs
        (every tick: a job whose worker died or whose close kept failing ends within two) and
        reconcile the pool once."""
        self.retry_endings()
        if not self.leader.acquire_or_renew():
            if self._led_before:
                self.manager.alert("leader_lost", "this scheduler lost its leader lease")
            self._led_before = False
            return
        self._led_before = True
        self.recover_orphaned_jobs()
        report = self.manager.reconcile()
        self.metrics.reconcile_ticks.inc()
        self.metrics.reconcile_errors.inc(len(report.errors))
        log.info(
            "pool.tick",
            extra={
                "observed": report.observed,
                "actions": [type(a).__name__ for a in report.actions],
                "errors": report.errors,
            },
        )

    def dispatch(self) -> int:
        """Hand queued jobs to free ready instances; return how many started."""
        if not self.leader.is_leader:
            return 0
        started = 0
        while True:
            with self._claiming:
                with session_scope(self.engine) as session:
                    claimed = queue.claim_next(
                        session, pool=self.settings.pool_name, now=self.clock.now()
                    )
                if claimed is None:
                    return started
                job_id, claim = claimed
                with self._lock:
                    self._running.add(job_id)
            self.workers.submit(self._run, job_id, claim)
            started += 1

    def _run(self, job_id: int, claim: leases.Claim) -> None:
        pending = None
        try:
            pending = runner.run_job(self.run_context, job_id=job_id, claim=claim)
        finally:
            self._settled(job_id, pending)

    def _settled(self, job_id: int, pending: runner.Ending | None, tries: int = 0) -> None:
        """The job's worker is done: forget it, or keep it (and its lease) until the ending
        it could not write is written (`retry_endings`)."""
        with self._lock:
            if pending is None or tries >= ENDING_RETRIES:
                self._pending_endings.pop(job_id, None)
                self._running.discard(job_id)
            else:
                self._pending_endings[job_id] = (pending, tries)

    def endings_owed(self) -> set[int]:
        """The jobs whose ending this scheduler failed to write and still owes."""
        with self._lock:
            return set(self._pending_endings)

    def retry_endings(self) -> int:
        """Try again to write the job endings whose writing failed; how many are still owed.

        After ENDING_RETRIES ticks an ending is given up (logged): the job then counts as
        orphaned and `recover_orphaned_jobs` requeues or refunds it in the same tick.
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

    def recover_orphaned_jobs(self) -> int:
        """Jobs holding leases that no worker of ours runs died with a previous leader:
        release their leases and requeue them (`outcomes.recover_orphaned_jobs`). How many."""
        with self._claiming:
            return outcomes.recover_orphaned_jobs(
                self.engine, is_running=self._is_running, clock=self.clock
            )

    def _is_running(self, job_id: int) -> bool:
        with self._lock:
            return job_id in self._running

    def daily_maintenance(self) -> None:
        """Back the database up, export the pool's state, apply retention (leader only)."""
        if not self.leader.is_leader:
            return
        now = self.clock.now()
        path = backup.backup(self.settings.database_url, self.settings.backup_dir, now=now)
        with read_scope(self.engine) as session:
            exported = snapshot.export_pool_state(
                session, pool=self.settings.pool_name, now=now, directory=self.settings.backup_dir
            )
        with session_scope(self.engine) as session:
            report = retention.apply_retention(session, now=now, days=self.settings.retention_days)
        self.check_bills()
        log.info(
            "maintenance.done",
            extra={"backup": str(path), "pool_state": str(exported), "retention": report.removed},
        )

    def check_bills(self) -> list[billing.DayCheck]:
        """Compare the last days' accrued spend with the provider's own bill (leader only);
        a bill that cannot be fetched is logged and checked again tomorrow."""
        if not self.leader.is_leader:
            return []
        try:
            return billing.reconcile_recent(
                self.engine,
                self.manager.provider,
                pool=self.settings.pool_name,
                label_prefix=self.manager.prefix,
                now=self.clock.now(),
                alert_above_usd=self.settings.pool_bill_mismatch_alert_usd,
                alert=self.manager.alert,
            )
        except ProviderError as exc:
            log.warning("pool.bill_check_failed", extra={"error": str(exc)})
            return []

    def refresh_trending(self) -> int:
        """Recompute the gallery's trending scores (leader only); return how many changed."""
        if not self.leader.is_leader:
            return 0
        changed = engagement.refresh_trending(self.engine, now=self.clock.now())
        log.info("gallery.trending_refreshed", extra={"changed": changed})
        return changed

    def sync_payments(self) -> int:
        """Grant credits for paid Stripe checkouts (leader only; when Stripe is configured)."""
        key = self.settings.stripe_api_key
        if key is None or not self.leader.is_leader:
            return 0
        events = payments.fetch_events(
            api_url=self.settings.stripe_api_url, api_key=key.get_secret_value()
        )
        with session_scope(self.engine) as session:
            return sum(payments.apply_event(session, e, now=self.clock.now()) for e in events)

    def deliver_webhooks(self) -> int:
        """Queue events of jobs that ended and post the due ones (leader only); how many
        were delivered."""
        if not self.leader.is_leader:
            return 0
        with session_scope(self.engine) as session:
            webhooks.enqueue_ended_jobs(session, now=self.clock.now())
        return webhooks.deliver_due(
            self.engine,
            self.webhook_client,
            clock_now=self.clock.now,
            allow_private=self.settings.webhook_allow_private,
        )

    def shutdown(self, grace_s: float = 30.0) -> bool:
        """Stop dispatching, give running generations `grace_s` to finish, step down.

        Returns False if some were still running: their leases stay open and the next
        leader requeues them (`recover_orphaned_jobs`), so nothing is lost either way.
        """
        self.workers.shutdown(wait=False, cancel_futures=True)
        deadline = self.clock.monotonic() + grace_s
        while self.clock.monotonic() < deadline:
            with self._lock:
                if not self._running:
                    break
            threading.Event().wait(0.1)
        with self._lock:
            clean = not self._running
        self.leader.step_down()
        self.manager.provider.close()
        self.webhook_client.close()
        self.engine.dispose()
        return clean
