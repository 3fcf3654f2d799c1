"""Output screening: every stored output is judged, its labels kept; an explicit output of a
non-explicit request is hidden and queued for review; a moderator decides.

The real NudeNet detector runs on the shipped non-explicit images in
tests/fixtures/safety/images/ (landscapes, a city, shapes, an animated WebP, drawn with
Pillow). The flagging path uses a stub detector at the edge: no explicit image is in the repo.
"""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image, ImageStat
from sqlmodel import select

from core.config import REPO_ROOT, OutputScreenerKind
from core.db import read_scope, session_scope
from core.errors import NotFound, ValidationFailed
from core.gallery import listing, screening, store
from core.models import Asset, AuditEntry, JobStatus, MediaKind, Role, Screening, Visibility
from core.safety import ScreeningResult, shared_screener
from core.safety.outputs import (
    EXPLICIT_LABELS,
    INPUT_SIDE,
    NUDENET_LABELS,
    _input_blob,
    sample_frames,
)
from core.studio import history
from testing.factories import make_user, store_output
from tests.integration import test_job_path as job_path

# The job path's simulator stack, shared as fixtures.
stack, comfy_config = job_path.stack, job_path.comfy_config

IMAGES = REPO_ROOT / "tests" / "fixtures" / "safety" / "images"


@pytest.fixture(scope="session")
def nudenet():
    """The real detector, loaded once for the whole test session (as once per process)."""
    return shared_screener(OutputScreenerKind.NUDENET)


class Flagging:
    """A stub detector at the edge: calls everything explicit."""

    def screen(self, data: bytes, mime: str, *, image=None) -> ScreeningResult:
        return ScreeningResult("flagged", "explicit: FEMALE_BREAST_EXPOSED", {"X": 0.9}, "stub")


class Crashing:
    """A detector that fails."""

    def screen(self, data: bytes, mime: str, *, image=None) -> ScreeningResult:
        raise RuntimeError("model file unreadable")


def stored_output(
    engine, media: Path, owner, data: bytes, *, screener, explicit=False, job_id=None
):
    with session_scope(engine) as session:
        mime = "image/webp" if data[8:12] == b"WEBP" else "image/png"
        kind = MediaKind.VIDEO if mime == "image/webp" else MediaKind.IMAGE
        asset = store_output(
            session,
            media=media,
            owner_id=owner.id,
            data=data,
            title="output",
            now=owner.created_at,
            mime=mime,
            kind=kind,
            job_id=job_id,
        )
        screening.screen_output(
            session,
            asset=asset,
            data=data,
            explicit_request=explicit,
            screener=screener,
            now=owner.created_at,
        )
    with read_scope(engine) as session:
        return session.get(Asset, asset.id)


@pytest.mark.parametrize("name", sorted(p.name for p in IMAGES.iterdir()))
def test_nudenet_passes_the_shipped_non_explicit_images_and_records_its_labels(
    engine, tmp_path, nudenet, name
):
    owner = make_user(engine)
    asset = stored_output(engine, tmp_path, owner, (IMAGES / name).read_bytes(), screener=nudenet)
    assert set(asset.screen_labels) == set(NUDENET_LABELS)
    assert max(asset.screen_labels[label] for label in EXPLICIT_LABELS) < 0.4
    assert asset.screen_model.startswith("nudenet-3.4") and asset.screened_at is not None
    # Passing the detector is not approval: a moderator still reviews before public.
    assert (asset.screening, asset.hidden) == (Screening.PENDING, False)


def test_a_video_is_screened_on_sampled_frames():
    frames = sample_frames((IMAGES / "sunrise_animation.webp").read_bytes(), max_frames=3)
    assert [frame.size for frame in frames] == [(160, 120)] * 3
    assert frames[0].getpixel((150, 5)) != frames[-1].getpixel((150, 5))  # first and last


