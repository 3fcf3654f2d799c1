"""Studio submit guards and live progress, on SQLite and PostgreSQL (no GPU needed).

Every refusal happens before any credit hold: the balance is untouched, no job row exists,
and the refusal is in the audit log.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlmodel import col, select

from core.accounts import ledger
from core.comfy.presets import Presets
from core.db import read_scope, session_scope
from core.errors import InsufficientCredits, NotFound, PolicyRefusal, ValidationFailed
from core.models import AuditEntry, GenerationJob, InstanceState, JobStatus
from core.muses import service
from core.muses.schema import validate_profile
from core.pool.outlook import Meets
from core.studio import history, progress
from core.studio.compose import StudioRequest, compose, request_of, scene_of
from core.studio.outcomes import OUTCOMES
from core.studio.pricing import Pricing, estimate, hold_for
from core.studio.submit import submit as submit_job
from testing.factories import (
    attach_outside_reference,
    grant_credits,
    make_instance,
    make_job,
    make_pool,
    make_user,
    make_variation,
)

PRESETS = Presets.load()
PRICING = Pricing(credit_price_usd=Decimal("0.01"), reference_price_per_hour_usd=Decimal("1"))


def fund(engine, user, credits, clock):
    grant_credits(engine, user, credits, now=clock.now())


def submit(engine, user, clock, **fields):
    request = StudioRequest(**({"prompt": "a lighthouse at dusk", "preset": "low"} | fields))
    return submit_job(
        engine,
        user_id=user.id,
        request=request,
        clock=clock,
        presets=PRESETS,
        pricing=PRICING,
        pool="default",
    )


def state(engine, user):
    with read_scope(engine) as session:
        return (
            ledger.balance(session, user.id),
            session.exec(select(GenerationJob)).all(),
            [
                (e.action, e.target, e.details)
                for e in session.exec(select(AuditEntry).order_by(col(AuditEntry.id))).all()
            ],
        )


def muse_for(engine, owner, clock, **ai):
    profile = validate_profile({"basic": {"name": "Ava", "age": 30}, "ai": ai})
    with session_scope(engine) as session:
        return service.create_muse(
            session, owner_id=owner.id, profile=profile, tags=(), now=clock.now()
        )


@pytest.mark.parametrize(
    ("fields", "rule"),
    [
        ({"prompt": "a 16 year old at the beach"}, "minor_age"),
        ({"prompt": "a portrait", "negative_prompt": "l0li"}, "minor_term"),
        ({"prompt": "T.E.E.N in a bikini"}, "minor_youth"),
        ({"prompt": "a quiet\u200b sch\u043e\u043elgirl", "nsfw": True}, "minor_youth"),
        ({"prompt": "a toddler in a sandbox"}, "minor_youth"),  # non-explicit: refused too
        ({"prompt": "a girl born in 2015, on a swing"}, "minor_birth_year"),
    ],
)
def test_refused_prompts_hold_nothing_and_are_audited(engine, fake_clock, fields, rule):
    user = make_user(engine)
    fund(engine, user, 100, fake_clock)
    with pytest.raises(PolicyRefusal, match="under 18"):
        submit(engine, user, fake_clock, **fields)
    balance, rows, entries = state(engine, user)
    assert (balance, rows) == (100, [])
    assert entries[-1] == ("policy.refused", "studio.submit", {"rule": rule})


def test_short_credits_are_refused_with_the_amounts_and_leave_no_job(engine, fake_clock):
    user = make_user(engine)
    fund(engine, user, 1, fake_clock)
    with pytest.raises(InsufficientCredits, match=r"needs \d+ credits and you have 1"):
        submit(engine, user, fake_clock, preset="ultra", batch_size=8)
    assert state(engine, user)[:2] == (1, [])


def test_held_credits_match_the_estimate_shown(engine, fake_clock):
    user = make_user(engine)
    fund(engine, user, 500, fake_clock)
    request = StudioRequest(prompt="a harbour", preset="medium", batch_size=2)
    with read_scope(engine) as session:
        quote = estimate(session, request, presets=PRESETS, pricing=PRICING, pool="default")
    job = submit(engine, user, fake_clock, preset="medium", batch_size=2, prompt="a harbour")
    assert job.estimated_credits == hold_for(quote) >= quote.credits
    assert state(engine, user)[0] == 500 - hold_for(quote)


def test_references_never_go_with_explicit_mode(engine, fake_clock, tmp_path):
    user = make_user(engine)
    fund(engine, user, 100, fake_clock)
    ref = attach_outside_reference(
        engine, user, tmp_path, size=(32, 32), colour="teal", now=fake_clock.now()
    )
    with pytest.raises(PolicyRefusal) as info:
        submit(engine, user, fake_clock, reference_images=(ref.sha256,), nsfw=True)
    assert info.value.rule == "reference_explicit"
    assert state(engine, user)[2][-1][0] == "policy.refused"
    job = submit(engine, user, fake_clock, reference_images=(ref.sha256,))
    assert job.request["reference_images"] == [ref.sha256]


def test_compose_turns_a_scene_into_the_muses_prompt_with_its_references_and_weight(
    engine, fake_clock, tmp_path
):
    user = make_user(engine)
    muse = muse_for(engine, user, fake_clock, reference_weight=0.55, negative_prompt="blurry")
    loose = attach_outside_reference(
        engine, user, tmp_path, size=(32, 32), colour="teal", now=fake_clock.now()
    )
    on_muse = attach_outside_reference(
        engine, user, tmp_path, muse_id=muse.id, size=(32, 32), colour="navy", now=fake_clock.now()
    )
    form = StudioRequest(
        prompt="reading in a cafe",
        negative_prompt="text",
        muse_id=muse.id,
        reference_images=(loose.sha256, loose.sha256),  # added twice: guides once
    )
    with read_scope(engine) as session:
        plain = compose(session, StudioRequest(prompt="a harbour"), user_id=user.id)
        composed = compose(session, form, user_id=user.id, use_muse_references=True)
        with pytest.raises(NotFound):
            compose(session, form, user_id=make_user(engine).id)
    assert plain == StudioRequest(prompt="a harbour")
    assert "Ava" in composed.prompt and "reading in a cafe" in composed.prompt
    assert composed.negative_prompt.endswith("text") and "blurry" in composed.negative_prompt
    assert composed.reference_images == (loose.sha256, on_muse.sha256)
    assert composed.reference_weight == 0.55


def test_a_muse_job_keeps_its_scene_and_ip_adapter_preset_apart_from_the_composed_prompt(
    engine, fake_clock
):
    user = make_user(engine)
    fund(engine, user, 100, fake_clock)
    muse = muse_for(engine, user, fake_clock, reference_weight=0.6, reference_preset="face")
    look = make_variation(
        engine, user, muse, "Gala", {"outfit": "a velvet gown"}, now=fake_clock.now()
    )
    form = StudioRequest(
        prompt="on a balcony", preset="low", muse_id=muse.id, variation_id=look.id,
        reference_weight=1.1, reference_preset="style",
    )  # fmt: skip
    with read_scope(engine) as session:
        from_muse = compose(session, form, user_id=user.id)
        from_form = compose(session, form, user_id=user.id, muse_reference_settings=False)
    assert (from_muse.reference_weight, from_muse.reference_preset) == (0.6, "face")
    assert (from_form.reference_weight, from_form.reference_preset) == (1.1, "style")
    assert "a velvet gown" in from_muse.prompt and from_muse.written.prompt == "on a balcony"
    job = submit_job(
        engine, user_id=user.id, request=from_form, clock=fake_clock, presets=PRESETS,
        pricing=PRICING, pool="default",
    )  # fmt: skip
    again = request_of(job)
    assert (again.written.prompt, again.muse_id, again.variation_id) == (
        "on a balcony",
        muse.id,
        look.id,
    )
    assert again.prompt == from_form.prompt and again.reference_preset == "style"
    assert scene_of(job) == "on a balcony"
    plain = submit(engine, user, fake_clock, prompt="a harbour")
    assert (request_of(plain).written, scene_of(plain)) == (None, "a harbour")


def test_an_unknown_reference_preset_is_refused_before_any_hold(engine, fake_clock):
    user = make_user(engine)
    fund(engine, user, 100, fake_clock)
    with pytest.raises(ValidationFailed, match="Unknown reference preset 'faces'"):
        submit(engine, user, fake_clock, reference_preset="faces")
    assert state(engine, user)[0] == 100


def test_other_users_muses_variations_and_references_are_not_found(engine, fake_clock, tmp_path):
    alice, bob = make_user(engine), make_user(engine)
    fund(engine, bob, 100, fake_clock)
    muse = muse_for(engine, alice, fake_clock)
    ref = attach_outside_reference(
        engine, alice, tmp_path, size=(32, 32), colour="teal", now=fake_clock.now()
    )
    with session_scope(engine) as session:
        look = service.add_variation(
            session,
            owner_id=alice.id,
            muse_id=muse.id,
            name="Gala",
            overrides={"outfit": "a gown"},
            now=fake_clock.now(),
        )
    own = muse_for(engine, bob, fake_clock)
    for fields in (
        {"muse_id": muse.id},
        {"reference_images": (ref.sha256,)},
        {"muse_id": own.id, "variation_id": look.id},
    ):
        with pytest.raises(NotFound):
            submit(engine, bob, fake_clock, **fields)
    with pytest.raises(ValidationFailed, match="needs its muse"):
        submit(engine, bob, fake_clock, variation_id=look.id)
    assert state(engine, bob)[:2] == (100, [])


def test_a_muse_that_no_longer_passes_the_policy_is_refused_at_submit(engine, fake_clock):
    """The policy may tighten after a muse was saved: submit screens it again."""
    user = make_user(engine)
    fund(engine, user, 100, fake_clock)
    muse = muse_for(engine, user, fake_clock, nsfw=True)
    with session_scope(engine) as session:
        stored = session.get(type(muse), muse.id)
        stored.profile = {**stored.profile, "notes": "looks like a schoolgirl"}
        session.add(stored)
    with pytest.raises(PolicyRefusal, match="notes"):
        submit(engine, user, fake_clock, muse_id=muse.id)
    assert state(engine, user)[:2] == (100, [])


def test_rerun_request_repeats_the_job_with_its_seed(engine, fake_clock):
    user = make_user(engine)
    fund(engine, user, 100, fake_clock)
    first = submit(engine, user, fake_clock, seed=77, batch_size=2)
    again = request_of(first)
    assert (again.seed, again.batch_size, again.prompt) == (77, 2, first.prompt)
    second = submit_job(
        engine,
        user_id=user.id,
        request=again,
        clock=fake_clock,
        presets=PRESETS,
        pricing=PRICING,
        pool="default",
    )
    assert (second.seed, second.id != first.id) == (77, True)


def test_cold_start_progress_counts_down_the_boot(engine, fake_clock):
    user = make_user(engine)
    make_pool(engine)
    job = make_job(engine, user, created_at=fake_clock.now())
    tick, boot = PRICING.tick_s, PRICING.typical_boot_s

    def seen():
        with read_scope(engine) as session:
            return progress.job_progress(
                session, job, pool="default", pricing=PRICING, now=fake_clock.now()
            )

    nothing_yet = seen()
    assert nothing_yet.cold_start and nothing_yet.outlook.start_in_s == tick + boot
    assert nothing_yet.queue_position == 1
    fake_clock.advance(10)  # no tick yet: the countdown still moves
    assert seen().outlook.start_in_s == tick - 10 + boot
    make_instance(engine, state=InstanceState.BOOTING, created_at=fake_clock.now())
    fake_clock.advance(60)
    booting = seen()
    assert booting.outlook.meets is Meets.BOOTING and booting.outlook.start_in_s == boot - 60
    make_instance(engine, state=InstanceState.READY, created_at=fake_clock.now())
    warm = seen()
    assert (warm.cold_start, warm.outlook.start_in_s, warm.queue_position) == (False, 0.0, 1)


def test_safe_mode_progress_promises_no_gpu(engine, fake_clock):
    make_pool(engine, safe_mode=True, safe_mode_reason="monthly budget reached")
    job = make_job(engine, make_user(engine), created_at=fake_clock.now())
    with read_scope(engine) as session:
        state = progress.job_progress(
            session, job, pool="default", pricing=PRICING, now=fake_clock.now()
        )
    assert state.outlook.meets is Meets.SAFE_MODE and state.outlook.start_in_s is None
    assert "monthly budget reached" in state.outlook.reason


def test_running_progress_is_the_step_fraction(engine, fake_clock):
    user = make_user(engine)
    job = make_job(engine, user, status=JobStatus.RUNNING, step=7, total_steps=28)
    with read_scope(engine) as session:
        running = progress.job_progress(
            session, job, pool="default", pricing=PRICING, now=fake_clock.now()
        )
    assert (running.fraction, running.queue_position, running.cold_start) == (0.25, None, False)


def test_the_newest_unfinished_job_is_what_a_reload_follows(engine, fake_clock):
    user, other = make_user(engine), make_user(engine)
    make_job(engine, user, status=JobStatus.RUNNING)
    newest = make_job(engine, user, status=JobStatus.QUEUED)
    make_job(engine, user, status=JobStatus.SUCCEEDED)
    make_job(engine, other, status=JobStatus.QUEUED)
    with read_scope(engine) as session:
        assert history.unfinished_job(session, user_id=user.id).id == newest.id
        assert history.unfinished_job(session, user_id=make_user(engine).id) is None


def test_a_result_finished_minutes_ago_survives_a_reload(engine, fake_clock):
    user = make_user(engine)
    now = fake_clock.now()
    make_job(engine, user, status=JobStatus.SUCCEEDED, finished_at=now - timedelta(hours=1))
    recently = now - timedelta(minutes=2)
    done = make_job(engine, user, status=JobStatus.SUCCEEDED, finished_at=recently)
    with read_scope(engine) as session:
        assert history.current_job(session, user_id=user.id, now=now).id == done.id
        later = now + timedelta(seconds=history.RECENT_RESULT_S)
        assert history.current_job(session, user_id=user.id, now=later) is None
    queued = make_job(engine, user, status=JobStatus.QUEUED)  # unfinished work comes first
    with read_scope(engine) as session:
        assert history.current_job(session, user_id=user.id, now=now).id == queued.id


def test_a_requeued_job_says_how_far_it_got_and_why(engine, fake_clock):
    user = make_user(engine)
    job = make_job(engine, user, status=JobStatus.RUNNING, step=5, total_steps=28, attempts=1)
    with session_scope(engine) as session:
        OUTCOMES.requeue_or_fail(
            session, job_id=job.id, reason="GPU instance stopped: lost", now=fake_clock.now()
        )
    with read_scope(engine) as session:
        back = session.get(GenerationJob, job.id)
    assert back.status is JobStatus.QUEUED and back.step == 0
    assert back.requeue_note == (
        "Back in the queue at step 5 of 28: GPU instance stopped: lost. It starts again from "
        "the beginning (attempt 2 of 3); you are charged once."
    )
