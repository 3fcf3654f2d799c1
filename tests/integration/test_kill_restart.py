"""kill -9 the scheduler mid-create and mid-job, restart it: the state converges."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial

import pytest
from sqlmodel import select

from core.accounts import ledger
from core.clock import SystemClock
from core.comfy.presets import Presets
from core.db import read_scope, session_scope
from core.models import LIVE_INSTANCE_STATES, CreditEntry, GenerationJob, GpuInstance, JobStatus
from core.studio.compose import StudioRequest
from core.studio.pricing import Pricing
from core.studio.submit import submit
from sim.comfy import ComfySimConfig
from testing.factories import make_rentable_pool, register_user
from testing.processes import wait_for
from testing.sims import comfy_behind_vast
from testing.worker_stack import leader_settings


def _scheduler(engine, vast, tmp_path):
    env = os.environ | leader_settings(
        database_url=engine.url.render_as_string(hide_password=False),
        vast_url=vast.url,
        folder=tmp_path,
    )
    env["SCHEDULER_LOCK_TTL_S"] = "5"
    return subprocess.Popen(
        [sys.executable, "-m", "scheduler"], env=env, cwd=tmp_path, stderr=subprocess.DEVNULL
    )


_wait = partial(wait_for, timeout_s=30, poll_s=0.2)


def _live_labels(engine):
    with read_scope(engine) as session:
        rows = session.exec(select(GpuInstance)).all()
    return {r.label for r in rows if r.state in LIVE_INSTANCE_STATES}


@pytest.fixture
def stack(engine, tmp_path):
    make_rentable_pool(
        engine,
        desired_size=1,
        max_instances=2,
        prewarm_until=datetime.now(UTC) + timedelta(hours=1),
    )
    with comfy_behind_vast(ComfySimConfig(step_delay_s=0.3)) as (_comfy, vast):
        yield vast


def test_killed_right_after_create_leaks_nothing(engine, stack, tmp_path):
    vast = stack
    first = _scheduler(engine, vast, tmp_path)
    try:
        assert _wait(lambda: vast.dump()["instances"])  # the create has reached Vast
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    second = _scheduler(engine, vast, tmp_path)
    try:
        # Within a few ticks every instance alive at Vast belongs to a live row, and only one
        # was ever rented for the one warm slot.
        assert _wait(
            lambda: (
                {i["label"] for i in vast.alive()} == _live_labels(engine)
                and len(vast.alive()) == 1
            ),
            timeout_s=20,
        )
        assert len(vast.dump()["instances"]) == 1
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)


def test_killed_mid_job_the_job_is_retried_and_charged_once(engine, stack, tmp_path):
    vast = stack
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        user = register_user(
            session, "ava", password="a long enough secret", now=now, starter_credits=500
        )
    presets = Presets.load()
    job = submit(
        engine,
        user_id=user.id,
        request=StudioRequest(prompt="a lighthouse", preset="low"),
        clock=SystemClock(),
        presets=presets,
        pricing=Pricing(Decimal("0.01"), Decimal("0.5")),
        pool="default",
    )
    first = _scheduler(engine, vast, tmp_path)
    try:
        assert _wait(lambda: _status(engine, job.id) is JobStatus.RUNNING)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    second = _scheduler(engine, vast, tmp_path)
    try:
        assert _wait(lambda: _status(engine, job.id) is JobStatus.SUCCEEDED, timeout_s=60)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    with read_scope(engine) as session:
        keys = [
            e.idempotency_key
            for e in session.exec(select(CreditEntry).where(CreditEntry.job_id == job.id)).all()
        ]
        assert sorted(keys) == sorted([f"hold:{job.id}", f"release:{job.id}", f"charge:{job.id}"])
        assert session.get(GenerationJob, job.id).attempts == 2
        assert (
            ledger.balance(session, user.id)
            == 500 - session.get(GenerationJob, job.id).charged_credits
        )


def _status(engine, job_id):
    with read_scope(engine) as session:
        return session.get(GenerationJob, job_id).status
