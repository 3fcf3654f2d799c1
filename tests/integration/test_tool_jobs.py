"""The creative tools end to end: submitted, dispatched to the ComfyUI simulator over HTTP,
stored with full A1111 `parameters` and the ComfyUI graph; and bad requests refused with a
message before any credit is held (SQLite and PostgreSQL)."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest
from PIL import Image, ImageDraw
from sqlmodel import select

from core.accounts import ledger
from core.clock import SystemClock
from core.comfy.catalogue import MAX_SIDE
from core.comfy.presets import Presets
from core.comfy.tools import Hires, Lora, Tools
from core.db import read_scope, session_scope
from core.errors import CoreError, NotFound, PolicyRefusal, ValidationFailed
from core.gallery import store
from core.models import Asset, GenerationJob, JobStatus
from core.muses import service as muses
from core.studio.compose import StudioRequest, request_of
from core.studio.pricing import Pricing, estimate
from core.studio.sources import mask_png
from core.studio.submit import submit
from testing.factories import make_asset, make_user
from tests.integration import test_job_path as job_path

comfy_config, stack = job_path.comfy_config, job_path.stack  # the job path's simulated stack
_drive, _fund = job_path._drive, job_path._fund

PRESETS = Presets.load()
LORA = "sd_xl_offset_example-lora_1.0.safetensors"
UPSCALER = "RealESRGAN_x4plus.pth"
PRICING = Pricing(credit_price_usd=Decimal("0.01"), reference_price_per_hour_usd=Decimal("0.5"))


def _run(runtime, user, **fields):
    request = StudioRequest(**({"prompt": "a lighthouse at dusk", "preset": "low"} | fields))
    job = submit(
        runtime.engine,
        user_id=user.id,
        request=request,
        clock=runtime.clock,
        presets=PRESETS,
        pricing=PRICING,
        pool=runtime.settings.pool_name,
    )
    done = _drive(runtime, job.id)
    assert done.status is JobStatus.SUCCEEDED, done.error
    with read_scope(runtime.engine) as session:
        (asset,) = session.exec(select(Asset).where(Asset.job_id == job.id)).all()
    data = store.read(runtime.settings.media_root, asset.sha256)
    with Image.open(io.BytesIO(data)) as image:
        assert image.size == (asset.width, asset.height)
    return asset, store.read_png_metadata(data)


def drawn_mask(size: tuple[int, int]) -> bytes:
    """What the browser canvas returns: white strokes on a transparent layer."""
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    ImageDraw.Draw(layer).ellipse((100, 100, 400, 400), fill=(255, 255, 255, 255))
    out = io.BytesIO()
    layer.save(out, format="PNG")
    return out.getvalue()


def test_lora_hires_img2img_inpaint_and_upscale_jobs_run_and_say_how(engine, stack):
    runtime, _vast, _comfy = stack
    user = make_user(engine)
    _fund(engine, user, credits=5000)

    first, text = _run(
        runtime, user, seed=3, tools=Tools(loras=(Lora(LORA, 0.7),), hires=Hires(scale=1.5))
    )
    assert (first.width, first.height) == (1536, 1536)
    parameters = text["parameters"]
    assert parameters.startswith("a lighthouse at dusk <lora:sd_xl_offset_example-lora_1.0:0.7>\n")
    for part in ("Size: 1024x1024", "Hires upscale: 1.5", "Hires upscaler: Latent", "Seed: 3"):
        assert part in parameters
    graph = json.loads(text["prompt"])
    assert {"LoraLoader", "LatentUpscaleBy"} <= {n["class_type"] for n in graph.values()}
    assert json.loads(text["workflow"])["nodes"]

    img2img, text = _run(
        runtime, user, tools=Tools(mode="img2img", source=first.sha256, denoise=0.5)
    )
    assert (img2img.width, img2img.height) == (1536, 1536)
    assert "Denoising strength: 0.5" in text["parameters"]

    mask = mask_png(drawn_mask((1536, 1536)), size=(1536, 1536), max_pixels=40_000_000)
    inpainted, text = _run(
        runtime,
        user,
        tools=Tools(mode="inpaint", source=first.sha256, denoise=0.9, mask_feather=4),
        mask_png=mask,
    )
    assert (inpainted.width, inpainted.height) == (1536, 1536)
    assert "Mask blur: 4" in text["parameters"]
    assert '"ImageCompositeMasked"' in text["prompt"]

    upscaled, text = _run(
        runtime,
        user,
        prompt="",
        tools=Tools(mode="upscale", source=img2img.sha256, upscaler=UPSCALER, upscale_by=1.5),
    )
    assert (upscaled.width, upscaled.height) == (2304, 2304)
    assert text["parameters"].startswith("Postprocess upscale to: 2304x2304")


def _refused(engine, user, error, match, **fields):
    with read_scope(engine) as session:
        before = ledger.balance(session, user.id)
    request = StudioRequest(**({"prompt": "a lighthouse at dusk", "preset": "low"} | fields))
    with pytest.raises(error, match=match):
        submit(
            engine,
            user_id=user.id,
            request=request,
            clock=SystemClock(),
            presets=PRESETS,
            pricing=PRICING,
            pool="default",
        )
    with read_scope(engine) as session:
        assert ledger.balance(session, user.id) == before
        assert not session.exec(select(GenerationJob).where(GenerationJob.user_id == user.id)).all()


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"tools": Tools(loras=(Lora("pony_style_v2.safetensors"),))}, "Unknown LoRA"),
        ({"model": "nope.safetensors"}, "Unknown model"),
        ({"tools": Tools(width=2048, height=2560)}, "megapixels"),
        ({"tools": Tools(width=MAX_SIDE + 8, height=1024)}, f"256 to {MAX_SIDE} pixels"),
        ({"tools": Tools(mode="inpaint", source="a" * 64)}, "mask"),
    ],
)
def test_bad_tool_requests_are_refused_before_any_credit_is_held(engine, fields, match):
    user = make_user(engine)
    _fund(engine, user)
    _refused(engine, user, ValidationFailed, match, **fields)


def test_a_mask_of_the_wrong_size_is_refused_before_any_credit_is_held(engine):
    user = make_user(engine)
    _fund(engine, user)
    asset = make_asset(engine, user, width=1024, height=1024)
    wrong = mask_png(drawn_mask((832, 1216)), size=(832, 1216), max_pixels=40_000_000)
    tools = Tools(mode="inpaint", source=asset.sha256)
    _refused(engine, user, ValidationFailed, "picture is 1024x1024", tools=tools, mask_png=wrong)


def test_someone_elses_picture_is_no_source(engine):
    owner, other = make_user(engine), make_user(engine)
    _fund(engine, other)
    asset = make_asset(engine, owner)
    tools = Tools(mode="img2img", source=asset.sha256)
    _refused(engine, other, NotFound, "source picture", tools=tools)


def test_an_outside_upload_needs_consent_and_never_goes_explicit(engine, tmp_path):
    user = make_user(engine)
    _fund(engine, user)
    picture = io.BytesIO()
    Image.new("RGB", (640, 960), (10, 20, 30)).save(picture, format="PNG")
    with pytest.raises(PolicyRefusal, match="statement"):
        with session_scope(engine) as session:
            muses.attach_reference(
                session,
                owner_id=user.id,
                muse_id=None,
                data=picture.getvalue(),
                consent_given=False,
                media_root=tmp_path,
                max_bytes=10**7,
                max_pixels=40_000_000,
                now=SystemClock().now(),
            )
    with session_scope(engine) as session:
        upload = muses.attach_reference(
            session,
            owner_id=user.id,
            muse_id=None,
            data=picture.getvalue(),
            consent_given=True,
            media_root=tmp_path,
            max_bytes=10**7,
            max_pixels=40_000_000,
            now=SystemClock().now(),
        )
    tools = Tools(mode="img2img", source=upload.sha256)
    _refused(engine, user, PolicyRefusal, "explicit mode", tools=tools, nsfw=True)


def test_own_generated_pictures_are_sources_in_explicit_mode(engine):
    user = make_user(engine)
    _fund(engine, user)
    asset = make_asset(engine, user, width=832, height=1216)
    request = StudioRequest(
        prompt="a lighthouse at dusk",
        preset="low",
        nsfw=True,
        tools=Tools(mode="img2img", source=asset.sha256),
    )
    job = submit(
        engine,
        user_id=user.id,
        request=request,
        clock=SystemClock(),
        presets=PRESETS,
        pricing=PRICING,
        pool="default",
    )
    stored = Tools.from_json(job.request["tools"])
    assert stored.source_size == (832, 1216)
    assert request_of(job).tools == stored  # a re-run repeats the same tools


def test_hires_and_upscale_are_priced_by_their_extra_work(engine):
    def seconds(**tools) -> float:
        request = StudioRequest(prompt="x", preset="low", tools=Tools(**tools))
        with read_scope(engine) as session:
            quote = estimate(session, request, presets=PRESETS, pricing=PRICING, pool="default")
        return quote.gpu_seconds

    plain = seconds()
    assert plain == pytest.approx(PRESETS.preset("low", "image").expected_seconds)
    hires = seconds(hires=Hires(scale=2.0, steps=9))  # 4x the pixels, half the steps
    assert hires == pytest.approx(plain * (1 + 4 * 9 / 18))
    model_hires = seconds(hires=Hires(scale=2.0, steps=9, upscaler=UPSCALER))
    assert model_hires > hires
    assert seconds(width=768, height=1344, steps=36) == pytest.approx(
        plain * 768 * 1344 * 36 / (1024 * 1024 * 18)
    )
    upscale = seconds(mode="upscale", source="a" * 64, source_size=(1000, 1000), upscaler=UPSCALER)
    assert upscale == pytest.approx(0.6 * 16)
    with pytest.raises(CoreError):
        seconds(mode="upscale", source="a" * 64, upscaler="nope.pth")
