"""Money is safe: seeded fault campaigns never leave a rented GPU that nobody knows about, a
job stranded, or a credit unaccounted for, on SQLite and on PostgreSQL.

Each run mixes 429/5xx storms, list outages and lag, lost create replies, failing and
lingering destroys, stuck boots, vanishing and dying instances, orphans, safe-mode flips and
scheduler restarts, then calms the provider and checks every instance alive at the simulator
belongs to a live row (and vice versa) within a few ticks. With jobs, the real scheduler
(`scheduler.tasks.Runtime`) runs them; with database faults (issue 13) its statements drop,
its PostgreSQL backends are killed every 20 ms, another session holds the balance, job and
instance rows, and now and then it is SIGKILLed mid-close. These are small versions; the long
campaign is `python -m bench --only F` (both databases).
"""

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading

import pytest
import sqlalchemy as sa
from sqlmodel import select

from core.accounts import ledger
from core.config import REPO_ROOT
from core.db import is_retryable, make_engine, read_scope, session_scope
from core.models import CreditEntry, GenerationJob, JobStatus, Lease
from core.studio import outcomes, queue
from testing.db_faults import DatabaseFaults
from testing.factories import make_instance, make_job, make_rentable_pool, make_user
from testing.pool_harness import SCHEDULER_APP, campaign_on_sim

SEEDS = range(6)  # the long campaign, hundreds of seeds: python -m bench --only F
THREADED_SEEDS = (0, 1, 2)  # a kill; a clean stop; a kill and a lost leadership


@pytest.mark.parametrize("seed", SEEDS)
def test_no_instance_is_leaked_or_rented_twice(engine, fake_clock, seed):
    result = _campaign(engine, fake_clock, seed)
    assert result.leaked == 0, f"seed {seed}: leaked instances"
    assert result.duplicate_labels == 0, f"seed {seed}: an instance rented twice"
    assert result.rented_twice == 0, f"seed {seed}: a row's instance created twice"
    assert result.ghosts == 0, f"seed {seed}: rows for instances that are gone"
    assert result.max_alive <= 3 + 2, f"seed {seed}: ran far over max_instances"


def _campaign(engine, fake_clock, seed, **options):
    """One campaign of `seed` against a rentable pool on a simulated Vast."""
    return campaign_on_sim(engine, fake_clock, seed, **options)


def _assert_nothing_lost(result):
    seed = result.seed
    assert result.jobs > 0
    assert result.leaked == 0 and result.duplicate_labels == 0 and result.ghosts == 0
    assert result.rented_twice == 0, f"seed {seed}: a row's instance created twice"
    assert result.jobs_lost == 0, f"seed {seed}: jobs neither finished nor refunded"
    assert result.stranded == 0, f"seed {seed}: jobs stranded past two ticks"
    assert result.double_settlements == 0, f"seed {seed}: a hold closed twice or never"
    assert result.ledger_drift == 0, f"seed {seed}: credits unaccounted for"
    assert result.internal_errors == 0, f"seed {seed}: a generation lost to a database blip"
    assert result.errors_after_faults == 0, f"seed {seed}: the scheduler raised outside faults"


@pytest.mark.parametrize("seed", (2,))
def test_under_database_faults_no_job_is_lost_or_stranded_and_every_credit_is_accounted(
    engine, fake_clock, seed
):
    result = _campaign(engine, fake_clock, seed, with_jobs=True, steps=15, db_faults=True)
    assert result.db_faults > 0
    _assert_nothing_lost(result)


# ---- sends on the scheduler's sender threads -----------------------------------------------


def _assert_threads_were_tested(result):
    assert result.unsettled == 0, f"seed {result.seed}: senders still busy on a calm pool"
    assert result.stranded_keys == 0, f"seed {result.seed}: a call pending that none will send"
    assert result.sender_kills + result.clean_stops + result.leadership_losses > 0


