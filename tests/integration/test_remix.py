"""Remix and "more like this" on the job path (SQLite and PostgreSQL): a job with every setting
changed runs on the ComfyUI simulator, is remixed, and the remix submits the same request but
for what was changed; a public picture's settings only with its owner's consent, never the
owner's sources; variations at nearby seeds, screened, priced per job, all or none."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from sqlmodel import select

from core.accounts import ledger
from core.clock import SystemClock
from core.comfy.tools import Lora, Tools
from core.db import read_scope, session_scope
from core.errors import InsufficientCredits, NotFound, PolicyRefusal
from core.gallery import details, library
from core.models import Asset, GenerationJob, JobStatus, Visibility
from core.studio import remix, variations
from core.studio.compose import StudioRequest, compose, request_of
from core.studio.pricing import estimate, hold_for
from testing.factories import attach_outside_reference, make_job, make_user
from tests.integration import test_job_path as job_path
from tests.integration.test_tool_jobs import (
    LORA,
    PRESETS,
    PRICING,
    drawn_mask,
    submitted,
)
from tests.pages.test_remix_pages import every_setting, muse_with_look

comfy_config, stack = job_path.comfy_config, job_path.stack  # the job path's simulated stack
_drive, _fund = job_path._drive, job_path._fund


def _picture_of(engine, job: GenerationJob) -> Asset:
    with read_scope(engine) as session:
        return session.exec(select(Asset).where(Asset.job_id == job.id)).all()[0]


def _muse_and_look(engine, owner):
    with session_scope(engine) as session:
        return muse_with_look(session, owner_id=owner.id, now=SystemClock().now())


def _reference(engine, owner, media_root: Path) -> str:
    return attach_outside_reference(
        engine, owner, media_root, size=(640, 640), colour="navy"
    ).sha256


def test_a_remix_of_a_job_with_every_setting_changed_submits_the_same_request(engine, stack):
    runtime, _vast, _comfy = stack
    user = make_user(engine)
    _fund(engine, user, credits=20_000)
    first = submitted(engine, user, StudioRequest(prompt="a harbour", preset="low", seed=5))
    assert _drive(runtime, first.id).status is JobStatus.SUCCEEDED
    source = _picture_of(engine, first)
    muse, look = _muse_and_look(engine, user)
    form = every_setting(
        muse_id=muse.id,
        variation_id=look.id,
        reference=_reference(engine, user, runtime.settings.media_root),
        source=source.sha256,
    )
    with read_scope(engine) as session:
        composed = compose(session, form, user_id=user.id, use_muse_references=True)
    original = submitted(engine, user, composed)
    assert _drive(runtime, original.id).status is JobStatus.SUCCEEDED

    loaded = remix.of_job(original)
    assert loaded.left_out == ()
    assert loaded.use_muse_references is True
    # the scene, not the composed prompt, and every setting (the source's size from our records)
    sized = replace(form.tools, source_size=(source.width, source.height))
    # a request naming no IP-Adapter preset ran (and is remixed) with the default one
    expected = replace(form, tools=sized, reference_preset=PRESETS.default_reference_preset)
    assert loaded.request == expected

    changed = replace(loaded.request, seed=778)
    with read_scope(engine) as session:
        again = compose(session, changed, user_id=user.id, use_muse_references=True)
    second = submitted(engine, user, again)
    assert request_of(second) == replace(request_of(original), seed=778)
    assert _drive(runtime, second.id).status is JobStatus.SUCCEEDED


def test_an_inpaint_remix_carries_its_mask_and_mask_settings(engine):
    user = make_user(engine)
    _fund(engine, user, credits=5000)
    with session_scope(engine) as session:
        source = Asset(
            owner_id=user.id, sha256="ab" * 32, kind="image", mime="image/png",
            width=512, height=512, size_bytes=10, visibility=Visibility.PRIVATE,
        )  # fmt: skip
        session.add(source)
    mask = drawn_mask((512, 512))
    tools = Tools(
        mode="inpaint", source="ab" * 32, denoise=0.9, mask_grow=12, mask_feather=4,
        inpaint_method="vae_inpaint",
    )  # fmt: skip
    job = submitted(
        engine, user, StudioRequest(prompt="a red door", preset="low", tools=tools, mask_png=mask)
    )
    loaded = remix.of_job(job)
    assert loaded.request.mask_png == request_of(job).mask_png is not None
    assert loaded.request.tools == replace(tools, source_size=(512, 512))


def test_a_public_picture_is_remixed_only_with_its_owners_consent_and_without_their_sources(
    engine,
):
    owner, viewer = make_user(engine), make_user(engine)
    _fund(engine, owner)
    muse, _look = _muse_and_look(engine, owner)
    with session_scope(engine) as session:
        source = Asset(
            owner_id=owner.id, sha256="cd" * 32, kind="image", mime="image/png",
            width=1024, height=1024, size_bytes=10,
        )  # fmt: skip
        session.add(source)
    tools = Tools(mode="img2img", source="cd" * 32, loras=(Lora(LORA, 0.6),), steps=14)
    with read_scope(engine) as session:
        composed = compose(
            session,
            StudioRequest(prompt="a rooftop", preset="low", seed=9, muse_id=muse.id, tools=tools),
            user_id=owner.id,
        )
    job = submitted(engine, owner, composed)
    with session_scope(engine) as session:
        picture = Asset(
            owner_id=owner.id, job_id=job.id, sha256="ef" * 32, kind="image", mime="image/png",
            width=1024, height=1024, size_bytes=10, visibility=Visibility.PUBLIC,
        )  # fmt: skip
        session.add(picture)
        session.flush()
        picture_id = picture.id

    with read_scope(engine) as session:
        picture = session.get(Asset, picture_id)
        with pytest.raises(NotFound, match="keeps how it was made"):
            remix.of_asset(session, viewer_id=viewer.id, asset=picture)
        assert (
            details.made_with(session, viewer_id=viewer.id, asset=picture, presets=PRESETS) is None
        )
        assert remix.of_asset(session, viewer_id=owner.id, asset=picture) == remix.of_job(job)
    with session_scope(engine) as session:
        library.set_recipe_public(session, owner_id=owner.id, asset_id=picture_id, public=True)
    with read_scope(engine) as session:
        picture = session.get(Asset, picture_id)
        made = details.made_with(session, viewer_id=viewer.id, asset=picture, presets=PRESETS)
        loaded = remix.of_asset(session, viewer_id=viewer.id, asset=picture)
    assert made is not None and made.prompt == job.prompt
    assert loaded.request.prompt == job.prompt  # the composed prompt, without the muse
    assert (loaded.request.muse_id, loaded.request.tools.source) == (None, None)
    assert loaded.request.tools == Tools(loras=(Lora(LORA, 0.6),), steps=14)
    assert any("muse" in note for note in loaded.left_out)
    assert any("source picture" in note for note in loaded.left_out)
    # the viewer's remix is a request of their own that submits
    _fund(engine, viewer)
    assert submitted(engine, viewer, loaded.request).user_id == viewer.id
    with pytest.raises(NotFound):  # another user's picture is never a source of theirs
        submitted(engine, viewer, replace(loaded.request, tools=tools))


def _held(engine, user) -> int:
    """Credits held or spent so far: what the user's balance lost."""
    with read_scope(engine) as session:
        return -ledger.balance(session, user.id)


