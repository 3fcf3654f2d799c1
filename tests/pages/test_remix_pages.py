"""Remix, the settings reader, more like this and cancel through the pages' widgets: a job with
every setting changed is remixed into the Studio form and generates the same request but for
what was changed; public pictures only with the owner's consent; a file's settings loaded."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from PIL import Image, PngImagePlugin
from sqlmodel import select

from core.accounts import ledger
from core.clock import SystemClock
from core.comfy.presets import Presets
from core.comfy.tools import Hires, Lora, Tools
from core.config import get_settings
from core.db import read_scope, session_scope
from core.gallery import store
from core.models import Asset, GenerationJob, JobStatus, MediaKind, Screening, User, Visibility
from core.muses import service as muses
from core.muses.schema import validate_profile
from core.studio import sources
from core.studio.compose import StudioRequest, compose, request_of
from core.studio.pricing import pricing_from
from core.studio.submit import submit
from testing.factories import make_user, store_png
from tests.unit.test_settings_reader import A1111_PARAMETERS

PRESETS = Presets.load()
LORA = "sd_xl_offset_example-lora_1.0.safetensors"
UPSCALER = "RealESRGAN_x4plus.pth"


def the_user(engine) -> User:
    with read_scope(engine) as session:
        return session.exec(select(User).order_by(User.id)).first()


def _submit(engine, user_id: int, request: StudioRequest) -> GenerationJob:
    return submit(
        engine,
        user_id=user_id,
        request=request,
        clock=SystemClock(),
        presets=PRESETS,
        pricing=pricing_from(get_settings()),
        pool=get_settings().pool_name,
    )


def _jobs(engine) -> list[GenerationJob]:
    with read_scope(engine) as session:
        return list(session.exec(select(GenerationJob).order_by(GenerationJob.id)).all())


def _png(size=(640, 640), colour: Any = "navy", texts: dict[str, str] | None = None) -> bytes:
    info = PngImagePlugin.PngInfo()
    for key, value in (texts or {}).items():
        info.add_text(key, value)
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def _stored(session, owner: User, title: str, colour: Any = "teal") -> Asset:
    """A 512x512 picture stored as `owner`'s output (a size every tool takes as a source)."""
    return store.save_output(
        session,
        media=get_settings().media_root,
        owner_id=owner.id or 0,
        job_id=None,
        muse_id=None,
        data=_png((512, 512), colour),
        kind=MediaKind.IMAGE,
        mime="image/png",
        title=title,
        now=datetime.now(UTC),
    )


def every_setting(*, muse_id: int, variation_id: int, reference: str, source: str) -> StudioRequest:
    """A form with every setting off its default: muse and variation, scene, negative, model,
    quality, seed, batch, an uploaded reference, img2img from `source` with a LoRA, sampler
    controls and hires fix."""
    return StudioRequest(
        prompt="evening light on a balcony",
        negative_prompt="blurry, watermark",
        model="realvis_xl_4.0.safetensors",
        preset="low",
        seed=777,
        batch_size=2,
        muse_id=muse_id,
        variation_id=variation_id,
        reference_images=(reference,),
        tools=Tools(
            mode="img2img",
            source=source,
            denoise=0.45,
            loras=(Lora(LORA, 0.7),),
            steps=12,
            cfg=5.5,
            sampler_name="euler_ancestral",
            scheduler="karras",
            clip_skip=2,
            hires=Hires(scale=1.25, denoise=0.35, steps=8, upscaler=UPSCALER),
        ),
    )


def muse_with_look(session, *, owner_id, now):
    """Ava (auburn hair, 30) and her "Jazz" variation (at a jazz club), owned by `owner_id`."""
    profile = validate_profile({"basic": {"name": "Ava", "age": 30}, "hair": {"color": "auburn"}})
    muse = muses.create_muse(session, owner_id=owner_id, profile=profile, tags=(), now=now)
    look = muses.add_variation(
        session,
        owner_id=owner_id,
        muse_id=muse.id,
        name="Jazz",
        overrides={"scenario": "at a jazz club"},
        now=now,
    )
    return muse, look


