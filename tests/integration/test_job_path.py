"""A generation end to end: submit -> pool wakes -> dispatch -> ComfyUI -> asset -> settle.

Everything real but the clock's speed: the scheduler's Runtime, the Vast simulator and the
ComfyUI simulator over HTTP and WebSocket, the database (SQLite and PostgreSQL).
"""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from sqlmodel import select

from core.accounts import ledger
from core.clock import SystemClock
from core.comfy.presets import Presets
from core.config import load_settings
from core.db import read_scope, session_scope
from core.errors import InsufficientCredits, PolicyRefusal
from core.gallery import library, listing, store
from core.models import (
    Asset,
    AuditEntry,
    BillCheck,
    CreditEntry,
    CreditKind,
    GenerationJob,
    JobStatus,
    Lease,
    PoolConfig,
)
from core.muses import lookbook
from core.muses import service as muses
from core.muses.schema import validate_profile
from core.studio import queue
from core.studio.compose import StudioRequest, compose
from core.studio.outcomes import TERMINAL, Cancel, cancel
from core.studio.pricing import pricing_from
from core.studio.runner import run_job
from core.studio.submit import submit
from scheduler.tasks import Runtime
from sim.comfy import ComfySimConfig
from testing.db_faults import failing_statements
from testing.factories import RENTABLE_FILTERS, make_instance, make_user, png_bytes
from testing.sims import comfy_behind_vast

PRESETS = Presets.load()


@pytest.fixture
def comfy_config():
    """How the ComfyUI simulator behind the stack behaves (override per test)."""
    return ComfySimConfig()


@pytest.fixture
def stack(engine, tmp_path, comfy_config):
    """Runtime + both simulators; instances boot at once and map to the ComfyUI sim."""
    with comfy_behind_vast(comfy_config) as (comfy, vast):
        settings = load_settings(
            database_url=engine.url.render_as_string(hide_password=False),
            sim_vast_url=vast.url,
            media_root=tmp_path / "media",
            backup_dir=tmp_path / "backups",
            pool_max_instances=2,
        )
        runtime = Runtime(settings, SystemClock())
        with session_scope(engine) as session:
            config = session.get(PoolConfig, settings.pool_name)
            for name, value in RENTABLE_FILTERS.items():
                setattr(config, name, value)
            session.add(config)
        yield runtime, vast, comfy
        runtime.shutdown(grace_s=5)


def _fund(engine, user, credits=500):
    with session_scope(engine) as session:
        ledger.grant(
            session,
            user_id=user.id,
            credits=credits,
            key=f"test:{user.id}",
            note="test",
            now=SystemClock().now(),
        )


def _submit(runtime, user, **fields):
    request = StudioRequest(**({"prompt": "a lighthouse at dusk", "preset": "low"} | fields))
    return submit(
        runtime.engine,
        user_id=user.id,
        request=request,
        clock=runtime.clock,
        presets=PRESETS,
        pricing=pricing_from(runtime.settings),
        pool=runtime.settings.pool_name,
    )


def _drive(runtime, job_id, *, until=(JobStatus.SUCCEEDED, JobStatus.FAILED), timeout_s=60):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        runtime.tick_pool()
        runtime.dispatch()
        with read_scope(runtime.engine) as session:
            job = session.get(GenerationJob, job_id)
        if job.status in until:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} stuck in {job.status}")


def test_a_job_runs_lands_in_the_gallery_and_is_charged_once(engine, stack):
    runtime, vast, _comfy = stack
    user = make_user(engine)
    _fund(engine, user)
    job = _submit(runtime, user, batch_size=2, seed=5)
    with read_scope(engine) as session:
        held = ledger.balance(session, user.id)
    assert held == 500 - job.estimated_credits
    done = _drive(runtime, job.id)
    assert done.status is JobStatus.SUCCEEDED, done.error
    assert 1 <= done.charged_credits <= done.estimated_credits
    with read_scope(engine) as session:
        assets = session.exec(select(Asset).where(Asset.job_id == job.id)).all()
        balance = ledger.balance(session, user.id)
    assert len(assets) == 2
    assert all(
        store.read(runtime.settings.media_root, a.sha256)[:8] == b"\x89PNG\r\n\x1a\n"
        for a in assets
    )
    assert balance == 500 - done.charged_credits
    text = store.read_png_metadata(store.read(runtime.settings.media_root, assets[0].sha256))
    assert text["parameters"].startswith("a lighthouse at dusk\nNegative prompt:")
    assert json.loads(text["prompt"]) and json.loads(text["workflow"])["nodes"]
    assert "Seed: 5" in text["parameters"] and '"KSampler"' in text["prompt"]
    metrics = runtime.metrics.registry
    duration_s = (done.finished_at - done.started_at).total_seconds()
    assert metrics.get_sample_value("aikings_job_duration_seconds", {"quantile": "0.5"}) == (
        pytest.approx(duration_s)
    )
    # The pool woke exactly one instance for it (desired_size 0: it is released after).
    assert len(vast.dump()["instances"]) == 1


