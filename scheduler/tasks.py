"""The scheduler's periodic tasks, each a few lines into `core`, gated on leadership.

`Runtime` owns what the tasks share: the engine, the pool manager, the leader lease, the
dispatcher running generations on threads (`scheduler.dispatcher`) and the process's
metrics. Only the leader reconciles, recovers or dispatches; with `DISPATCH_MODE=workers` it
dispatches nothing and worker processes (`scheduler.worker`) run the jobs.
"""

from __future__ import annotations

import logging
import os
import socket
import threading

from core.accounts import payments, webhooks
from core.accounts.public_addresses import public_only_client
from core.clock import Clock
from core.config import DispatchMode, Settings
from core.db import make_engine, read_scope, session_scope
from core.errors import ProviderError
from core.gallery import engagement, verdicts
from core.ops import backup, retention, snapshot
from core.ops.metrics import scheduler_metrics
from core.pool import billing
from core.pool.manager import PoolManager
from core.pool.service import ensure_pool
from core.studio import outcomes, queue
from core.studio.runner import RunContext
from scheduler import wiring
from scheduler.dispatcher import Dispatcher
from scheduler.leader import LeaderLease

log = logging.getLogger(__name__)


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
        self.embedded = settings.dispatch_mode is DispatchMode.EMBEDDED
        self.dispatcher = Dispatcher(
            self.engine,
            clock,
            pool=settings.pool_name,
            run_context=wiring.build_run_context(settings, self.engine, clock),
            threads=max(1, settings.pool_max_instances),
            may_claim=lambda: self.embedded and self.leader.is_leader,
        )
        self._led_before = False
        self.webhook_client = public_only_client(allow_private=settings.webhook_allow_private)
        self.metrics = scheduler_metrics(self.engine, clock, pool=settings.pool_name)

    @property
    def run_context(self) -> RunContext:
        """What a generation needs: the dispatcher's own, so a replaced one reaches every run."""
        return self.dispatcher.run_context

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
        self.dispatch()  # instances this tick made ready take queued work at once
        self.check_waiting_outputs()
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

    def check_waiting_outputs(self) -> int:
        """The backstop of the outputs' checks (`verdicts.check_waiting`): the outputs a
        process that stopped left waiting; how many were checked. A failure is logged and
        tried again at the next tick."""
        ctx = self.run_context
        try:
            return verdicts.check_waiting(
                self.engine, media=ctx.media, screener=ctx.screener, now=self.clock.now
            )
        except Exception:  # noqa: BLE001 - the tick goes on; the outputs stay hidden
            log.exception("pool.check_waiting_failed")
            return 0

    def relearn_demand(self) -> None:
        """Learn the pool's demand profile again for the ticks to read (`PoolManager.relearn`),
        on every scheduler, leader or not: a standby that takes over plans with a current
        profile at once."""
        self.manager.relearn()

    def sweep_forever(self, stop: threading.Event) -> None:
        """Page the provider's list into sweeps until `stop` is set, while leading (the
        pool's `Lister`); from now on the ticks read those sweeps and list nothing."""
        self.manager.sweeps_inline = False
        self.manager.lister.run(stop)

    def send_forever(self, stop: threading.Event, kind: str) -> None:
        """Send the pool's queued creates (`kind` "create") or destroys ("destroy") until
        `stop` is set (`PoolManager.send_forever`); from now on the ticks only queue them."""
        sender = self.manager.creates if kind == "create" else self.manager.destroys
        self.manager.send_forever(sender, stop)

    def dispatch_forever(self, stop: threading.Event) -> None:
        """Run the embedded dispatch loop until `stop` is set (`Dispatcher.dispatch_forever`)."""
        self.dispatcher.dispatch_forever(stop)

    def dispatch(self) -> int:
        """Hand queued jobs to free ready instances (leader, embedded dispatch); how many
        started. With worker processes, wake them instead: this tick may have made an
        instance ready, which no submit announces."""
        if not self.embedded:
            if self.leader.is_leader:
                with session_scope(self.engine) as session:
                    queue.announce(session)
            return 0
        return self.dispatcher.dispatch()

    def endings_owed(self) -> set[int]:
        """The jobs whose ending this scheduler failed to write and still owes."""
        return self.dispatcher.endings_owed()

    def retry_endings(self) -> int:
        """Try again to write the job endings whose writing failed (`Dispatcher.retry_endings`)."""
        return self.dispatcher.retry_endings()

    def recover_orphaned_jobs(self) -> int:
        """Jobs holding leases that nobody runs (a previous leader's, a killed worker
        process's): release their leases and requeue or refund them
        (`outcomes.recover_orphaned_jobs`). How many."""
        with self.dispatcher.claims_paused():
            return outcomes.recover_orphaned_jobs(
                self.engine,
                is_running=self.dispatcher.is_running,
                clock=self.clock,
                worker_stale_s=self.settings.worker_stale_s,
            )

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
        """Apply Stripe's recent payment events: credits for paid checkouts, taken back for
        refunds and disputes (leader only; when Stripe is configured); how many moved credits."""
        key = self.settings.stripe_api_key
        if key is None or not self.leader.is_leader:
            return 0
        client = payments.stripe_client(
            api_key=key.get_secret_value(), api_url=self.settings.stripe_api_url
        )
        events = payments.fetch_events(client, now=self.clock.now())
        applied = payments.apply_events(self.engine, events, clock_now=self.clock.now)
        return sum(
            outcome in (payments.Applied.GRANTED, payments.Applied.TAKEN_BACK)
            for outcome in applied
        )

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
        )

    def shutdown(self, grace_s: float = 30.0) -> bool:
        """Stop dispatching, give running generations `grace_s` to finish, step down.

        Returns False if some were still running: their leases stay open and the next
        leader requeues them (`recover_orphaned_jobs`), so nothing is lost either way.
        """
        clean = self.dispatcher.shutdown(grace_s)
        self.leader.step_down()
        self.manager.provider.close()
        self.webhook_client.close()
        self.run_context.comfy.close()
        self.run_context.after_job.shutdown(wait=True, cancel_futures=False)
        self.engine.dispose()
        return clean