def _everything_changed(engine, owner: User) -> tuple[StudioRequest, GenerationJob]:
    """A form with every setting off its default (muse and variation, scene, negative,
    model, quality, seed, batch, an uploaded reference, img2img from an own picture with a
    LoRA, sampler controls and hires fix), and the job it made."""
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        source = _stored(session, owner, "harbour")
        muse, look = muse_with_look(session, owner_id=owner.id, now=now)
        ref = muses.attach_reference(
            session,
            owner_id=owner.id,
            muse_id=None,
            data=_png(),
            consent_given=True,
            media=get_settings().media_root,
            max_bytes=10**7,
            max_pixels=40_000_000,
            now=now,
        )
    form = every_setting(
        muse_id=muse.id, variation_id=look.id, reference=ref.sha256, source=source.sha256
    )
    with read_scope(engine) as session:
        composed = compose(session, form, user_id=owner.id, use_muse_references=True)
    return form, _submit(engine, owner.id or 0, composed)


def test_a_history_remix_fills_every_control_and_generates_the_same_request_but_the_change(
    signed_in, web_engine, texts
):
    app = signed_in("views/studio.py")
    form, original = _everything_changed(web_engine, the_user(web_engine))
    app.run()
    app.button(key=f"remix_{original.id}").click().run()
    assert not app.exception
    assert "Loaded the settings of job" in texts(app) and "Not loaded" not in texts(app)
    assert app.text_area(key="studio_prompt").value == form.prompt  # the scene, not composed
    assert app.text_area(key="studio_negative").value == form.negative_prompt
    assert app.selectbox(key="studio_variation").value == "Jazz"
    assert app.radio(key="tools_mode").value == "Image to image"
    assert app.multiselect(key="tools_loras").value == ["SDXL offset noise (deeper contrast)"]
    assert (app.slider(key="tools_steps").value, app.slider(key="tools_cfg").value) == (12, 5.5)
    assert app.checkbox(key="tools_hires").value is True

    app.number_input(key="studio_seed").set_value(778).run()
    app.button(key="studio_generate").click().run()
    assert not app.exception
    first, second = _jobs(web_engine)
    assert request_of(second) == replace(request_of(first), seed=778)
    assert second.request["written"] == first.request["written"]


def test_an_inpaint_remix_offers_the_jobs_mask(signed_in, web_engine):
    app = signed_in("views/studio.py")
    owner = the_user(web_engine)
    with session_scope(web_engine) as session:
        source = _stored(session, owner, "door", colour="maroon")
    mask = Image.new("L", (source.width, source.height), 0)
    mask.paste(255, (4, 4, 12, 12))
    out = io.BytesIO()
    mask.save(out, format="PNG")
    tools = Tools(mode="inpaint", source=source.sha256, denoise=0.9, mask_grow=12, mask_feather=4)
    original = _submit(
        web_engine,
        owner.id or 0,
        StudioRequest(
            prompt="a red door",
            preset="low",
            seed=3,
            tools=tools,
            mask_png=sources.mask_png(out.getvalue(), size=(512, 512), max_pixels=10**7),
        ),
    )
    app.run()
    app.button(key=f"remix_{original.id}").click().run()
    assert app.radio(key="tools_mask_origin").value == "The remixed job's mask"
    app.button(key="studio_generate").click().run()
    assert not app.exception
    first, second = _jobs(web_engine)
    assert request_of(second) == request_of(first)


def _public_picture(engine, owner: User) -> tuple[GenerationJob, int]:
    form, job = _everything_changed(engine, owner)
    with session_scope(engine) as session:
        asset = _stored(session, owner, "Balcony", colour="orange")
        asset.job_id, asset.visibility, asset.screening = (
            job.id,
            Visibility.PUBLIC,
            Screening.PASSED,
        )
        session.add(asset)
        session.flush()
        return job, asset.id or 0