def test_a_generated_picture_carries_the_chosen_category_and_tags_and_each_filter_finds_it(
    engine, stack
):
    runtime, _vast, _comfy = stack
    user = make_user(engine)
    _fund(engine, user)
    job = _submit(runtime, user, category="Cinematic", tags=("Golden hour", "neon", "neon"))
    done = _drive(runtime, job.id)
    assert done.status is JobStatus.SUCCEEDED, done.error
    with read_scope(engine) as session:
        [asset] = session.exec(select(Asset).where(Asset.job_id == job.id)).all()
        assert asset.category == "cinematic"
        assert library.tags_of(session, asset_id=asset.id) == ["golden-hour", "neon"]
        for filters in ({"category": "cinematic"}, {"tag": "golden-hour"}, {"tag": "neon"}):
            page = listing.list_assets(session, viewer_id=user.id, scope="mine", **filters)
            assert [a.id for a in page.items] == [asset.id]
        assert not listing.list_assets(session, viewer_id=user.id, scope="mine", tag="moody").items


def test_a_generation_error_refunds_and_says_why(engine, stack):
    runtime, _vast, comfy = stack
    comfy.state.config.fail_at_step = 2
    user = make_user(engine)
    _fund(engine, user)
    job = _submit(runtime, user)
    failed = _drive(runtime, job.id)
    assert failed.status is JobStatus.FAILED
    assert "CUDA out of memory" in failed.error and "refunded" in failed.error
    with read_scope(engine) as session:
        assert ledger.balance(session, user.id) == 500


def test_a_refused_prompt_costs_nothing_and_is_audited(engine, stack):
    runtime, vast, _comfy = stack
    user = make_user(engine)
    _fund(engine, user)
    with pytest.raises(PolicyRefusal):
        _submit(runtime, user, prompt="a 16 year old in lingerie")
    with read_scope(engine) as session:
        assert session.exec(select(GenerationJob)).all() == []
        assert ledger.balance(session, user.id) == 500
        refusals = session.exec(
            select(AuditEntry).where(AuditEntry.action == "policy.refused")
        ).all()
    assert len(refusals) == 1
    runtime.tick_pool()
    assert vast.alive() == []  # no GPU woke for it


def test_insufficient_credits_are_refused_before_queueing(engine, stack):
    runtime, _vast, _comfy = stack
    user = make_user(engine)
    with pytest.raises(InsufficientCredits):
        _submit(runtime, user, preset="ultra", batch_size=8)
    with read_scope(engine) as session:
        assert session.exec(select(GenerationJob)).all() == []


def test_cancel_while_queued_refunds(engine, stack):
    runtime, _vast, _comfy = stack
    user = make_user(engine)
    _fund(engine, user)
    job = _submit(runtime, user)
    assert cancel(engine, job_id=job.id, user_id=user.id, clock=runtime.clock) is Cancel.CANCELLED
    with read_scope(engine) as session:
        assert ledger.balance(session, user.id) == 500
        kinds = [e.kind for e in ledger.history(session, user_id=user.id, limit=10)]
    assert CreditKind.HOLD in kinds


def test_a_restarted_scheduler_requeues_what_its_predecessor_was_running(engine, stack):
    runtime, _vast, _comfy = stack
    user = make_user(engine)
    _fund(engine, user)
    job = _submit(runtime, user)
    with session_scope(engine) as session:
        row = session.get(GenerationJob, job.id)
        row.status = JobStatus.LEASED
        session.add(row)
    assert runtime.recover_orphaned_jobs() == 1
    with read_scope(engine) as session:
        assert session.get(GenerationJob, job.id).status is JobStatus.QUEUED


def test_daily_maintenance_backs_up_snapshots_the_pool_and_applies_retention(engine, stack):
    import json

    runtime, _vast, _comfy = stack
    runtime.daily_maintenance()  # not the leader yet: does nothing
    assert not runtime.settings.backup_dir.exists()
    runtime.tick_pool()
    runtime.daily_maintenance()
    files = sorted(p.name for p in runtime.settings.backup_dir.iterdir())
    assert any(name.startswith("pool-") for name in files)
    snapshot = json.loads(next(runtime.settings.backup_dir.glob("pool-*.json")).read_text())
    assert snapshot["config"]["name"] == "default"
    assert any(name.endswith((".sqlite3", ".pgdump")) for name in files)
    metrics = runtime.metrics.registry
    assert metrics.get_sample_value("aikings_queue_depth") == 0
    assert metrics.get_sample_value("aikings_reconcile_ticks_total") == 1


