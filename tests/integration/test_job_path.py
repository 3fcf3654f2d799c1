"""A generation end to end: submit -> pool wakes -> dispatch -> ComfyUI -> asset -> settle.

Everything real but the clock's speed: the scheduler's Runtime, the Vast simulator and the
ComfyUI simulator over HTTP and WebSocket, the database (SQLite and PostgreSQL).
"""

from __future__ import annotations

import io
import json
import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from PIL import Image
from sqlmodel import col, select

from core.accounts import ledger
from core.clock import SystemClock
from core.comfy.presets import Presets
from core.config import load_settings
from core.db import read_scope, session_scope
from core.errors import InsufficientCredits, PolicyRefusal
from core.gallery import library, listing, store
from core.gallery.media import open_media_store
from core.models import (
    Asset,
    AuditEntry,
    BillCheck,
    CreditEntry,
    CreditKind,
    GenerationJob,
    GpuInstance,
    JobStatus,
    Lease,
    PoolConfig,
    Screening,
)
from core.muses import lookbook
from core.muses import service as muses
from core.muses.schema import validate_profile
from core.studio import queue
from core.studio.compose import StudioRequest, compose
from core.studio.outcomes import MAX_ATTEMPTS, TERMINAL, Cancel, cancel, recover_orphaned_jobs
from core.studio.pricing import pricing_from
from core.studio.runner import start
from core.studio.submit import submit
from scheduler.tasks import Runtime
from sim.comfy import ComfySimConfig
from testing.db_faults import failing_statements
from testing.factories import (
    RENTABLE_FILTERS,
    grant_credits,
    make_instance,
    make_user,
    png_bytes,
)
from testing.sims import comfy_behind_vast
from testing.statements import LOCKS_A_USER, flat

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
    grant_credits(engine, user, credits, now=SystemClock().now())


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


def _funded_job(engine, runtime, **fields):
    """A new user with 500 credits and one submitted job: (user, job)."""
    user = make_user(engine)
    _fund(engine, user)
    return user, _submit(runtime, user, **fields)


def _claimed_by_an_absent_worker(engine, runtime):
    """A funded job claimed on a ready instance whose worker never runs it: user, job id, claim."""
    runtime.tick_pool()
    user, _job = _funded_job(engine, runtime)
    make_instance(engine, state="ready", comfy_url="http://gpu.invalid")
    with session_scope(engine) as session:
        job_id, claim = queue.claim_next(session, pool="default", now=runtime.clock.now())
    return user, job_id, claim


def _drive(runtime, job_id, *, until=(JobStatus.SUCCEEDED, JobStatus.FAILED), timeout_s=60):
    """Tick and dispatch until the job's status is one of `until`, then until the checks of
    its outputs have run (`core.gallery.verdicts`, after the job) and its thumbnails are
    made; the job row then."""
    job = _drive_until(runtime, job_id, lambda job: job.status in until, timeout_s)
    _await_checks(runtime, job_id, timeout_s)
    return job


def _await_checks(runtime, job_id: int, timeout_s: float) -> None:
    """Wait until job `job_id`'s outputs are checked and their thumbnails made. The job's row
    says it ended a moment before its checks are handed to the after-job thread: wait on its
    outputs' rows first, then on that thread (the thumbnails)."""
    deadline = time.monotonic() + timeout_s
    while _waiting_outputs(runtime.engine, job_id):
        assert time.monotonic() < deadline, f"job {job_id}'s outputs were never checked"
        time.sleep(0.02)
    assert runtime.run_context.after_job.wait_idle(timeout_s)


def _waiting_outputs(engine, job_id: int) -> list[Asset]:
    """The outputs of job `job_id` whose checks have not run yet."""
    with read_scope(engine) as session:
        query = select(Asset).where(Asset.job_id == job_id, Asset.screening == Screening.WAITING)
        return list(session.exec(query).all())


