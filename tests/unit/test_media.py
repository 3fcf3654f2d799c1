"""Media files by their bytes: magic-byte types, MP4 frames and posters, MP4 settings."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from core import mediatype, video
from core.errors import ValidationFailed
from core.gallery import store
from core.models import MediaKind
from core.studio.reader import read_settings
from sim.comfy import render

GRAPH = {"1": {"class_type": "SaveVideo", "inputs": {"filename_prefix": "aikings"}}}


def clip(frames: int = 9, size: tuple[int, int] = (64, 48), fps: float = 16.0) -> bytes:
    """A real H.264 MP4 as the simulator's SaveVideo writes it (the graph as `prompt`)."""
    return render.mp4(size, 7, {"prompt": GRAPH}, frames, fps)


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(out, format="PNG")
    return out.getvalue()


@pytest.mark.parametrize(
    ("head", "mime"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 8, "image/png"),
        (b"\xff\xd8\xff\xe0" + b"\0" * 8, "image/jpeg"),
        (b"RIFF\0\0\0\0WEBPVP8 ", "image/webp"),
        (b"GIF89a" + b"\0" * 8, "image/gif"),
        (b"\0\0\0\x20ftypisom\0\0\x02\0", "video/mp4"),
        (b"\0\0\0\x14ftypqt  \0\0\0\0", "video/quicktime"),
        (b"\x1a\x45\xdf\xa3" + b"\0" * 8, "video/webm"),
        (b"<html><body>", "application/octet-stream"),
        (b"", "application/octet-stream"),
    ],
)
def test_the_media_type_is_what_the_first_bytes_say(head: bytes, mime: str) -> None:
    assert mediatype.sniff_mime(head) == mime


def test_the_simulated_save_video_writes_a_real_h264_mp4() -> None:
    data = clip(frames=9)
    assert mediatype.sniff_mime(data) == mediatype.MP4
    frames = video.mp4_frames(data, max_frames=100, max_pixels=10_000)
    assert len(frames) == 9
    assert {frame.size for frame in frames} == {(64, 48)}
    assert frames[0].tobytes() != frames[-1].tobytes()  # it moves


def test_sampled_frames_are_spread_evenly_and_start_with_the_poster() -> None:
    data = clip(frames=17)
    every = video.mp4_frames(data, max_frames=100, max_pixels=10_000)
    picked = video.mp4_frames(data, max_frames=3, max_pixels=10_000)
    assert [f.tobytes() for f in picked] == [every[i].tobytes() for i in (0, 8, 16)]
    poster = video.mp4_poster(data, max_pixels=10_000)
    assert poster.tobytes() == every[0].tobytes()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (png_bytes(), "not an MP4"),
        (clip()[:200], "damaged|truncated|no frames|no video"),
    ],
)
def test_a_file_that_is_no_whole_mp4_is_refused_with_a_message(data: bytes, message: str) -> None:
    with pytest.raises(ValidationFailed, match=message):
        video.mp4_frames(data, max_frames=2, max_pixels=10_000)


def test_frames_larger_than_the_cap_are_refused_before_decoding() -> None:
    with pytest.raises(ValidationFailed, match="64x48 pixels"):
        video.mp4_poster(clip(), max_pixels=64 * 48 - 1)


def test_comfyui_s_own_mp4_metadata_is_read_back_as_its_graph() -> None:
    graph = {
        "3": {"class_type": "KSampler", "inputs": {"seed": 5, "steps": 20, "cfg": 6.0}},
        "9": {"class_type": "SaveVideo", "inputs": {"video": ["8", 0]}},
    }
    data = render.mp4((32, 32), 1, {"prompt": graph}, 5, 16.0)
    assert read_settings(data).seed == 5


def test_settings_put_into_an_mp4_are_read_back_and_the_frames_kept() -> None:
    data = clip(frames=5)
    parameters = (
        "a lighthouse at dusk\nNegative prompt: blurry\nSteps: 20, Sampler: uni_pc, "
        "Schedule type: simple, CFG scale: 6.0, Seed: 42, Size: 64x48, Model: wan.safetensors, "
        "Frames: 5, FPS: 16, Version: AI KINGS"
    )
    tagged = video.mp4_with_metadata(data, {"parameters": parameters, "prompt": "{}"})
    settings = read_settings(tagged)
    assert (settings.prompt, settings.negative_prompt) == ("a lighthouse at dusk", "blurry")
    assert (settings.seed, settings.steps, settings.width, settings.height) == (42, 20, 64, 48)
    before = video.mp4_frames(data, max_frames=10, max_pixels=10_000)
    after = video.mp4_frames(tagged, max_frames=10, max_pixels=10_000)
    assert [f.tobytes() for f in after] == [f.tobytes() for f in before]  # remuxed, not encoded


def test_an_mp4_output_is_a_video_of_its_own_type_with_its_settings_and_a_poster() -> None:
    prepared = store.prepare_output(
        clip(), kind=MediaKind.VIDEO, mime="video/mp4", metadata={"prompt": json.dumps(GRAPH)}
    )
    assert (prepared.kind, prepared.mime, prepared.image.size) == (
        MediaKind.VIDEO,
        "video/mp4",
        (64, 48),
    )
    assert b"mdta" in prepared.data
    thumb = Image.open(io.BytesIO(store.make_thumbnail(prepared.data)))
    assert (thumb.format, thumb.size) == ("WEBP", (64, 48))


@pytest.mark.parametrize(
    ("data", "mime", "kind", "message"),
    [
        (clip(), "image/png", MediaKind.VIDEO, "video/mp4, not image/png"),
        (png_bytes(), "video/mp4", MediaKind.VIDEO, "image/png, not video/mp4"),
        (clip(), "video/mp4", MediaKind.IMAGE, "not accepted here"),
    ],
    ids=["mp4 named png", "png named mp4", "video for an image job"],
)
def test_an_output_whose_bytes_are_not_what_its_name_says_is_refused(
    data: bytes, mime: str, kind: MediaKind, message: str
) -> None:
    with pytest.raises(ValidationFailed, match=message):
        store.prepare_output(data, kind=kind, mime=mime)


def test_a_still_is_an_image_and_an_animation_a_video_whatever_the_job_asked() -> None:
    still = store.prepare_output(png_bytes(), kind=MediaKind.VIDEO, mime="image/png")
    assert still.kind is MediaKind.IMAGE
    animation = render.animated_webp((32, 32), 1, GRAPH, 3, 8.0)
    moving = store.prepare_output(animation, kind=MediaKind.VIDEO, mime="image/webp")
    assert moving.kind is MediaKind.VIDEO
