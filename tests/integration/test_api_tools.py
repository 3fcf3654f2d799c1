"""The creative tools over the HTTP API (issue 19), on SQLite and PostgreSQL: LoRAs, sizes,
sampler controls, hires fix, img2img, inpaint with an uploaded mask and upscale of the token
owner's own pictures; every job's graph accepted by the real ComfyUI schema facts, and bad
tools refused with a message before any credit is held."""

from __future__ import annotations

import base64
import io
from typing import Any, get_args

import pytest
from PIL import Image, ImageDraw
from sqlmodel import select

from api import schemas
from core.clock import SystemClock
from core.comfy import tools as comfy_tools
from core.comfy.presets import Presets
from core.comfy.tools import Tools
from core.comfy.workflows import build_graph
from core.config import get_settings
from core.db import read_scope, session_scope
from core.gallery import store
from core.models import Asset, GenerationJob, MediaKind, User
from core.studio.compose import mask_of
from core.studio.needs import request_of
from core.studio.pricing import UPSCALE_S_PER_MEGAPIXEL
from tests.integration import test_api
from tests.unit.test_workflows import assert_well_formed, only

api = test_api.api  # the API served over loopback, on the test's database
Api, _balance = test_api.Api, test_api._balance

PRESETS = Presets.load()
LORA = "sd_xl_offset_example-lora_1.0.safetensors"
UPSCALER = "RealESRGAN_x4plus.pth"
SIZE = (512, 640)


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def own_picture(api: Api, user: User, colour: str = "teal") -> Asset:
    """A 512x640 picture `user` generated."""
    with session_scope(api.engine) as session:
        return store.save_output(
            session,
            media=get_settings().media_root,
            owner_id=user.id or 0,
            job_id=None,
            muse_id=None,
            data=_png(Image.new("RGB", SIZE, colour)),
            kind=MediaKind.IMAGE,
            mime="image/png",
            title="a square",
            now=SystemClock().now(),
        )


def drawn_mask(size: tuple[int, int] = SIZE) -> str:
    """A mask as a client would send it: opaque strokes on transparency, base64."""
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    ImageDraw.Draw(layer).ellipse((100, 100, 300, 300), fill=(255, 255, 255, 255))
    return base64.b64encode(_png(layer)).decode()


def the_job(api: Api) -> GenerationJob:
    with read_scope(api.engine) as session:
        (job,) = session.exec(select(GenerationJob)).all()
    return job


