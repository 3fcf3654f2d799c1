"""More jobs than GPUs: FIFO for each user, round-robin between users."""

from functools import partial

from core.comfy.presets import Presets
from core.db import read_scope, session_scope
from core.models import GenerationJob, InstanceState, JobStatus, MediaKind
from core.studio.needs import job_files
from core.studio.queue import claim_next, fair_order, queue_position
from testing.factories import make_instance, make_job, make_pool, make_user


def _submit(engine, clock, user, count, **fields):
    made = []
    for _ in range(count):
        clock.advance(1)
        made.append(make_job(engine, user, created_at=clock.now(), **fields))
    return [job.id for job in made]


def _order(engine):
    with read_scope(engine) as session:
        return fair_order(session)


def test_a_burst_from_one_user_does_not_hold_the_others_back(engine, fake_clock):
    alice, bob, carol = (make_user(engine) for _ in range(3))
    a1, a2, a3 = _submit(engine, fake_clock, alice, 3)
    (b1,) = _submit(engine, fake_clock, bob, 1)
    (c1,) = _submit(engine, fake_clock, carol, 1)
    assert _order(engine) == [a1, b1, c1, a2, a3]


def test_each_users_own_jobs_stay_in_submission_order(engine, fake_clock):
    alice, bob = make_user(engine), make_user(engine)
    a_jobs = _submit(engine, fake_clock, alice, 4)
    b_jobs = _submit(engine, fake_clock, bob, 2)
    order = _order(engine)
    assert [j for j in order if j in a_jobs] == a_jobs
    assert [j for j in order if j in b_jobs] == b_jobs


def test_a_user_already_on_a_gpu_waits_behind_users_who_are_not(engine, fake_clock):
    alice, bob = make_user(engine), make_user(engine)
    _submit(engine, fake_clock, alice, 1, status=JobStatus.RUNNING)
    a_queued = _submit(engine, fake_clock, alice, 2)
    (b1,) = _submit(engine, fake_clock, bob, 1)
    assert _order(engine) == [b1, *a_queued]


def test_two_free_gpus_go_to_two_different_users(engine, fake_clock):
    make_pool(engine)
    alice, bob = make_user(engine), make_user(engine)
    for i in range(2):
        make_instance(engine, state=InstanceState.READY, comfy_url=f"http://127.0.0.1:{9100 + i}")
    a1, _a2, _a3 = _submit(engine, fake_clock, alice, 3)
    (b1,) = _submit(engine, fake_clock, bob, 1)
    claimed = []
    for _ in range(2):
        with session_scope(engine) as session:
            job_id, _claim = claim_next(session, pool="default", now=fake_clock.now())
        claimed.append(job_id)
    assert claimed == [a1, b1]


def test_queue_position_follows_the_fair_order(engine, fake_clock):
    alice, bob = make_user(engine), make_user(engine)
    _a1, a2 = _submit(engine, fake_clock, alice, 2)
    (b1,) = _submit(engine, fake_clock, bob, 1)
    with read_scope(engine) as session:
        assert queue_position(session, b1) == 2
        assert queue_position(session, a2) == 3


REALVIS = "checkpoints/realvis_xl_4.0.safetensors"
SDXL = "checkpoints/sdxl_base_1.0.safetensors"


def test_a_job_needing_a_model_still_downloading_waits_and_the_next_one_runs(engine, fake_clock):
    presets = Presets.load()
    needs = partial(job_files, presets=presets)
    make_pool(engine)
    alice, bob = make_user(engine), make_user(engine)
    still_coming = sorted(set(presets.downloads()) - {SDXL})
    partly = make_instance(
        engine,
        state=InstanceState.READY,
        comfy_url="http://127.0.0.1:9100",
        models_pending=still_coming,
    )
    (waits,) = _submit(engine, fake_clock, alice, 1, model="realvis_xl_4.0.safetensors")
    (runs,) = _submit(engine, fake_clock, bob, 1, model="sdxl_base_1.0.safetensors")
    with session_scope(engine) as session:
        job_id, claim = claim_next(session, pool="default", now=fake_clock.now(), needs=needs)
    assert (job_id, claim.instance_id) == (runs, partly.id)
    with session_scope(engine) as session:
        assert claim_next(session, pool="default", now=fake_clock.now(), needs=needs) is None
    whole = make_instance(engine, state=InstanceState.READY, comfy_url="http://127.0.0.1:9101")
    with session_scope(engine) as session:
        job_id, claim = claim_next(session, pool="default", now=fake_clock.now(), needs=needs)
    assert (job_id, claim.instance_id) == (waits, whole.id)
    with read_scope(engine) as session:
        assert session.get(GenerationJob, waits).status is JobStatus.LEASED


def test_a_job_needs_the_files_its_own_graph_loads(engine):
    presets = Presets.load()
    user = make_user(engine)
    image = make_job(engine, user, model="sdxl_base_1.0.safetensors")
    video = make_job(engine, user, kind=MediaKind.VIDEO, model="wan2.1_t2v_1.3B_fp16.safetensors")
    styled = make_job(
        engine,
        user,
        model="realvis_xl_4.0.safetensors",
        request={"reference_images": ["ab" * 32]},
    )
    assert job_files(image, presets) == {SDXL}
    assert job_files(video, presets) == {
        "diffusion_models/wan2.1_t2v_1.3B_fp16.safetensors",
        "text_encoders/umt5_xxl_fp8_e4m3fn_scaled.safetensors",
        "vae/wan_2.1_vae.safetensors",
    }
    assert job_files(styled, presets) == {
        REALVIS,
        "ipadapter/ip-adapter-plus_sdxl_vit-h.safetensors",
        "clip_vision/CLIP-ViT-H-14-laion2B-s32B-b79K.safetensors",
    }
    unknown = make_job(engine, user, model="not-offered.safetensors")
    assert job_files(unknown, presets) == set(presets.downloads())
