"""Worker processes (`python -m scheduler worker`) beside a leader in `DISPATCH_MODE=workers`:
jobs claimed with SKIP LOCKED, heartbeats, and a killed worker's job recovered exactly once."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

import pytest
from sqlmodel import col, select

from core.accounts import ledger
from core.config import REPO_ROOT
from core.db import read_scope, session_scope
from core.models import (
    CreditEntry,
    GenerationJob,
    GpuInstance,
    InstanceState,
    JobStatus,
    Lease,
)
from core.pool import leases
from core.studio import outcomes, queue
from testing.factories import make_instance, make_job, make_pool, make_user
from testing.processes import wait_for
from testing.worker_stack import worker_stack

pytestmark = pytest.mark.slow


def _jobs(engine, job_ids):
    with read_scope(engine) as session:
        return session.exec(select(GenerationJob).where(col(GenerationJob.id).in_(job_ids))).all()


def _entries(engine, job_ids):
    with read_scope(engine) as session:
        return session.exec(select(CreditEntry).where(col(CreditEntry.job_id).in_(job_ids))).all()


@pytest.mark.postgresql_only
def test_two_workers_complete_200_jobs_each_once_and_charged_once(engine):
    with worker_stack(engine, instances=4) as stack:
        users = [stack.funded_user() for _ in range(4)]
        stack.start_worker(WORKER_THREADS="2")
        stack.start_worker(WORKER_THREADS="2")
        ids = [stack.submit(users[index % 4], index) for index in range(200)]
        statuses = stack.wait_ended(ids, timeout_s=600)
    assert Counter(statuses) == {JobStatus.SUCCEEDED: 200}
    jobs = _jobs(engine, ids)
    assert all(job.attempts == 1 for job in jobs)  # none run twice
    assert len({job.worker_id for job in jobs}) == 2  # both workers took a share
    with read_scope(engine) as session:
        job_leases = session.exec(select(Lease).where(col(Lease.job_id).in_(ids))).all()
        assert Counter(lease.job_id for lease in job_leases) == dict.fromkeys(ids, 1)
        assert {lease.outcome for lease in job_leases} == {"succeeded"}
        assert session.exec(select(Lease).where(col(Lease.released_at).is_(None))).all() == []
        charged = dict.fromkeys(users, 0)
        for job in jobs:
            charged[job.user_id] += job.charged_credits or 0
        for user in users:  # every credit accounted once: granted - charged
            assert ledger.balance(session, user) == 10**6 - charged[user]
    kinds = Counter(entry.idempotency_key.split(":")[0] for entry in _entries(engine, ids))
    assert kinds == {"hold": 200, "release": 200, "charge": 200}


@pytest.mark.postgresql_only
def test_a_worker_killed_mid_job_is_recovered_once_and_its_lease_freed(engine):
    stale = {"WORKER_HEARTBEAT_S": "0.5", "WORKER_STALE_S": "3"}
    with worker_stack(engine, instances=1, step_delay_s=0.5, **stale) as stack:
        user = stack.funded_user(credits=500)
        doomed = stack.start_worker(**stale)
        job_id = stack.submit(user, 1)
        assert wait_for(lambda: _jobs(engine, [job_id])[0].status is JobStatus.RUNNING)
        stack.kill(doomed)
        # The leader sees the heartbeat go stale, frees the instance and requeues the job.
        assert wait_for(lambda: _jobs(engine, [job_id])[0].status is JobStatus.QUEUED, 30)
        with read_scope(engine) as session:
            lease = session.exec(select(Lease).where(Lease.job_id == job_id)).one()
            assert lease.outcome == "recovered"
            instance = session.get(GpuInstance, lease.instance_id)
            assert instance.state is InstanceState.READY
        stack.start_worker(**stale)
        assert stack.wait_ended([job_id], timeout_s=120) == [JobStatus.SUCCEEDED]
    job = _jobs(engine, [job_id])[0]
    assert job.attempts == 2
    with read_scope(engine) as session:
        outcomes_seen = session.exec(select(Lease.outcome).where(Lease.job_id == job_id)).all()
        assert sorted(outcomes_seen) == ["recovered", "succeeded"]
        assert ledger.balance(session, user) == 500 - (job.charged_credits or 0)
    keys = sorted(entry.idempotency_key for entry in _entries(engine, [job_id]))
    assert keys == sorted([f"hold:{job_id}", f"release:{job_id}", f"charge:{job_id}"])


def test_a_worker_refuses_sqlite_with_a_clear_message(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "scheduler", "worker"],
        env={"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "PATH": ""},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "aikings-worker needs PostgreSQL" in done.stderr
    assert "Traceback" not in done.stderr


def _claimed_by_worker(engine, fake_clock, worker_id="host-b:42"):
    make_pool(engine)
    make_instance(engine, state=InstanceState.READY, comfy_url="http://127.0.0.1:1")
    user = make_user(engine)
    job = make_job(engine, user)
    with session_scope(engine) as session:
        ledger.grant(session, user_id=user.id, credits=100, key="g", note="", now=fake_clock.now())
        ledger.hold_for_job(
            session, user_id=user.id, job_id=job.id, credits=10, now=fake_clock.now()
        )
        claimed = queue.claim_next(
            session, pool="default", now=fake_clock.now(), worker_id=worker_id
        )
    assert claimed is not None and claimed[0] == job.id
    return job.id, claimed[1]


def test_a_claimed_job_carries_its_worker_and_a_heartbeat(engine, fake_clock):
    job_id, _claim = _claimed_by_worker(engine, fake_clock)
    fake_clock.advance(10)
    with session_scope(engine) as session:
        assert queue.heartbeat(session, worker_id="host-b:42", now=fake_clock.now()) == 1
        assert queue.heartbeat(session, worker_id="someone-else:1", now=fake_clock.now()) == 0
    job = _jobs(engine, [job_id])[0]
    assert job.worker_id == "host-b:42"
    assert job.heartbeat_at == fake_clock.now()


def test_a_beating_worker_keeps_its_job_and_a_stale_one_loses_it_once(engine, fake_clock):
    job_id, claim = _claimed_by_worker(engine, fake_clock)

    def recover():
        # The leader runs no worker thread of its own: only the heartbeat can keep the job.
        return outcomes.recover_orphaned_jobs(
            engine, is_running=lambda _job: False, clock=fake_clock, worker_stale_s=30
        )

    fake_clock.advance(29)
    assert recover() == 0
    with session_scope(engine) as session:
        queue.heartbeat(session, worker_id="host-b:42", now=fake_clock.now())
    fake_clock.advance(29)
    assert recover() == 0
    fake_clock.advance(2)  # 31 s since the last beat
    assert recover() == 1
    assert recover() == 0  # exactly once
    job = _jobs(engine, [job_id])[0]
    assert job.status is JobStatus.QUEUED
    assert job.worker_id is None and job.heartbeat_at is None
    assert "the worker running it stopped answering" in (job.requeue_note or "")
    with session_scope(engine) as session:
        # The dead worker's late ending finds its lease closed: nothing is settled twice.
        assert not leases.release(
            session, lease_id=claim.lease_id, now=fake_clock.now(), outcome="succeeded"
        )
        assert session.get(GpuInstance, claim.instance_id).state is InstanceState.READY