def test_daily_maintenance_checks_the_last_days_against_vasts_bill(engine, stack):
    runtime, vast, _comfy = stack
    leaked = vast.seed("aik-default-404-beef")  # billed under our prefix, no row of ours
    vast.state.instances[leaked].created_at -= 3 * 86_400
    runtime.tick_pool()  # leader now; the orphan is destroyed, its past days stay billed
    runtime.daily_maintenance()
    with read_scope(engine) as session:
        checks = session.exec(select(BillCheck)).all()
    yesterday = runtime.clock.now().date() - timedelta(days=1)
    assert {(c.day, c.provider_id, c.instance_id) for c in checks} >= {
        (yesterday, str(leaked), None)
    }
    assert all(c.billed_usd > 0 for c in checks)


def test_only_the_leader_refreshes_gallery_trending(engine, stack):
    from core.models import AssetView
    from testing.factories import make_asset

    runtime, _vast, _comfy = stack
    asset = make_asset(engine, make_user(engine))
    with session_scope(engine) as session:
        session.add(AssetView(asset_id=asset.id, at=runtime.clock.now()))
    assert runtime.refresh_trending() == 0  # not the leader yet: does nothing
    runtime.tick_pool()
    assert runtime.refresh_trending() == 1
    with read_scope(engine) as session:
        assert session.get(Asset, asset.id).trending_score > 0
    assert runtime.refresh_trending() == 0  # nothing changed since


def test_history_filters_by_status_and_kind(engine):
    from core.models import MediaKind
    from core.studio import history
    from testing.factories import make_job

    user = make_user(engine)
    done = make_job(engine, user, status=JobStatus.SUCCEEDED)
    make_job(engine, user, status=JobStatus.FAILED, kind=MediaKind.VIDEO)
    with read_scope(engine) as session:
        assert [
            j.id for j in history.recent_jobs(session, user_id=user.id, status=JobStatus.SUCCEEDED)
        ] == [done.id]
        assert len(history.recent_jobs(session, user_id=user.id, kind=MediaKind.VIDEO)) == 1
        assert history.job_assets(session, job_id=done.id, user_id=user.id + 1) == []


@pytest.mark.parametrize("comfy_config", [ComfySimConfig(step_delay_s=0.15, preview_method="auto")])
def test_the_job_row_carries_live_previews_while_running_and_drops_them_after(engine, stack):
    runtime, _vast, _comfy = stack
    user = make_user(engine)
    _fund(engine, user)
    job = _submit(runtime, user)
    previews = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        runtime.tick_pool()
        runtime.dispatch()
        with read_scope(runtime.engine) as session:
            row = session.get(GenerationJob, job.id)
        if row.status is JobStatus.RUNNING and row.preview:
            previews.append((row.preview_mime, row.preview[:3]))
        if row.status is JobStatus.SUCCEEDED:
            break
        time.sleep(0.1)
    assert row.status is JobStatus.SUCCEEDED
    assert previews and previews[0] == ("image/jpeg", b"\xff\xd8\xff")  # a JPEG frame
    assert row.preview is None and row.preview_mime is None


def test_an_explicit_muse_job_is_guided_by_its_look_book_but_not_by_an_outside_upload(
    engine, stack
):
    runtime, _vast, _comfy = stack
    user = make_user(engine)
    _fund(engine, user, credits=2000)
    first = _drive(runtime, _submit(runtime, user, seed=1).id)
    assert first.status is JobStatus.SUCCEEDED, first.error
    now = SystemClock().now()
    with session_scope(engine) as session:
        (picture,) = session.exec(select(Asset).where(Asset.job_id == first.id)).all()
        profile = validate_profile({"basic": {"name": "Ava", "age": 30}, "ai": {"nsfw": True}})
        muse = muses.create_muse(session, owner_id=user.id, profile=profile, tags=(), now=now)
        lookbook.pin_picture(
            session, owner_id=user.id, muse_id=muse.id, asset_id=picture.id, now=now
        )
    form = StudioRequest(prompt="on a balcony", preset="low", muse_id=muse.id, nsfw=True)
    with read_scope(engine) as session:
        request = compose(session, form, user_id=user.id, use_muse_references=True)
    assert request.reference_images == (picture.sha256,)
    guided = _drive(runtime, _submit(runtime, user, **vars(request)).id)
    assert guided.status is JobStatus.SUCCEEDED, guided.error
    with read_scope(engine) as session:
        (result,) = session.exec(select(Asset).where(Asset.job_id == guided.id)).all()
    graph = json.loads(
        store.read_png_metadata(store.read(runtime.settings.media_root, result.sha256))["prompt"]
    )
    assert {"IPAdapterAdvanced", "LoadImage"} <= {node["class_type"] for node in graph.values()}
    with session_scope(engine) as session:
        outside = muses.attach_reference(
            session,
            owner_id=user.id,
            muse_id=None,
            data=png_bytes("navy", 32),
            consent_given=True,
            media_root=runtime.settings.media_root,
            max_bytes=1_000_000,
            max_pixels=1_000_000,
            now=now,
        )
    with pytest.raises(PolicyRefusal, match="cannot be used in explicit mode"):
        _submit(runtime, user, **(vars(request) | {"reference_images": (outside.sha256,)}))