@pytest.mark.parametrize("seed", THREADED_SEEDS)
def test_with_sends_on_threads_no_instance_is_leaked_or_rented_twice(engine, fake_clock, seed):
    """Ticks and sender threads at once under lost and hung create replies, 429 storms and
    failing destroys; leaders killed, or replaced, with calls still queued."""
    result = _campaign(engine, fake_clock, seed, threaded_sends=True)
    assert result.leaked == 0, f"seed {seed}: leaked instances"
    assert result.duplicate_labels == 0, f"seed {seed}: an instance rented twice"
    assert result.rented_twice == 0, f"seed {seed}: a row's instance created twice"
    assert result.ghosts == 0, f"seed {seed}: rows for instances that are gone"
    assert result.lingering == 0, f"seed {seed}: instances billing on, their destroy lost"
    assert result.max_alive <= 3 + 2, f"seed {seed}: ran far over max_instances"
    _assert_threads_were_tested(result)


@pytest.mark.parametrize("seed", (3,))
def test_with_sends_on_the_schedulers_threads_no_job_is_lost_or_charged_twice(
    engine, fake_clock, seed
):
    """The real scheduler (`Runtime.send_forever` threads), its leader lease expiring
    between ticks, taken over by a standby, or the process killed, while calls are queued."""
    result = _campaign(engine, fake_clock, seed, with_jobs=True, steps=20, threaded_sends=True)
    _assert_nothing_lost(result)
    assert result.lingering == 0, f"seed {seed}: instances billing on, their destroy lost"
    _assert_threads_were_tested(result)
    assert result.held_at_loss > 0, f"seed {seed}: no call was queued at a handover"


def test_the_campaign_refuses_database_faults_without_the_scheduler(engine, fake_clock):
    with pytest.raises(ValueError, match="with_jobs"):
        _campaign(engine, fake_clock, 1, db_faults=True)


# ---- the faults are real -----------------------------------------------------------------


def _scheduler_engine(engine):
    url = engine.url
    if engine.dialect.name == "postgresql":
        url = url.update_query_dict({"application_name": SCHEDULER_APP})
    return make_engine(url.render_as_string(hide_password=False))


def test_a_kill_storm_drops_the_schedulers_connections_with_a_retryable_error(engine):
    import random

    scheduler = _scheduler_engine(engine)
    faults = DatabaseFaults(scheduler, random.Random(1), application_name=SCHEDULER_APP)
    errors = []
    try:
        faults.start("kill_storm")
        for _ in range(200):
            try:
                with session_scope(scheduler) as session:
                    session.execute(sa.text("SELECT count(*) FROM generationjob"))
                    threading.Event().wait(0.03)
                    session.execute(sa.text("SELECT count(*) FROM lease"))
            except sa.exc.DBAPIError as exc:
                errors.append(exc)
                break
    finally:
        faults.stop()
        scheduler.dispose()
    assert errors and all(is_retryable(exc) for exc in errors)
    if engine.dialect.name == "postgresql":
        assert faults.kills >= 1
    with read_scope(engine) as session:  # everyone else's connections live on
        assert session.execute(sa.text("SELECT 1")).scalar_one() == 1


def test_a_lock_storm_holds_the_job_rows_against_the_scheduler(engine):
    import random

    user = make_user(engine)
    job = make_job(engine, user)
    faults = DatabaseFaults(engine, random.Random(2))
    postgres = engine.dialect.name == "postgresql"
    probe = make_engine(engine.url.render_as_string(hide_password=False))
    blocked = 0
    try:
        faults.start("lock_storm")
        for _ in range(50):
            if postgres:
                try:
                    with probe.connect() as connection:
                        connection.execute(
                            sa.text(
                                "SELECT id FROM generationjob WHERE id = :id FOR UPDATE NOWAIT"
                            ),
                            {"id": job.id},
                        )
                except sa.exc.OperationalError:
                    blocked += 1
                continue
            raw = sqlite3.connect(engine.url.database, timeout=0, isolation_level=None)
            try:
                raw.execute("BEGIN IMMEDIATE")
                raw.execute("ROLLBACK")
            except sqlite3.OperationalError:
                blocked += 1  # "database is locked": the write lock is the storm's
            finally:
                raw.close()
    finally:
        faults.stop()
        probe.dispose()
    assert faults.lock_holds >= 1 and blocked >= 1
    with session_scope(engine) as session:  # and let go once stopped
        assert session.get(GenerationJob, job.id) is not None