def _variations(engine, user, job, count, **extra):
    return variations.submit_variations(
        engine,
        user_id=user.id,
        job_id=job.id,
        count=count,
        clock=SystemClock(),
        presets=PRESETS,
        pricing=PRICING,
        pool="default",
        **extra,
    )


def test_more_like_this_queues_variations_at_nearby_seeds_each_held_like_a_job(engine):
    user = make_user(engine)
    _fund(engine, user, credits=5000)
    job = submitted(
        engine,
        user,
        StudioRequest(prompt="a harbour", preset="low", seed=41, batch_size=3,
                      tools=Tools(loras=(Lora(LORA, 0.5),))),
    )  # fmt: skip
    before = _held(engine, user)
    made = _variations(engine, user, job, 3, idempotency_key="more-1")
    assert [v.seed for v in made] == [42, 43, 44]
    assert all(v.variation_of == job.id and v.batch_size == 1 for v in made)
    single = replace(request_of(job), batch_size=1, variation_of=job.id)
    for variation in made:
        assert request_of(variation) == replace(single, seed=variation.seed)
    with read_scope(engine) as session:
        each = hold_for(estimate(session, single, presets=PRESETS, pricing=PRICING, pool="default"))
        assert variations.credits_held(
            session, variations.variation_requests(job, 3), presets=PRESETS, pricing=PRICING,
            pool="default",
        ) == 3 * each  # fmt: skip
        assert [v.id for v in made] == [v.id for v in variations_of(session, user, job)]
    assert _held(engine, user) - before == 3 * each
    again = _variations(engine, user, job, 3, idempotency_key="more-1")  # a double click
    assert [v.id for v in again] == [v.id for v in made]
    assert _held(engine, user) - before == 3 * each


def variations_of(session, user, job):
    from core.studio.history import variations_of as listed

    return listed(session, user_id=user.id, job_id=job.id)


def test_variations_are_all_or_none_and_only_of_ones_own_job(engine):
    user, other = make_user(engine), make_user(engine)
    request = StudioRequest(prompt="a harbour", preset="high", seed=1)
    with read_scope(engine) as session:
        each = hold_for(
            estimate(session, request, presets=PRESETS, pricing=PRICING, pool="default")
        )
    _fund(engine, user, credits=3 * each)
    job = submitted(engine, user, request)
    with read_scope(engine) as session:
        assert ledger.balance(session, user.id) == 2 * each
    with pytest.raises(InsufficientCredits):
        _variations(engine, user, job, 3)  # two would fit: none is queued
    with read_scope(engine) as session:
        assert variations_of(session, user, job) == []
        assert ledger.balance(session, user.id) == 2 * each
    with pytest.raises(NotFound):
        _variations(engine, other, job, 2)
    assert len(_variations(engine, user, job, 2)) == 2


def test_variations_go_through_the_safety_screen(engine):
    user = make_user(engine)
    _fund(engine, user)
    # a job stored before the policy refused its prompt (written directly, not submitted)
    job = make_job(
        engine, user, prompt="a 16 year old at the beach", model=PRESETS.default_model("image")
    )
    with read_scope(engine) as session:
        balance = ledger.balance(session, user.id)
    with pytest.raises(PolicyRefusal):
        _variations(engine, user, job, 2)
    with read_scope(engine) as session:
        assert variations_of(session, user, job) == []
        assert ledger.balance(session, user.id) == balance
