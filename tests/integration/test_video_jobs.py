"""Video end to end on the simulated stack (SQLite and PostgreSQL): a still animated with Wan
2.1 image-to-video into an H.264 MP4, and a text-to-video animated WebP; each stored with the
media type its bytes have, screened frame by frame, thumbnailed with its poster frame, and
its settings read back from the file. Image-to-video is priced by its clip and refused for
someone else's picture before any credit is held."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

import pytest
from PIL import Image

from core import mediatype, video
from core.comfy.tools import Tools
from core.db import read_scope
from core.errors import NotFound
from core.gallery import store
from core.models import Asset, MediaKind
from core.safety import ScreeningResult
from core.safety.outputs import sample_frames
from core.studio.compose import StudioRequest
from core.studio.pricing import estimate
from core.studio.reader import _metadata_texts, read_settings
from testing.factories import make_asset, make_user
from tests.integration import test_job_path as job_path
from tests.integration.test_tool_jobs import PRESETS, PRICING, _refused, finished_job

comfy_config, stack = job_path.comfy_config, job_path.stack  # the job path's simulated stack
_drive, _fund = job_path._drive, job_path._fund


@dataclass
class CountingScreener:
    """Passes every output, noting the media type and the frames it was shown."""

    seen: list[tuple[str, int]]

    def screen(self, data: bytes, mime: str, *, image: Image.Image | None = None):
        self.seen.append((mime, len(sample_frames(data, image=image))))
        return ScreeningResult("passed", "counted", {"FACE_FEMALE": 0.1}, model="counting")


def _poster(runtime, asset_id: int) -> Image.Image:
    runtime.run_context.after_job.shutdown(wait=True)  # thumbnails come after the job is done
    with read_scope(runtime.engine) as session:
        thumb = session.get(Asset, asset_id).thumb_sha256
    assert thumb is not None
    return Image.open(io.BytesIO(store.read(runtime.settings.media_root, thumb)))


def test_a_still_is_animated_into_a_screened_mp4_with_a_poster_and_its_settings(engine, stack):
    runtime, _vast, _comfy = stack
    screener = CountingScreener([])
    runtime.run_context.screener = screener
    user = make_user(engine)
    _fund(engine, user, credits=5000)
    _job_row, still, _png = finished_job(runtime, user, seed=3)
    assert (still.kind, still.mime) == (MediaKind.IMAGE, "image/png")

    tools = Tools(mode="img2video", source=still.sha256, length=17, fps=12.0)
    job, clip, data = finished_job(runtime, user, kind=MediaKind.VIDEO, seed=77, tools=tools)
    assert job.model == PRESETS.i2v_model
    assert (clip.kind, clip.mime, mediatype.sniff_mime(data)) == (
        MediaKind.VIDEO,
        "video/mp4",
        "video/mp4",
    )
    frames = video.mp4_frames(data, max_frames=100, max_pixels=10**7)
    assert len(frames) == 17
    assert frames[0].size == (clip.width, clip.height)
    assert clip.width == clip.height  # the square still's shape, at the preset's pixels
    assert screener.seen[-1] == ("video/mp4", 8)  # eight frames spread over the clip
    assert clip.screen_model == "counting"

    poster = _poster(runtime, clip.id)
    assert (poster.format, poster.size) == ("WEBP", (clip.width, clip.height))

    settings = read_settings(data)
    assert (settings.prompt, settings.seed, settings.model) == (
        "a lighthouse at dusk",
        77,
        PRESETS.i2v_model,
    )
    items = _mdta(data)
    assert "Frames: 17, FPS: 12" in items["parameters"]
    graph = json.loads(items["prompt"])
    assert {"WanImageToVideo", "CLIPVisionEncode", "CreateVideo", "SaveVideo"} <= {
        node["class_type"] for node in graph.values()
    }


def _mdta(data: bytes) -> dict[str, str]:
    """The MP4's metadata items, as the settings reader finds them."""
    return _metadata_texts(data)


def test_text_to_video_can_still_be_an_animated_webp(engine, stack):
    runtime, _vast, _comfy = stack
    user = make_user(engine)
    _fund(engine, user, credits=5000)
    tools = Tools(video_format="webp", length=9)
    _job_row, clip, data = finished_job(runtime, user, kind=MediaKind.VIDEO, tools=tools)
    assert (clip.kind, clip.mime, mediatype.sniff_mime(data)) == (
        MediaKind.VIDEO,
        "image/webp",
        "image/webp",
    )
    with Image.open(io.BytesIO(data)) as animation:
        assert animation.n_frames == 9
    poster = _poster(runtime, clip.id)
    assert poster.format == "WEBP"


def test_image_to_video_is_priced_by_its_clip_length(engine):
    source = "a" * 64

    def seconds(**tools) -> float:
        request = StudioRequest(
            prompt="x", preset="low", kind=MediaKind.VIDEO, tools=Tools(**tools)
        )
        with read_scope(engine) as session:
            quote = estimate(session, request, presets=PRESETS, pricing=PRICING, pool="default")
        return quote.gpu_seconds

    preset = PRESETS.preset("low", "video")
    plain = seconds()
    assert plain == pytest.approx(preset.expected_seconds)
    assert seconds(length=preset.length * 2 - 1) == pytest.approx(
        plain * (preset.length * 2 - 1) / preset.length
    )
    square = seconds(mode="img2video", source=source, source_size=(1000, 1000))
    assert square == pytest.approx(plain, rel=0.1)  # the preset's pixels in the still's shape


def test_someone_elses_picture_cannot_be_animated(engine):
    owner, other = make_user(engine), make_user(engine)
    _fund(engine, other)
    asset = make_asset(engine, owner)
    tools = Tools(mode="img2video", source=asset.sha256)
    _refused(engine, other, NotFound, "source picture", kind=MediaKind.VIDEO, tools=tools)
