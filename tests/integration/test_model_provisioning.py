"""A model added to the catalogue while instances run: fetched onto a running instance, and the
jobs that load it wait (told what for) instead of failing at ComfyUI.

The stack is `scheduler.wiring`'s manager and run context and `scheduler.dispatcher`'s
Dispatcher, against the Vast simulator whose ComfyUIs are provisioned the way the launch asks
(sim.fleet) on a fake clock kept in step. "Restarting the scheduler" with the operator's new
`data/presets.toml` is building the manager and dispatcher again with the presets file
pointing at the new text, as a restarted process reads it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from sqlmodel import select

from core.accounts import ledger
from core.clock import FakeClock
from core.comfy import presets as presets_module
from core.comfy.presets import Presets
from core.comfy.tools import Lora, Tools
from core.db import read_scope, session_scope
from core.gallery import store
from core.models import Asset, CreditKind, GenerationJob, GpuInstance, InstanceState, JobStatus
from core.studio import progress
from core.studio.compose import StudioRequest
from core.studio.pricing import pricing_from
from core.studio.submit import submit
from scheduler.dispatcher import Dispatcher
from scheduler.wiring import build_run_context
from sim.comfy import ComfySimConfig
from sim.fleet import ComfyFleet
from sim.vast import Timings
from testing.factories import make_pool, make_user
from testing.sims import vast_sim
from tests.integration.test_provisioning import Stack

NEW_LORA = "aik_test_style_xl.safetensors"
NEW_PATH = f"loras/{NEW_LORA}"
NEW_SHA = "72773e055468a69f56fa72f6df7ecfd9ddc06afd639f71d0fddb23d4ee27f440"
NEW_BYTES = 228_451_800
ADDED = f"""
[downloads."{NEW_PATH}"]
url = "https://civitai.com/api/download/models/424242"
sha256 = "{NEW_SHA}"
size_bytes = {NEW_BYTES}

