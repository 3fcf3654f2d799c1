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
from core.comfy.tools import FaceFix, Hires, Lora, Tools
from core.db import read_scope
from core.errors import CoreError, NotFound, PolicyRefusal, ValidationFailed
from core.gallery import store
from core.models import Asset, GenerationJob, JobStatus
from core.studio.compose import StudioRequest, request_of
from core.studio.pricing import Pricing, estimate
from core.studio.sources import mask_png
from core.studio.submit import submit
from testing.factories import attach_outside_reference, make_asset, make_user
from tests.integration import test_job_path as job_path

comfy_config, stack = job_path.comfy_config, job_path.stack  # the job path's simulated stack
_drive, _fund = job_path._drive, job_path._fund

PRESETS = Presets.load()
LORA = "sd_xl_offset_example-lora_1.0.safetensors"
UPSCALER = "RealESRGAN_x4plus.pth"
PRICING = Pricing(credit_price_usd=Decimal("0.01"), reference_price_per_hour_usd=Decimal("0.5"))


def submitted(engine, user, request: StudioRequest, *, clock=None, pool="default", **extra):
    """`request` submitted for `user` as the Studio does (this module's presets and
    pricing; the system clock unless `clock`); the queued job."""
    return submit(
        engine,
        user_id=user.id,
        request=request,
        clock=clock or SystemClock(),
        presets=PRESETS,
        pricing=PRICING,
        pool=pool,
        **extra,
    )


def finished_job(runtime, user, **fields) -> tuple[GenerationJob, Asset, bytes]:
    """Submit a low-quality request with `fields`, drive it to success on the simulated
    stack; the job, its one output and the output's stored bytes."""
    request = StudioRequest(**({"prompt": "a lighthouse at dusk", "preset": "low"} | fields))
    job = submitted(
        runtime.engine, user, request, clock=runtime.clock, pool=runtime.settings.pool_name
    )
    done = _drive(runtime, job.id)
    assert done.status is JobStatus.SUCCEEDED, done.error
    with read_scope(runtime.engine) as session:
        (asset,) = session.exec(select(Asset).where(Asset.job_id == job.id)).all()
    return done, asset, store.read(runtime.settings.media_root, asset.sha256)


def _run(runtime, user, **fields):
    _job, asset, data = finished_job(runtime, user, **fields)
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


def test_a_face_fix_job_runs_on_the_simulator_and_says_so(engine, stack):
    runtime, _vast, _comfy = stack
    user = make_user(engine)
    _fund(engine, user, credits=5000)
    fixed, text = _run(runtime, user, seed=4, tools=Tools(face_fix=FaceFix(denoise=0.35)))
    assert (fixed.width, fixed.height) == (1024, 1024)  # a face pass keeps the size
    for part in (
        "ADetailer model: face_yolov8m.pt",
        "ADetailer confidence: 0.5",
        "ADetailer denoising strength: 0.35",
        "Size: 1024x1024",
        "Seed: 4",
    ):
        assert part in text["parameters"]
    graph = json.loads(text["prompt"])
    (face,) = [n["inputs"] for n in graph.values() if n["class_type"] == "FaceDetailer"]
    assert face["denoise"] == 0.35
    save = next(n["inputs"] for n in graph.values() if n["class_type"] == "SaveImage")
    assert graph[save["images"][0]]["class_type"] == "FaceDetailer"
    editor = json.loads(text["workflow"])
    assert "FaceDetailer" in {node["type"] for node in editor["nodes"]}

    alone, text = _run(
        runtime,
        user,
        tools=Tools(mode="facefix", source=fixed.sha256, face_fix=FaceFix(denoise=0.5)),
    )
    assert (alone.width, alone.height) == (1024, 1024)
    assert "ADetailer denoising strength: 0.5" in text["parameters"]
    assert '"KSampler"' not in text["prompt"]


def _refused(engine, user, error, match, **fields):
    with read_scope(engine) as session:
        before = ledger.balance(session, user.id)
    request = StudioRequest(**({"prompt": "a lighthouse at dusk", "preset": "low"} | fields))
    with pytest.raises(error, match=match):
        submitted(engine, user, request)
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
        ({"tools": Tools(face_fix=FaceFix(denoise=1.5))}, "face fix denoise must be between"),
        ({"tools": Tools(face_fix=FaceFix(denoise=0.0))}, "face fix denoise must be between"),
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
    with pytest.raises(PolicyRefusal, match="statement"):
        attach_outside_reference(engine, user, tmp_path, consent_given=False)
    upload = attach_outside_reference(engine, user, tmp_path)
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
    job = submitted(engine, user, request)
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