def test_jobs_on_one_instance_reuse_one_comfy_client(engine, stack):
    runtime, _vast, _comfy = stack
    user = make_user(engine)
    _fund(engine, user)
    jobs = [_submit(runtime, user, seed=seed) for seed in (1, 2, 3)]
    ran_on = set()
    for job in jobs:
        done = _drive(runtime, job.id)
        assert done.status is JobStatus.SUCCEEDED, done.error
        ran_on.add(done.instance_id)
    with read_scope(engine) as session:
        instances = session.exec(select(GpuInstance).where(col(GpuInstance.id).in_(ran_on)))
        credentials = {(i.comfy_url, i.comfy_token_nonce) for i in instances.all()}
    # One client per ComfyUI server and token (the simulator serves every instance at one
    # address, each with its own token: at most 2 instances), not one per job.
    assert len(runtime.run_context.comfy._clients) == len(credentials) < len(jobs)


def test_a_job_runs_lands_in_the_gallery_and_is_charged_once(engine, stack):
    runtime, vast, _comfy = stack
    user, job = _funded_job(engine, runtime, batch_size=2, seed=5)
    with read_scope(engine) as session:
        held = ledger.balance(session, user.id)
    assert held == 500 - job.estimated_credits
    done = _drive(runtime, job.id)
    assert done.status is JobStatus.SUCCEEDED, done.error
    assert 1 <= done.charged_credits <= done.estimated_credits
    with read_scope(engine) as session:
        assets = session.exec(select(Asset).where(Asset.job_id == job.id).order_by(Asset.id)).all()
        balance = ledger.balance(session, user.id)
    assert len(assets) == 2
    assert all(
        store.read(runtime.settings.media_root, a.sha256)[:8] == b"\x89PNG\r\n\x1a\n"
        for a in assets
    )
    assert balance == 500 - done.charged_credits
    runtime.run_context.after_job.shutdown(wait=True)  # thumbnails come after the job is done
    with read_scope(engine) as session:
        thumbs = [session.get(Asset, a.id).thumb_sha256 for a in assets]
    assert all(
        Image.open(io.BytesIO(store.read(runtime.settings.media_root, t))).format == "WEBP"
        for t in thumbs
    )
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


def test_a_job_with_media_store_s3_stores_its_output_in_the_bucket(s3_env, engine, stack):
    runtime, _vast, _comfy = stack
    assert runtime.settings.media_store.value == "s3"
    user = make_user(engine)
    _fund(engine, user)
    done = _drive(runtime, _submit(runtime, user, seed=3).id)
    assert done.status is JobStatus.SUCCEEDED, done.error
    runtime.run_context.after_job.shutdown(wait=True)  # thumbnails come after the job is done
    with read_scope(engine) as session:
        asset = session.exec(select(Asset).where(Asset.job_id == done.id)).one()
    bucket = open_media_store(runtime.settings)
    assert bucket.get(asset.sha256)[:8] == b"\x89PNG\r\n\x1a\n"
    assert bucket.has(asset.thumb_sha256)
    assert not runtime.settings.media_root.exists()  # nothing on this host's disk


def test_a_generated_picture_carries_the_chosen_category_and_tags_and_each_filter_finds_it(
    engine, stack
):
    runtime, _vast, _comfy = stack
    user, job = _funded_job(
        engine, runtime, category="Cinematic", tags=("Golden hour", "neon", "neon")
    )
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
    user, job = _funded_job(engine, runtime)
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
    user, job = _funded_job(engine, runtime)
    assert cancel(engine, job_id=job.id, user_id=user.id, clock=runtime.clock) is Cancel.CANCELLED
    with read_scope(engine) as session:
        assert ledger.balance(session, user.id) == 500
        kinds = [e.kind for e in ledger.history(session, user_id=user.id, limit=10)]
    assert CreditKind.HOLD in kinds