def _open_public(app, asset_id: int):
    app.button_group(key="g_scope").set_value("public").run()
    app.button(key=f"open_{asset_id}").click().run()
    assert not app.exception
    return app


def test_a_public_picture_shows_and_remixes_its_settings_only_once_its_owner_allows_it(
    signed_in, web_engine, texts
):
    app = signed_in("Home.py")
    owner = make_user(web_engine, username="owner", email="owner@example.test")
    with session_scope(web_engine) as session:
        ledger.grant(
            session, user_id=owner.id, credits=500, key="owner", note="test", now=datetime.now(UTC)
        )
    job, asset_id = _public_picture(web_engine, owner)
    app.run()
    app.switch_page("views/gallery.py").run()
    app = _open_public(app, asset_id)
    assert "How it was made" not in [e.label for e in app.expander]
    assert not [b for b in app.button if b.key == "g_made_remix"]

    with session_scope(web_engine) as session:
        session.get(Asset, asset_id).recipe_public = True
    app.run()
    assert "How it was made" in [e.label for e in app.expander]
    assert app.text_area(key="g_made_prompt").value == job.prompt
    app.button(key="g_made_remix").click().run()
    assert not app.exception
    assert app.title[0].value == "Studio"
    page = texts(app)
    assert "the owner's muse" in page and "the owner's source picture" in page
    assert app.text_area(key="studio_prompt").value == job.prompt  # composed, muse left out
    assert app.selectbox(key="studio_muse").value == ""
    assert app.radio(key="tools_mode").value == "Text to image"
    assert app.multiselect(key="tools_loras").value == ["SDXL offset noise (deeper contrast)"]
    app.switch_page("views/studio.py")  # AppTest's next run stays on the page it opened
    app.button(key="studio_generate").click().run()
    assert not app.exception
    viewer_job = _jobs(web_engine)[-1]
    assert viewer_job.user_id == the_user(web_engine).id and viewer_job.muse_id is None
    assert (viewer_job.seed, viewer_job.model) == (job.seed, job.model)


def test_the_owner_turns_the_recipe_on_and_off_in_the_viewer(signed_in, web_engine):
    app = signed_in("views/gallery.py")
    owner = the_user(web_engine)
    with session_scope(web_engine) as session:
        asset = store_png(
            session,
            media=get_settings().media_root,
            owner_id=owner.id or 0,
            title="Mine",
            now=datetime.now(UTC),
        )
    app.run()
    app.button(key=f"open_{asset.id}").click().run()
    app.toggle(key=f"recipe_{asset.id}").set_value(True).run()
    with read_scope(web_engine) as session:
        assert session.get(Asset, asset.id).recipe_public is True
    app.toggle(key=f"recipe_{asset.id}").set_value(False).run()
    with read_scope(web_engine) as session:
        assert session.get(Asset, asset.id).recipe_public is False


def _uploader(app, key: str):
    return next(u for u in app.get("file_uploader") if u.key == key)


def test_the_reader_shows_a_files_settings_and_loads_what_the_studio_supports(
    signed_in, web_engine, texts
):
    app = signed_in("Home.py").run()
    app.switch_page("views/reader.py").run()
    picture = _png(texts={"parameters": A1111_PARAMETERS})
    _uploader(app, "reader_file").set_value(("dusk.png", picture, "image/png")).run()
    assert not app.exception
    page = texts(app)
    assert "Made with AUTOMATIC1111" in page and "Seed: 1234567890" in page
    (warning,) = app.warning
    assert "Hires upscale" in warning.value and "sdxl\\_base" in warning.value
    app.button(key="reader_load").click().run()
    assert not app.exception and app.title[0].value == "Studio"
    assert app.text_area(key="studio_prompt").value.startswith("a lighthouse on a cliff")
    assert app.selectbox(key="tools_size").value == "832x1216 (portrait)"
    app.switch_page("views/studio.py")  # AppTest's next run stays on the page it opened
    app.button(key="studio_generate").click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    (job,) = _jobs(web_engine)
    tools = Tools.from_json(job.request["tools"])
    assert (job.seed, job.negative_prompt) == (1234567890, "blurry, lowres\nwatermark")
    assert (tools.width, tools.height, tools.steps, tools.cfg) == (832, 1216, 28, 6.5)
    assert (tools.sampler_name, tools.scheduler) == ("dpmpp_2m", "karras")