# ---- closing a job never fails silently (issue 13, item 2) ---------------------------------
# A close that keeps failing is logged and written again at the next tick; one that cannot be
# written at all, or whose worker died, is recovered by the orphan sweep that runs every tick.


def wait_until(predicate, timeout_s=60):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def closes_of(engine, job_id):
    with read_scope(engine) as session:
        entries = session.exec(select(CreditEntry).where(CreditEntry.job_id == job_id)).all()
        open_leases = session.exec(
            select(Lease).where(Lease.job_id == job_id, Lease.released_at.is_(None))
        ).all()
        job = session.get(GenerationJob, job_id)
    kinds = sorted(e.kind.value for e in entries)
    return job, kinds, open_leases


def test_a_close_that_fails_is_logged_and_written_at_the_next_tick(engine, stack, caplog):
    runtime, _vast, _comfy = stack
    user = make_user(engine)
    _fund(engine, user)
    job = _submit(runtime, user)
    with failing_statements(runtime.engine, r"^UPDATE lease") as fault:
        _drive(runtime, job.id, until=(JobStatus.RUNNING,))
        wait_until(lambda: any(r.message == "job.close_failed" for r in caplog.records))
        wait_until(lambda: job.id in runtime.endings_owed())  # its worker handed it back
        fault.on = False
        runtime.tick_pool()
    done, kinds, open_leases = closes_of(engine, job.id)
    assert done.status is JobStatus.SUCCEEDED
    assert kinds == ["charge", "hold", "release"]
    assert open_leases == []


def test_a_close_that_cannot_be_written_is_recovered_within_two_ticks(engine, stack, caplog):
    runtime, _vast, _comfy = stack
    user = make_user(engine)
    _fund(engine, user)
    job = _submit(runtime, user)
    with failing_statements(runtime.engine, r"^INSERT INTO asset"):
        _drive(runtime, job.id, until=(JobStatus.RUNNING,))
        wait_until(lambda: any(r.message == "job.close_failed" for r in caplog.records))
        wait_until(lambda: job.id in runtime.endings_owed())
        runtime.tick_pool()
        runtime.tick_pool()
        recovered, kinds, open_leases = closes_of(engine, job.id)
    assert recovered.status is JobStatus.QUEUED and open_leases == []
    assert kinds == ["hold"]
    done = _drive(runtime, job.id)
    _, kinds, _ = closes_of(engine, job.id)
    assert done.status is JobStatus.SUCCEEDED and kinds == ["charge", "hold", "release"]


def test_a_job_whose_worker_died_is_recovered_at_the_next_tick_of_a_sitting_leader(engine, stack):
    runtime, _vast, _comfy = stack
    runtime.tick_pool()  # leading already: recovery is not only for a new leader
    user = make_user(engine)
    _fund(engine, user)
    job = _submit(runtime, user)
    make_instance(engine, state="ready", comfy_url="http://gpu.invalid")
    with session_scope(engine) as session:
        assert queue.claim_next(session, pool="default", now=runtime.clock.now()) is not None
    runtime.tick_pool()
    recovered, kinds, open_leases = closes_of(engine, job.id)
    assert recovered.status is JobStatus.QUEUED and open_leases == [] and kinds == ["hold"]
    with read_scope(engine) as session:
        assert ledger.balance(session, user.id) == 500 - job.estimated_credits
        assert all(e.kind is not CreditKind.REFUND for e in session.exec(select(CreditEntry)))