[catalogue.loras."{NEW_LORA}"]
family = "sdxl"
label = "A test style"
triggers = ["aikstyle"]
"""
"""What the Models page tells an operator to add for a Civitai LoRA (catalogue_toml)."""
BAD_FILES: dict[str, str] = {}
"""Files every instance started from now on receives wrong (set by a test, then cleared)."""


def _added_presets(tmp_path: Path) -> Path:
    path = tmp_path / "presets.toml"
    path.write_text(presets_module.DEFAULT_PATH.read_text(encoding="utf-8") + ADDED)
    return path


class Scheduler(Stack):
    """The scheduler's wired manager and dispatcher on a fake clock moving with the sim's."""

    def __init__(self, engine, sim, clock: FakeClock, tmp_path: Path) -> None:
        super().__init__(engine, sim, tmp_path, clock)
        self.context = build_run_context(self.settings, engine, clock)
        self.dispatcher = Dispatcher(
            engine,
            clock,
            pool=self.settings.pool_name,
            run_context=self.context,
            threads=2,
            may_claim=lambda: True,
        )

    def close(self) -> None:
        self.dispatcher.shutdown(grace_s=5)
        self.context.comfy.close()
        self.client.close()


def _rows(engine) -> list[GpuInstance]:
    with read_scope(engine) as session:
        return list(session.exec(select(GpuInstance).order_by(GpuInstance.id)).all())


def _job(engine, job_id: int) -> GenerationJob:
    with read_scope(engine) as session:
        job = session.get(GenerationJob, job_id)
        assert job is not None
        return job


def _settled(engine, job_id: int, timeout_s: float = 30) -> GenerationJob:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = _job(engine, job_id)
        if job.status in (JobStatus.SUCCEEDED, JobStatus.FAILED):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {job.status}")


def _lora_job(scheduler: Scheduler, presets: Presets) -> GenerationJob:
    user = make_user(scheduler.engine)
    with session_scope(scheduler.engine) as session:
        ledger.grant(
            session,
            user_id=user.id,
            credits=500,
            key=f"t:{user.id}",
            note="t",
            now=scheduler.clock.now(),
        )
    request = StudioRequest(
        prompt="aikstyle, a lighthouse at dusk",
        preset="low",
        tools=Tools(loras=(Lora(NEW_LORA, 0.8),)),
    )
    return submit(
        scheduler.engine,
        user_id=user.id,
        request=request,
        clock=scheduler.clock,
        presets=presets,
        pricing=pricing_from(scheduler.settings),
        pool=scheduler.settings.pool_name,
    )


@contextmanager
def restarted_with_the_new_file(
    engine, sim, clock, tmp_path: Path, monkeypatch
) -> Iterator[tuple[Scheduler, Presets]]:
    """The scheduler restarted with a presets file that adds the new LoRA: (it, the presets)."""
    monkeypatch.setattr(presets_module, "DEFAULT_PATH", _added_presets(tmp_path))
    scheduler = Scheduler(engine, sim, clock, tmp_path / "after")
    try:
        yield scheduler, Presets.load()
    finally:
        scheduler.close()


def _fault_every_comfy(sim, faults: dict) -> None:
    """Set `faults` on every simulated ComfyUI of the fleet."""
    for port in sim.state.endpoints.ports().values():
        httpx.post(f"http://127.0.0.1:{port}/_sim/faults", json=faults).raise_for_status()


@pytest.fixture
def running_instance(engine, tmp_path):
    """One instance booted with the shipped models, ready with nothing pending: yields
    (sim, clock)."""
    make_pool(
        engine,
        desired_size=1,
        max_instances=2,
        max_price_per_hour_usd=Decimal("5"),
        min_reliability=0.9,
        min_vram_gb=8,
        boot_timeout_s=3600,
        prewarm_until=datetime.now(UTC) + timedelta(days=30),
    )
    fleet = ComfyFleet(lambda: ComfySimConfig(bad_files=dict(BAD_FILES)))
    with vast_sim(endpoints=fleet, timings=Timings(0, 0, 0)) as sim:
        for offer in sim.state.offers.values():
            offer["inet_down"] = 1000.0
        clock = FakeClock(datetime.now(UTC))
        before = Scheduler(engine, sim, clock, tmp_path / "before")
        before.tick()
        before.tick(400)
        before.close()
        (row,) = _rows(engine)
        assert (row.state, row.models_pending) == (InstanceState.READY, [])
        yield sim, clock
    fleet.close_all()


def test_a_lora_added_while_an_instance_runs_is_fetched_onto_it_and_its_job_waits_for_it(
    engine, tmp_path, monkeypatch, running_instance
):
    sim, clock = running_instance
    with restarted_with_the_new_file(engine, sim, clock, tmp_path, monkeypatch) as (
        scheduler,
        presets,
    ):
        scheduler.tick()  # the restarted leader's first tick comes before any dispatch
        (row,) = _rows(engine)
        assert row.state is InstanceState.READY
        assert row.models_pending == [NEW_PATH]  # asked for, not yet verified
        job = _lora_job(scheduler, presets)
        assert scheduler.dispatcher.dispatch() == 0  # waits: the instance is fetching it
        with read_scope(engine) as session:
            shown = progress.job_progress(
                session,
                _job(engine, job.id),
                pool="default",
                pricing=pricing_from(scheduler.settings),
                now=clock.now(),
                presets=presets,
            )
        assert shown.outlook is not None and shown.outlook.start_in_s is not None
        assert NEW_LORA in shown.outlook.reason and "228 MB" in shown.outlook.reason
        scheduler.tick(10)  # ~2 s at 1 Gbit/s, then its sha256: verified
        (row,) = _rows(engine)
        assert (row.state, row.models_pending) == (InstanceState.READY, [])
        scheduler.dispatcher.dispatch()
        done = _settled(engine, job.id)
        assert done.status is JobStatus.SUCCEEDED, done.error
        with read_scope(engine) as session:
            (asset,) = session.exec(select(Asset).where(Asset.job_id == job.id)).all()
        data = store.read(scheduler.settings.media_root, asset.sha256)
        assert "<lora:aik_test_style_xl:0.8>" in store.read_png_metadata(data)["parameters"]


def test_a_new_file_that_fails_its_check_on_two_machines_refunds_the_jobs_waiting_for_it(
    engine, tmp_path, monkeypatch, running_instance
):
    sim, clock = running_instance
    monkeypatch.setitem(BAD_FILES, NEW_PATH, "corrupt")  # the source serves another file
    _fault_every_comfy(sim, {"bad_files": dict(BAD_FILES)})
    with restarted_with_the_new_file(engine, sim, clock, tmp_path, monkeypatch) as (
        scheduler,
        presets,
    ):
        scheduler.tick()
        job = _lora_job(scheduler, presets)
        with read_scope(engine) as session:
            held = ledger.balance(session, job.user_id)
        scheduler.tick(10)  # failed on the first machine: replaced, and the job still waits
        first, replacement = _rows(engine)
        assert first.terminate_reason == "a model file failed its check"
        assert _job(engine, job.id).status is JobStatus.QUEUED
        for _ in range(15):  # the replacement boots with the file in its list: fails it too
            scheduler.tick()
            if _job(engine, job.id).status is not JobStatus.QUEUED:
                break
        failed = _job(engine, job.id)
        assert failed.status is JobStatus.FAILED
        assert f"The model file {NEW_PATH} failed its size and sha256 check on 2 GPUs" in (
            failed.error or ""
        )
        with read_scope(engine) as session:
            assert ledger.balance(session, job.user_id) == held + job.estimated_credits


def test_a_job_leased_before_the_instance_was_asked_goes_back_to_wait_and_is_charged_once(
    engine, tmp_path, monkeypatch, running_instance
):
    sim, clock = running_instance
    with restarted_with_the_new_file(engine, sim, clock, tmp_path, monkeypatch) as (
        scheduler,
        presets,
    ):  # a worker before the tick
        job = _lora_job(scheduler, presets)
        assert scheduler.dispatcher.dispatch() == 1
        deadline = time.monotonic() + 30
        while (
            _job(engine, job.id).status is not JobStatus.QUEUED or not _job(engine, job.id).attempts
        ):
            assert time.monotonic() < deadline, _job(engine, job.id).status
            time.sleep(0.05)
        while scheduler.dispatcher.running_count():
            time.sleep(0.05)
        back = _job(engine, job.id)
        assert f"the GPU did not have {NEW_LORA} yet" in (back.requeue_note or "")
        (row,) = _rows(engine)
        assert (row.state, row.models_pending) == (InstanceState.READY, [NEW_PATH])
        assert scheduler.dispatcher.dispatch() == 0  # not leased to it again meanwhile
        scheduler.tick()  # asks for it
        scheduler.tick(10)  # verified
        assert _rows(engine)[0].models_pending == []
        scheduler.dispatcher.dispatch()
        done = _settled(engine, job.id)
        assert done.status is JobStatus.SUCCEEDED, done.error
        with read_scope(engine) as session:
            entries = ledger.history(session, user_id=job.user_id)
        kinds = sorted(entry.kind for entry in entries if entry.job_id == job.id)
        assert (kinds.count(CreditKind.HOLD), kinds.count(CreditKind.CHARGE)) == (1, 1)
        assert CreditKind.REFUND not in kinds
        assert done.charged_credits is not None and done.charged_credits <= job.estimated_credits


def test_an_instance_whose_older_start_script_never_fetches_is_replaced_by_one_with_the_file(
    engine, tmp_path, monkeypatch, running_instance
):
    sim, clock = running_instance
    _fault_every_comfy(sim, {"watches_for_downloads": False})  # started before the watcher
    with restarted_with_the_new_file(engine, sim, clock, tmp_path, monkeypatch) as (
        scheduler,
        presets,
    ):
        scheduler.tick()
        job = _lora_job(scheduler, presets)
        scheduler.tick(60)
        assert [row.state for row in _rows(engine)] == [InstanceState.READY]
        scheduler.tick(90)  # past the two minutes a watcher would have needed
        old, *_ = _rows(engine)
        assert old.state in (InstanceState.TERMINATING, InstanceState.TERMINATED)
        assert f"did not fetch {NEW_PATH} when asked" in (old.health_reason or "")
        for _ in range(20):  # the replacement is launched with the file in its downloads
            scheduler.tick()
            scheduler.dispatcher.dispatch()
            if _job(engine, job.id).status is not JobStatus.QUEUED:
                break
        done = _settled(engine, job.id)
        assert done.status is JobStatus.SUCCEEDED, done.error
        assert done.instance_id != old.id