def test_a_restarted_scheduler_requeues_what_its_predecessor_was_running(engine, stack):
    runtime, _vast, _comfy = stack
    user, job = _funded_job(engine, runtime)
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
    user, job = _funded_job(engine, runtime)
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
        profile = validate_profile(
            {
                "basic": {"name": "Ava", "age": 30, "occupation": "violinist"},
                "body": {"details": "long elegant limbs and a dancer's posture " * 6},
                "fashion": {"outfit": "a red bikini", "footwear": "sandals"},
                "ai": {"nsfw": True, "reference_preset": "face", "reference_weight": 0.7},
            }
        )
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
    assert guided.request["written"]["prompt"] == "on a balcony"
    with read_scope(engine) as session:
        (result,) = session.exec(select(Asset).where(Asset.job_id == guided.id)).all()
    graph = json.loads(
        store.read_png_metadata(store.read(runtime.settings.media_root, result.sha256))["prompt"]
    )
    ran = [node["class_type"] for node in graph.values()]
    assert {"IPAdapterAdvanced", "LoadImage", "ConditioningConcat"} <= set(ran)
    (loader,) = [n["inputs"] for n in graph.values() if n["class_type"] == "IPAdapterModelLoader"]
    assert loader["ipadapter_file"] == PRESETS.reference_preset("face").model
    encoded = " ".join(
        n["inputs"]["text"] for n in graph.values() if n["class_type"] == "CLIPTextEncode"
    )
    for trait in ("a red bikini", "sandals", "violinist", "on a balcony"):
        assert trait in encoded  # past the first 75 tokens, still sent
    with session_scope(engine) as session:
        outside = muses.attach_reference(
            session,
            owner_id=user.id,
            muse_id=None,
            data=png_bytes("navy", 32),
            consent_given=True,
            media=runtime.settings.media_root,
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
    user, job = _funded_job(engine, runtime)
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
    user, job = _funded_job(engine, runtime)
    with failing_statements(runtime.engine, r"^INSERT INTO asset"):
        _drive(runtime, job.id, until=(JobStatus.RUNNING,))
        wait_until(lambda: any(r.message == "job.close_failed" for r in caplog.records))
        wait_until(lambda: job.id in runtime.endings_owed())
        [orphaned] = closes_of(engine, job.id)[2]
        runtime.tick_pool()
        runtime.tick_pool()
        recovered, kinds, _ = closes_of(engine, job.id)
    # Requeued (and, the tick being work-conserving, possibly claimed again at once): the
    # orphaned lease is released, the hold kept, nothing charged or refunded.
    assert _released(engine, orphaned.id) == "recovered"
    assert recovered.requeue_note is not None  # requeued, the user told why
    assert recovered.status is not JobStatus.FAILED and kinds == ["hold"]
    done = _drive(runtime, job.id)
    _, kinds, _ = closes_of(engine, job.id)
    assert done.status is JobStatus.SUCCEEDED and kinds == ["charge", "hold", "release"]


def test_a_job_whose_worker_died_is_recovered_at_the_next_tick_of_a_sitting_leader(engine, stack):
    runtime, _vast, _comfy = stack
    runtime.tick_pool()  # leading already: recovery is not only for a new leader
    user, job = _funded_job(engine, runtime)
    make_instance(engine, state="ready", comfy_url="http://gpu.invalid")
    with session_scope(engine) as session:
        assert queue.claim_next(session, pool="default", now=runtime.clock.now()) is not None
    [orphaned] = closes_of(engine, job.id)[2]
    runtime.tick_pool()
    recovered, kinds, _ = closes_of(engine, job.id)
    # Requeued within the tick (which may claim it again at once): lease released, hold kept.
    assert _released(engine, orphaned.id) == "recovered"
    assert recovered.requeue_note is not None  # requeued, the user told why
    assert recovered.status is not JobStatus.FAILED and kinds == ["hold"]
    with read_scope(engine) as session:
        assert ledger.balance(session, user.id) == 500 - job.estimated_credits
        assert all(e.kind is not CreditKind.REFUND for e in session.exec(select(CreditEntry)))


def _released(engine, lease_id):
    """How the lease ended (None: it is still open)."""
    with read_scope(engine) as session:
        lease = session.get(Lease, lease_id)
    return lease.outcome if lease.released_at is not None else None


def _warm_instance(runtime, user):
    """A pool kept one instance warm, and one job run to the end on it: it is ready, idle."""
    with session_scope(runtime.engine) as session:
        config = session.get(PoolConfig, runtime.settings.pool_name)
        config.desired_size = 1
        session.add(config)
    done = _drive(runtime, _submit(runtime, user, seed=100).id)
    assert done.status is JobStatus.SUCCEEDED, done.error


def _wait_settled(engine, job_ids, timeout_s=30):
    """Watch the rows only (no tick, no dispatch call) until every job has ended."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with read_scope(engine) as session:
            jobs = [session.get(GenerationJob, job_id) for job_id in job_ids]
        if all(job.status in (JobStatus.SUCCEEDED, JobStatus.FAILED) for job in jobs):
            return jobs
        time.sleep(0.05)
    with read_scope(engine) as session:
        states = [(i.state, i.comfy_url) for i in session.exec(select(GpuInstance)).all()]
    raise AssertionError(f"not settled: {[(j.id, j.status) for j in jobs]} {states}")


def test_a_submit_wakes_the_dispatcher_with_no_tick_or_dispatch_call(engine, stack):
    runtime, _vast, _comfy = stack
    user = make_user(engine)
    _fund(engine, user)
    _warm_instance(runtime, user)
    stop = threading.Event()
    loop = threading.Thread(target=runtime.dispatch_forever, args=(stop,), daemon=True)
    loop.start()
    try:
        job = _submit(runtime, user, seed=7)
        [done] = _wait_settled(engine, [job.id])
    finally:
        stop.set()
        loop.join(timeout=5)
    assert done.status is JobStatus.SUCCEEDED, done.error


def test_a_finished_job_claims_the_next_queued_one_on_its_instance(engine, stack):
    runtime, _vast, _comfy = stack
    user = make_user(engine)
    _fund(engine, user)
    _warm_instance(runtime, user)
    jobs = [_submit(runtime, user, seed=seed) for seed in (1, 2, 3)]
    # One warm instance: at most one claim here (the warm job's worker, finishing, may have
    # claimed the first already); the rest follow with no tick and no dispatch call.
    assert runtime.dispatch() <= 1
    done = _wait_settled(engine, [job.id for job in jobs])
    assert [job.status for job in done] == [JobStatus.SUCCEEDED] * 3
    assert len({job.instance_id for job in done}) == 1


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
    user, job = _funded_job(engine, runtime, preset="high")
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
    user, job = _funded_job(engine, runtime)
    _drive_until(runtime, job.id, lambda j: j.status is JobStatus.RUNNING)
    assert cancel(engine, job_id=job.id, user_id=user.id, clock=runtime.clock) is Cancel.STOPPING
    stopped = _drive_until(runtime, job.id, lambda j: j.status in TERMINAL)
    assert stopped.status is JobStatus.CANCELLED and stopped.error.startswith("Stopped by you")


def test_a_job_claimed_and_started_whose_dispatcher_died_is_requeued_then_refunded_once(
    engine, stack
):
    """The dispatcher claims a job and marks it running in one unit of work: a crash after
    that commit leaves a running job with an open lease, which recovery requeues (the hold
    kept) until its attempts are spent, then fails and refunds, once."""
    runtime, _vast, _comfy = stack
    runtime.tick_pool()
    user, job = _funded_job(engine, runtime)
    make_instance(engine, state="ready", comfy_url="http://gpu.invalid")
    for attempt in range(1, MAX_ATTEMPTS + 1):
        with session_scope(engine) as session:  # what Dispatcher._claim_all commits
            job_id, _claim = queue.claim_next(session, pool="default", now=runtime.clock.now())
            assert start(session, job_id=job_id, now=runtime.clock.now()).job.attempts == attempt
        running, kinds, open_leases = closes_of(engine, job.id)
        assert running.status is JobStatus.RUNNING and len(open_leases) == 1
        assert kinds == ["hold"]
        assert recover_orphaned_jobs(engine, is_running=lambda _id: False, clock=runtime.clock)
    failed, kinds, open_leases = closes_of(engine, job.id)
    assert failed.status is JobStatus.FAILED and open_leases == []
    assert kinds == ["hold", "refund"]
    assert not recover_orphaned_jobs(engine, is_running=lambda _id: False, clock=runtime.clock)
    with read_scope(engine) as session:
        assert ledger.balance(session, user.id) == 500


def test_a_stopped_job_whose_worker_died_ends_cancelled_not_requeued(engine, stack):
    runtime, _vast, _comfy = stack
    user, job_id, _claim = _claimed_by_an_absent_worker(engine, runtime)
    assert cancel(engine, job_id=job_id, user_id=user.id, clock=runtime.clock) is Cancel.STOPPING
    runtime.tick_pool()  # recovery: the worker is gone
    recovered, kinds, open_leases = closes_of(engine, job_id)
    assert recovered.status is JobStatus.CANCELLED and open_leases == []
    assert kinds == ["hold", "refund"]


# Steps slow enough that the run outlasts the progress interval: a shorter one writes none.
@pytest.mark.parametrize("comfy_config", [ComfySimConfig(step_delay_s=0.08)])
def test_a_progress_write_the_database_refuses_does_not_throw_the_generation_away(
    engine, stack, caplog
):
    # Issue 13: a database blip mid-run failed finished generations as "internal error".
    runtime, _vast, _comfy = stack
    user, job = _funded_job(engine, runtime)
    with failing_statements(runtime.engine, r"^UPDATE generationjob SET .*total_steps") as fault:
        done = _drive(runtime, job.id)
    assert fault.failed >= 1
    assert done.status is JobStatus.SUCCEEDED, done.error
    _, kinds, open_leases = closes_of(engine, job.id)
    assert kinds == ["charge", "hold", "release"] and open_leases == []
    assert any(r.message == "job.progress_write_failed" for r in caplog.records)


def test_a_run_shorter_than_the_progress_interval_writes_no_progress(engine, stack):
    # At zero GPU time every step arrives at once: writing them would only queue for the
    # write lock ahead of other jobs' endings.
    runtime, _vast, _comfy = stack
    user, job = _funded_job(engine, runtime)
    with failing_statements(runtime.engine, r"^UPDATE generationjob SET .*total_steps") as fault:
        done = _drive(runtime, job.id)
    assert done.status is JobStatus.SUCCEEDED, done.error
    assert fault.failed == 0


def test_a_claim_whose_start_the_database_refuses_leaves_nothing_half_written(engine, stack):
    """Claiming and starting a job are one unit of work: when its write fails, neither the
    lease nor the job's new state is kept; the job waits, queued, for the next claim."""
    runtime, _vast, _comfy = stack
    runtime.tick_pool()
    _user, job = _funded_job(engine, runtime)
    with failing_statements(
        runtime.engine, r"^UPDATE generationjob SET status.*started_at", times=1
    ) as fault:
        with pytest.raises(sa.exc.OperationalError):  # the claim's commit fails
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                runtime.tick_pool()
                runtime.dispatch()
                time.sleep(0.2)
    assert fault.failed == 1
    queued, kinds, open_leases = closes_of(engine, job.id)
    assert queued.status is JobStatus.QUEUED and queued.attempts == 0
    assert queued.instance_id is None and queued.started_at is None
    assert kinds == ["hold"] and open_leases == []
    with read_scope(engine) as session:
        assert session.exec(select(Lease).where(Lease.job_id == job.id)).all() == []
    done = _drive(runtime, job.id)
    _, kinds, _ = closes_of(engine, job.id)
    assert done.status is JobStatus.SUCCEEDED and done.attempts == 1
    assert kinds == ["charge", "hold", "release"]


def test_past_its_claim_a_job_takes_one_transaction_its_ending(engine, stack):
    """The claim marks the job running and reads its instance's token: the job's own
    thread then writes in one unit of work, the one that stores, charges and finishes it."""
    runtime, _vast, _comfy = stack
    _user, job = _funded_job(engine, runtime)
    sent: list[str] = []

    def on_statement(_conn, _cursor, statement, *_args):
        if threading.current_thread().name.startswith("job"):
            sent.append(flat(statement))

    sa.event.listen(runtime.engine, "before_cursor_execute", on_statement)
    try:
        done = _drive(runtime, job.id)
    finally:
        sa.event.remove(runtime.engine, "before_cursor_execute", on_statement)
    assert done.status is JobStatus.SUCCEEDED, done.error
    if engine.dialect.name == "sqlite":  # PostgreSQL's BEGIN is not a statement sent
        assert [s for s in sent if s.startswith("BEGIN")] == ["BEGIN IMMEDIATE"], sent
    assert not any("comfy_token_nonce" in statement for statement in sent), sent
    # The ending's unit of work: the job's lock (its owner first) is its first statement, and
    # the user is locked once; the ledger reads the hold under that lock.
    unit = [statement for statement in sent if not statement.startswith("BEGIN")]
    assert LOCKS_A_USER.match(unit[0]), unit
    locks = [statement for statement in unit if LOCKS_A_USER.match(statement)]
    assert len(locks) == 1, locks