# ---- a scheduler SIGKILLed mid-close -----------------------------------------------------

_CLOSER = textwrap.dedent(
    """
    import sys, time
    from datetime import datetime
    from decimal import Decimal
    from core import locks
    from core.config import load_settings
    from core.db import make_engine, run_transaction
    from core.pool import leases
    from core.studio import outcomes
    from core.studio.pricing import pricing_from

    url, job_id, lease_id, now = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    now = datetime.fromisoformat(now)
    pricing = pricing_from(load_settings(database_url=url))

    def settle(session):  # as the runner's `_finish`: user and job, lease, charge
        job = locks.lock_job(session, job_id)
        assert leases.release(session, lease_id=lease_id, now=now, outcome="succeeded")
        outcomes.succeed(session, job, cost_usd=Decimal("0.05"), pricing=pricing, now=now)
        session.flush()
        print("closing", flush=True)
        time.sleep(600)  # SIGKILLed here, before the commit

    run_transaction(make_engine(url), settle, name="test.close")
    """
)


def _history(engine, job_id):
    with read_scope(engine) as session:
        job = session.get(GenerationJob, job_id)
        kinds = sorted(e.kind.value for e in session.exec(select(CreditEntry)).all())
        open_leases = session.exec(
            select(Lease).where(Lease.job_id == job_id, Lease.released_at.is_(None))
        ).all()
        balance = ledger.balance(session, job.user_id)
    return job, kinds, open_leases, balance


def test_a_scheduler_sigkilled_mid_close_charges_nothing_and_its_job_is_recovered_once(
    engine, fake_clock
):
    make_rentable_pool(engine)
    user = make_user(engine)
    job = make_job(engine, user, estimated_credits=10)
    now = fake_clock.now()
    with session_scope(engine) as session:
        ledger.grant(session, user_id=user.id, credits=100, key="t", note="t", now=now)
        ledger.hold_for_job(session, user_id=user.id, job_id=job.id, credits=10, now=now)
    make_instance(engine, state="ready", comfy_url="http://gpu.invalid")
    with session_scope(engine) as session:
        _job_id, claim = queue.claim_next(session, pool="default", now=now)
    url = engine.url.render_as_string(hide_password=False)
    argv = [sys.executable, "-c", _CLOSER, url, str(job.id), str(claim.lease_id), now.isoformat()]
    closer = subprocess.Popen(
        argv,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    with closer:  # reaped, its pipe closed, however the test ends
        try:
            assert closer.stdout.readline().strip() == "closing"
            os.kill(closer.pid, signal.SIGKILL)
        finally:
            closer.kill()
            closer.wait(30)
    assert closer.returncode == -signal.SIGKILL
    killed, kinds, open_leases, balance = _history(engine, job.id)
    assert killed.status is JobStatus.LEASED and len(open_leases) == 1
    assert kinds == ["grant", "hold"] and balance == 90  # nothing of the close committed

    # The next scheduler's first tick: the job no worker runs is requeued, once.
    assert outcomes.recover_orphaned_jobs(engine, is_running=lambda _id: False, clock=fake_clock)
    assert not outcomes.recover_orphaned_jobs(
        engine, is_running=lambda _id: False, clock=fake_clock
    )
    recovered, kinds, open_leases, balance = _history(engine, job.id)
    assert recovered.status is JobStatus.QUEUED and open_leases == []
    assert kinds == ["grant", "hold"] and balance == 90
    with session_scope(engine) as session:
        assert queue.claim_next(session, pool="default", now=fake_clock.now()) is not None