def _drive_until(runtime, job_id, reached, timeout_s=60):
    """Tick and dispatch until `reached(job)`; the job row then."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        runtime.tick_pool()
        runtime.dispatch()
        with read_scope(runtime.engine) as session:
            job = session.get(GenerationJob, job_id)
        if reached(job):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} never got there: {job.status}, step {job.step}")


@pytest.mark.parametrize("comfy_config", [ComfySimConfig(step_delay_s=0.4)])
def test_stopping_a_running_job_interrupts_it_charges_the_gpu_time_and_frees_the_gpu(engine, stack):
    runtime, _vast, comfy = stack
    user = make_user(engine)
    _fund(engine, user)
    job = _submit(runtime, user, preset="high")
    running = _drive_until(runtime, job.id, lambda j: j.status is JobStatus.RUNNING and j.step)
    assert running.step < running.total_steps

    assert cancel(engine, job_id=job.id, user_id=user.id, clock=runtime.clock) is Cancel.STOPPING
    assert cancel(engine, job_id=job.id, user_id=user.id, clock=runtime.clock) is Cancel.STOPPING
    stopped = _drive_until(runtime, job.id, lambda j: j.status in TERMINAL)

    assert stopped.status is JobStatus.CANCELLED, stopped.error
    assert stopped.error.startswith("Stopped by you")
    assert 0 <= stopped.charged_credits <= stopped.estimated_credits
    assert stopped.step < stopped.total_steps  # it did not run to the end
    _, kinds, open_leases = closes_of(engine, job.id)
    assert open_leases == []
    assert kinds == sorted(["hold", "release", "charge"])  # closed once
    with read_scope(engine) as session:
        assert ledger.balance(session, user.id) == 500 - stopped.charged_credits
        assert session.exec(select(Asset).where(Asset.job_id == job.id)).all() == []
        lease = session.exec(select(Lease).where(Lease.job_id == job.id)).one()
    assert lease.outcome == "cancelled"
    assert cancel(engine, job_id=job.id, user_id=user.id, clock=runtime.clock) is Cancel.TOO_LATE
    # the GPU went back to the pool: the next job runs on the same instance
    after = _submit(runtime, user, preset="low")
    done = _drive(runtime, after.id)
    assert done.status is JobStatus.SUCCEEDED and done.instance_id == stopped.instance_id


@pytest.mark.parametrize("comfy_config", [ComfySimConfig(hang=True)])
def test_a_job_stuck_in_a_silent_node_is_still_stopped(engine, stack):
    runtime, _vast, _comfy = stack
    user = make_user(engine)
    _fund(engine, user)
    job = _submit(runtime, user)
    _drive_until(runtime, job.id, lambda j: j.status is JobStatus.RUNNING)
    assert cancel(engine, job_id=job.id, user_id=user.id, clock=runtime.clock) is Cancel.STOPPING
    stopped = _drive_until(runtime, job.id, lambda j: j.status in TERMINAL)
    assert stopped.status is JobStatus.CANCELLED and stopped.error.startswith("Stopped by you")


def test_a_job_stopped_before_its_worker_began_is_refunded_in_full(engine, stack):
    runtime, _vast, _comfy = stack
    runtime.tick_pool()
    user = make_user(engine)
    _fund(engine, user)
    _submit(runtime, user)
    make_instance(engine, state="ready", comfy_url="http://gpu.invalid")
    with session_scope(engine) as session:
        job_id, claim = queue.claim_next(session, pool="default", now=runtime.clock.now())
    assert cancel(engine, job_id=job_id, user_id=user.id, clock=runtime.clock) is Cancel.STOPPING
    assert run_job(runtime.run_context, job_id=job_id, claim=claim) is None  # no GPU called
    stopped, kinds, open_leases = closes_of(engine, job_id)
    assert stopped.status is JobStatus.CANCELLED and open_leases == []
    assert kinds == ["hold", "refund"] and stopped.charged_credits is None
    with read_scope(engine) as session:
        assert ledger.balance(session, user.id) == 500


def test_a_stopped_job_whose_worker_died_ends_cancelled_not_requeued(engine, stack):
    runtime, _vast, _comfy = stack
    runtime.tick_pool()
    user = make_user(engine)
    _fund(engine, user)
    job = _submit(runtime, user)
    make_instance(engine, state="ready", comfy_url="http://gpu.invalid")
    with session_scope(engine) as session:
        assert queue.claim_next(session, pool="default", now=runtime.clock.now()) is not None
    assert cancel(engine, job_id=job.id, user_id=user.id, clock=runtime.clock) is Cancel.STOPPING
    runtime.tick_pool()  # recovery: the worker is gone
    recovered, kinds, open_leases = closes_of(engine, job.id)
    assert recovered.status is JobStatus.CANCELLED and open_leases == []
    assert kinds == ["hold", "refund"]