def test_an_mp4_is_screened_by_nudenet_on_frames_spread_over_the_clip(nudenet):
    frames = [Image.open(IMAGES / name).convert("RGB").resize((160, 128)) for name in SCENES]
    data = mp4_of(frames)
    sampled = sample_frames(data, max_frames=3)
    assert [frame.size for frame in sampled] == [(160, 128)] * 3
    # The first, middle and last scenes are the ones judged (lossy: compared by colour).
    for got, want in zip(sampled, (frames[0], frames[len(frames) // 2], frames[-1]), strict=True):
        assert _mean(got) == pytest.approx(_mean(want), abs=12)
    verdict = nudenet.screen(data, "video/mp4")
    assert verdict.verdict == "passed" and set(verdict.labels) == set(NUDENET_LABELS)


SCENES = sorted(p.name for p in IMAGES.iterdir() if p.suffix == ".png")


def _mean(image: Image.Image) -> tuple[float, ...]:
    return tuple(ImageStat.Stat(image).mean)


def mp4_of(frames: list[Image.Image]) -> bytes:
    """An H.264 MP4 of `frames`, one frame each, as a video output would be."""
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as box:
        stream = box.add_stream("libx264", rate=1)
        stream.width, stream.height, stream.pix_fmt = 160, 128, "yuv420p"
        for picture in frames:
            frame = av.VideoFrame.from_ndarray(np.asarray(picture), format="rgb24")
            box.mux(stream.encode(frame))
        box.mux(stream.encode())
    return out.getvalue()


def test_an_explicit_output_of_a_non_explicit_request_is_hidden_and_queued(engine, tmp_path):
    owner = make_user(engine)
    job_asset = stored_output(
        engine, tmp_path, owner, (IMAGES / "city_night.png").read_bytes(), screener=Flagging()
    )
    assert (job_asset.screening, job_asset.hidden) == (Screening.FLAGGED, True)
    assert job_asset.screen_labels == {"X": 0.9} and job_asset.screen_model == "stub"
    with read_scope(engine) as session:
        assert [a.id for a in screening.flagged_outputs(session)] == [job_asset.id]
        assert listing.list_assets(session, viewer_id=owner.id, scope="mine").items == []
        with pytest.raises(NotFound):
            listing.get_asset(session, viewer_id=owner.id, asset_id=job_asset.id)
        entry = session.exec(select(AuditEntry)).all()[-1]
    assert (entry.action, entry.actor, entry.target) == (
        "output.flagged",
        "screener",
        f"asset:{job_asset.id}",
    )


def test_an_explicit_output_of_an_explicit_request_stays_with_its_owner_pending(engine, tmp_path):
    owner = make_user(engine)
    data = (IMAGES / "city_night.png").read_bytes()
    asset = stored_output(engine, tmp_path, owner, data, screener=Flagging(), explicit=True)
    assert (asset.screening, asset.hidden) == (Screening.PENDING, False)
    assert asset.screen_labels == {"X": 0.9}


def test_a_failing_detector_holds_the_output_for_review(engine, tmp_path):
    owner = make_user(engine)
    data = (IMAGES / "abstract_shapes.png").read_bytes()
    asset = stored_output(engine, tmp_path, owner, data, screener=Crashing(), explicit=True)
    assert (asset.screening, asset.hidden) == (Screening.FLAGGED, True)


@pytest.mark.parametrize("release", [True, False])
def test_a_moderator_releases_or_removes_a_flagged_output(engine, tmp_path, release):
    owner, admin = make_user(engine), make_user(engine, role=Role.ADMIN)
    data = (IMAGES / "landscape_dusk.png").read_bytes()
    asset = stored_output(engine, tmp_path, owner, data, screener=Flagging())
    with session_scope(engine) as session, pytest.raises(ValidationFailed):
        screening.decide_flagged(
            session, asset_id=asset.id, moderator_id=owner.id, release=True, now=owner.created_at
        )
    with session_scope(engine) as session:
        screening.decide_flagged(
            session, asset_id=asset.id, moderator_id=admin.id, release=release, now=owner.created_at
        )
    with read_scope(engine) as session:
        decided = session.get(Asset, asset.id)
        assert screening.flagged_outputs(session) == []
        mine = listing.list_assets(session, viewer_id=owner.id, scope="mine").items
    if release:
        assert (decided.hidden, decided.screening, [a.id for a in mine]) == (
            False,
            Screening.PENDING,
            [asset.id],
        )
    else:
        assert (decided.hidden, decided.visibility, mine) == (True, Visibility.PRIVATE, [])
    again = ValidationFailed if not release else NotFound  # decided once, not twice
    with session_scope(engine) as session, pytest.raises(again):
        screening.decide_flagged(
            session, asset_id=asset.id, moderator_id=admin.id, release=True, now=owner.created_at
        )


def test_the_job_path_screens_each_output_and_holds_a_flagged_one(engine, stack):
    """A non-explicit studio job on the simulators, with the stub detector at the edge:
    the job succeeds and is charged, its output is hidden from the owner and queued."""
    runtime, _vast, _comfy = stack
    runtime.dispatcher.run_context = dataclasses.replace(runtime.run_context, screener=Flagging())
    user = make_user(engine)
    job_path._fund(engine, user)
    job = job_path._submit(runtime, user, seed=3)
    done = job_path._drive(runtime, job.id)
    assert done.status is JobStatus.SUCCEEDED, done.error
    with read_scope(engine) as session:
        (asset,) = session.exec(select(Asset).where(Asset.job_id == job.id)).all()
        shown = history.job_assets(session, job_id=job.id, user_id=user.id)
        held = history.held_for_review(session, job_id=job.id, user_id=user.id)
        queued = [a.id for a in screening.flagged_outputs(session)]
    assert (asset.screening, asset.hidden, shown, held, queued) == (
        Screening.FLAGGED,
        True,
        [],
        1,
        [asset.id],
    )
    assert done.charged_credits >= 1


def generated_output(engine, runtime, *, seed):
    """A new funded user's picture job run to success on the job path: the user, the job,
    and its one output."""
    user = make_user(engine)
    job_path._fund(engine, user)
    done = job_path._drive(runtime, job_path._submit(runtime, user, seed=seed).id)
    assert done.status is JobStatus.SUCCEEDED, done.error
    with read_scope(engine) as session:
        (asset,) = session.exec(select(Asset).where(Asset.job_id == done.id)).all()
    return user, done, asset


def test_the_job_path_runs_the_real_detector_by_default(engine, stack, nudenet):
    runtime, _vast, _comfy = stack
    assert runtime.run_context.screener is nudenet  # one detector per process
    _user, _done, asset = generated_output(engine, runtime, seed=4)
    assert asset.screen_model.startswith("nudenet") and set(asset.screen_labels) == set(
        NUDENET_LABELS
    )


@pytest.mark.parametrize("name", sorted(p.name for p in IMAGES.iterdir()))
def test_the_detector_judges_a_decoded_image_as_it_judges_the_file(nudenet, name):
    """The job path hands the screener the image it decoded once; the verdict is the same."""
    data = (IMAGES / name).read_bytes()
    kind = MediaKind.VIDEO if name.endswith(".webp") else MediaKind.IMAGE
    mime = "image/webp" if name.endswith(".webp") else "image/png"
    prepared = store.prepare_output(data, kind=kind, mime=mime)
    assert nudenet.screen(data, mime, image=prepared.image) == nudenet.screen(data, mime)


def test_a_detector_that_fails_on_the_job_path_holds_the_output(engine, stack):
    """The verdict reached before the unit of work (outside the database) still fails closed."""
    runtime, _vast, _comfy = stack
    runtime.dispatcher.run_context = dataclasses.replace(runtime.run_context, screener=Crashing())
    user, done, asset = generated_output(engine, runtime, seed=5)
    with read_scope(engine) as session:
        shown = history.job_assets(session, job_id=done.id, user_id=user.id)
    assert (asset.screening, asset.hidden, shown) == (Screening.FLAGGED, True, [])


@pytest.mark.parametrize("size", [(320, 240), (240, 320), (256, 256)])
def test_the_detector_input_is_the_frame_padded_square_bottom_right(size):
    """A square frame is resized as it is; any other is padded (black, bottom/right) first:
    either way the tensor is that of the frame on a black square of its longest side."""
    frame = Image.open(IMAGES / "landscape_dusk.png").convert("RGB").resize(size)
    square = Image.new("RGB", (max(size), max(size)))
    square.paste(frame, (0, 0))
    expected = np.asarray(square.resize((INPUT_SIDE, INPUT_SIDE), Image.Resampling.BILINEAR))
    blob = _input_blob(frame)
    assert blob.shape == (1, 3, INPUT_SIDE, INPUT_SIDE)
    assert np.array_equal(blob[0].transpose(1, 2, 0)[:, :, ::-1], expected / np.float32(255))