def graph_of(job: GenerationJob) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The graph the runner sends for `job` (its source and mask named as uploaded), and the
    upload names."""
    tools = Tools.from_json(job.request.get("tools"))
    source = "source.png" if tools.source else None
    mask = "mask.png" if mask_of(job) else None
    graph = build_graph(
        request_of(job, tools=tools.with_images(source, mask), reference_images=()), PRESETS
    )
    return graph, tuple(name for name in (source, mask) if name)


def submitted_with_tools(
    api: Api, token: str, body: dict[str, Any], tools: dict[str, Any]
) -> tuple[GenerationJob, dict[str, Any]]:
    """Submit `body` with `tools` over the API; the job and its quote, which must price the
    tools above the same request without them."""
    with api.client(token) as client:
        plain = client.post("/v1/estimate", json=body).json()
        quote = client.post("/v1/estimate", json=body | {"tools": tools}).json()
        created = client.post("/v1/jobs", json=body | {"tools": tools})
    assert created.status_code == 201, created.text
    assert quote["gpu_seconds"] > plain["gpu_seconds"]
    return the_job(api), quote


def test_the_api_s_lists_are_the_tools_own() -> None:
    assert get_args(schemas.Mode) == (*comfy_tools.MODES, "img2video")
    assert "img2video" in comfy_tools.VIDEO_MODES
    assert get_args(schemas.VideoFormat) == comfy_tools.VIDEO_FORMATS
    assert get_args(schemas.InpaintMethod) == comfy_tools.INPAINT_METHODS
    assert get_args(schemas.LatentUpscaleMethod) == comfy_tools.LATENT_UPSCALE_METHODS


def test_a_users_picture_is_animated_into_an_mp4_through_the_api(api: Api) -> None:
    user, token = api.user_with_token(credits=5000)
    picture = own_picture(api, user)
    body = {"prompt": "the harbour waves gently", "preset": "low", "kind": "video"}
    tools = {"mode": "img2video", "source_asset_id": picture.id, "length": 49, "fps": 24}
    with api.client(token) as client:
        plain = client.post("/v1/estimate", json=body).json()
        quote = client.post("/v1/estimate", json=body | {"tools": tools})
        created = client.post("/v1/jobs", json=body | {"tools": tools})
    assert quote.status_code == 200, quote.text
    assert created.status_code == 201, created.text
    assert quote.json()["gpu_seconds"] > plain["gpu_seconds"]  # 49 frames, not 33
    job = the_job(api)
    stored = Tools.from_json(job.request["tools"])
    assert (job.kind, job.model) == (MediaKind.VIDEO, PRESETS.i2v_model)
    assert (stored.source, stored.source_size, stored.length, stored.fps) == (
        picture.sha256,
        SIZE,
        49,
        24.0,
    )
    graph, uploads = graph_of(job)
    assert_well_formed(graph, uploads)
    assert only(graph, "SaveVideo")["format"] == "mp4"
    assert only(graph, "WanImageToVideo")["length"] == 49


def test_loras_sizes_sampler_controls_and_hires_fix_through_the_api(api: Api) -> None:
    user, token = api.user_with_token(credits=1000)
    body = {"prompt": "a lighthouse at dusk", "preset": "low"}
    tools = {
        "width": 832,
        "height": 1216,
        "loras": [{"name": LORA, "weight": -0.75}],
        "steps": 22,
        "cfg": 4.5,
        "sampler": "euler",
        "scheduler": "beta",
        "hires": {"scale": 1.5, "denoise": 0.35, "steps": 10, "upscaler": UPSCALER},
    }
    job, quote = submitted_with_tools(api, token, body, tools)
    assert job.estimated_credits == quote["credits_held"]
    assert _balance(api.engine, user) == 1000 - quote["credits_held"]
    graph, uploads = graph_of(job)
    assert_well_formed(graph, uploads)
    assert only(graph, "LoraLoader")["lora_name"] == LORA
    assert only(graph, "LoraLoader")["strength_model"] == -0.75
    assert only(graph, "EmptyLatentImage")["width"] == 832
    assert only(graph, "UpscaleModelLoader")["model_name"] == UPSCALER
    samplers = [n["inputs"] for n in graph.values() if n["class_type"] == "KSampler"]
    assert [(s["steps"], s["sampler_name"], s["scheduler"]) for s in samplers] == [
        (22, "euler", "beta"),
        (10, "euler", "beta"),
    ]


def test_a_face_fix_through_the_api_is_priced_and_reaches_the_graph(api: Api) -> None:
    _user, token = api.user_with_token(credits=1000)
    body = {"prompt": "a portrait in a garden", "preset": "low"}
    tools = {"face_fix": {"denoise": 0.3, "confidence": 0.6, "steps": 8}}
    job, _quote = submitted_with_tools(api, token, body, tools)
    graph, uploads = graph_of(job)
    assert_well_formed(graph, uploads)
    face = only(graph, "FaceDetailer")
    assert (face["denoise"], face["bbox_threshold"], face["steps"]) == (0.3, 0.6, 8)


def test_an_own_picture_is_upscaled_without_a_prompt_priced_by_its_output(api: Api) -> None:
    user, token = api.user_with_token(credits=1000)
    picture = own_picture(api, user)
    body = {"tools": {"mode": "upscale", "upscaler": UPSCALER, "source_asset_id": picture.id}}
    with api.client(token) as client:
        quote = client.post("/v1/estimate", json=body).json()
        created = client.post("/v1/jobs", json=body)
    assert created.status_code == 201, created.text
    output_pixels = SIZE[0] * 4 * SIZE[1] * 4
    assert quote["gpu_seconds"] == pytest.approx(UPSCALE_S_PER_MEGAPIXEL * output_pixels / 1e6)
    tools = Tools.from_json(the_job(api).request["tools"])
    assert (tools.source, tools.source_size) == (picture.sha256, SIZE)
    graph, uploads = graph_of(the_job(api))
    assert_well_formed(graph, uploads)
    assert only(graph, "LoadImage")["image"] == "source.png"


def test_inpaint_with_an_uploaded_mask_fits_it_to_the_picture(api: Api) -> None:
    user, token = api.user_with_token(credits=1000)
    picture = own_picture(api, user)
    body = {
        "prompt": "a red door",
        "explicit": True,  # the user's own generated pictures are sources in any mode
        "tools": {
            "mode": "inpaint",
            "source_asset_id": picture.id,
            "mask_png": drawn_mask(),
            "denoise": 0.8,
            "mask_grow": 12,
        },
    }
    with api.client(token) as client:
        created = client.post("/v1/jobs", json=body)
    assert created.status_code == 201, created.text
    job = the_job(api)
    stored = mask_of(job)
    assert stored is not None
    with Image.open(io.BytesIO(stored)) as mask:
        assert (mask.mode, mask.size) == ("L", SIZE)
        assert mask.getpixel((200, 200)) == 255 and mask.getpixel((10, 10)) == 0
    graph, uploads = graph_of(job)
    assert uploads == ("source.png", "mask.png")
    assert_well_formed(graph, uploads)
    assert only(graph, "KSampler")["denoise"] == 0.8


@pytest.mark.parametrize(
    ("tools", "status", "says"),
    [
        ({"mode": "inpaint", "mask_png": drawn_mask((256, 256))}, 422, "256x256"),
        ({"mode": "inpaint", "mask_png": drawn_mask(), "source_asset_id": None}, 422, "source"),
        ({"mode": "inpaint", "mask_png": "not base64!"}, 422, "base64"),
        ({"mode": "img2img", "mask_png": drawn_mask()}, 422, "inpaint"),
        ({"mode": "inpaint"}, 422, "mask"),
        ({"mode": "img2img", "source_asset_id": "other"}, 404, "source"),
        ({"loras": [{"name": "nonesuch.safetensors"}]}, 422, "LoRA"),
        ({"loras": [{"name": LORA, "weight": 2.5}]}, 422, "weight"),
        ({"width": 2048, "height": 2560}, 422, "megapixels"),
        ({"width": 1004, "height": 1024}, 422, "width"),
        ({"width": 1024}, 422, "both"),
        ({"sampler": "nonesuch"}, 422, "sampler"),
        ({"mode": "upscale", "upscaler": "nonesuch.pth"}, 422, "upscale"),
        ({"mode": "inpaint", "mask_png": drawn_mask(), "hires": {}}, 422, "Hires"),
        ({"mode": "hologram"}, 422, "mode"),
        ({"face_fix": {"denoise": 1.5}}, 422, "denoise"),
        ({"face_fix": {"denoise": 0}}, 422, "denoise"),
        ({"mode": "upscale", "upscaler": UPSCALER, "face_fix": {}}, 422, "not with upscale"),
    ],
)
def test_bad_tools_are_refused_before_any_credit_is_held(
    api: Api, tools: dict[str, Any], status: int, says: str
) -> None:
    user, token = api.user_with_token(credits=1000)
    other, _ = api.user_with_token()
    mine, theirs = own_picture(api, user), own_picture(api, other, colour="navy")
    # A tool working on a picture gets the user's own, unless the case names another (or
    # none, as None).
    if tools.get("mode") in ("inpaint", "img2img", "upscale"):
        tools = {"source_asset_id": mine.id} | tools
    if tools.get("source_asset_id") == "other":
        tools = tools | {"source_asset_id": theirs.id}
    with api.client(token) as client:
        for path in ("/v1/estimate", "/v1/jobs"):
            reply = client.post(path, json={"prompt": "a red door", "tools": tools})
            assert reply.status_code == status, reply.text
            assert says.lower() in reply.json()["error"].lower()
    assert _balance(api.engine, user) == 1000
    with read_scope(api.engine) as session:
        assert not session.exec(select(GenerationJob)).all()