def test_the_reader_refuses_malformed_metadata_and_files_past_the_upload_checks(
    signed_in, web_engine, texts
):
    app = signed_in("Home.py").run()
    app.switch_page("views/reader.py").run()
    hostile = _png(texts={"prompt": json.dumps({"1": {"inputs": []}}) + "{" * 10})
    _uploader(app, "reader_file").set_value(("x.png", hostile, "image/png")).run()
    assert not app.exception
    assert "This file cannot be read" in texts(app) and "not valid JSON" in texts(app)
    assert not [b for b in app.button if b.key == "reader_load"]
    renamed = b"GIF89a" + b"\0" * 64
    _uploader(app, "reader_file").set_value(("x.png", renamed, "image/png")).run()
    assert "This file cannot be read" in texts(app) and "not a PNG" in texts(app)


def test_more_like_this_queues_the_variations_it_priced_and_shows_them_as_a_grid(
    signed_in, web_engine, texts
):
    app = signed_in("views/studio.py")
    owner = the_user(web_engine)
    original = _submit(web_engine, owner.id or 0, StudioRequest(prompt="a harbour", seed=50))
    with session_scope(web_engine) as session:
        job = session.get(GenerationJob, original.id)
        job.status, job.finished_at, job.charged_credits = JobStatus.SUCCEEDED, datetime.now(UTC), 1
        session.add(job)
    app.session_state["studio_active_job"] = original.id
    app.run()
    app.number_input(key=f"more_active_{original.id}_count").set_value(3).run()
    (more,) = [b for b in app.button if b.key == f"more_active_{original.id}"]
    held = int(more.label.split("(")[1].split(" credits")[0])
    with read_scope(web_engine) as session:
        before = ledger.balance(session, owner.id)
    more.click().run()
    assert not app.exception
    variations = _jobs(web_engine)[1:]
    assert [v.seed for v in variations] == [51, 52, 53]
    assert sum(v.estimated_credits for v in variations) == held
    with read_scope(web_engine) as session:
        assert before - ledger.balance(session, owner.id) == held
    assert f"Variations of #{original.id}" in texts(app)
    assert all(f"seed {v.seed} · queued" in texts(app) for v in variations)


def test_the_job_panel_cancels_a_queued_job_and_stops_a_running_one(signed_in, web_engine, texts):
    app = signed_in("views/studio.py").run()
    owner = the_user(web_engine)
    with read_scope(web_engine) as session:
        before = ledger.balance(session, owner.id)
    app.text_area(key="studio_prompt").input("a harbour at noon").run()
    app.button(key="studio_generate").click().run()
    app.button(key="studio_cancel").click().run()
    assert not app.exception
    (queued,) = _jobs(web_engine)
    assert queued.status is JobStatus.CANCELLED
    with read_scope(web_engine) as session:
        assert ledger.balance(session, owner.id) == before  # refunded in full

    app.button(key="studio_generate").click().run()
    running = _jobs(web_engine)[-1]
    with session_scope(web_engine) as session:
        job = session.get(GenerationJob, running.id)
        job.status, job.step, job.total_steps = JobStatus.RUNNING, 2, 20
        session.add(job)
    app.run()
    app.button(key="studio_stop").click().run()
    assert not app.exception
    with read_scope(web_engine) as session:
        assert session.get(GenerationJob, running.id).cancel_requested_at is not None
    app.run()
    assert "Stopping…" in texts(app)
