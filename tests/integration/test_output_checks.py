"""A picture job's output is checked after the job, and shown to nobody until it is.

The job stores the PNG as it came (header read, metadata spliced in) as a hidden asset
`waiting` and ends; `core.gallery.verdicts` then decodes it, looks it up among the blocked
pictures, has the screener judge it and makes its thumbnail, before it is shown.
"""

from __future__ import annotations

import dataclasses
import io
import threading
from datetime import UTC, datetime, timedelta

from PIL import Image, ImageDraw
from sqlmodel import select

from core.accounts import ledger
from core.db import read_scope, session_scope
from core.gallery import fingerprints, screening, store, verdicts
from core.models import (
    Asset,
    AssetTag,
    AuditEntry,
    BlockedHash,
    GenerationJob,
    JobStatus,
    Screening,
)
from core.safety import ScreeningResult
from core.studio import history
from testing.factories import make_asset, make_funded_user, make_job, make_user
from testing.statements import statements_sent
from tests.integration import test_job_path as job_path
from tests.integration.test_output_screening import Flagging

stack, comfy_config = job_path.stack, job_path.comfy_config

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
PASSED = ScreeningResult("passed", "nothing explicit detected", {"FACE_FEMALE": 0.1}, "stub")


class Gate:
    """A stub detector that waits (up to 10 s) until the test opens it."""

    def __init__(self) -> None:
        self.asked, self.open = threading.Event(), threading.Event()

    def screen(self, data: bytes, mime: str, *, image=None) -> ScreeningResult:
        self.asked.set()
        self.open.wait(timeout=10)
        return PASSED


class Passing:
    def screen(self, data: bytes, mime: str, *, image=None) -> ScreeningResult:
        return PASSED


def test_a_picture_job_ends_before_its_output_is_checked_and_nobody_sees_it_until_then(
    engine, stack
):
    """On the job path as it was, the job waited for the screener: it never ended here."""
    runtime, _vast, _comfy = stack
    gate = Gate()
    runtime.dispatcher.run_context = dataclasses.replace(runtime.run_context, screener=gate)
    user, job = job_path._funded_job(engine, runtime, seed=7)
    done = job_path._drive_until(
        runtime, job.id, lambda j: j.status in (JobStatus.SUCCEEDED, JobStatus.FAILED), 5
    )
    assert done.status is JobStatus.SUCCEEDED and done.charged_credits >= 1
    with read_scope(engine) as session:
        (asset,) = session.exec(select(Asset).where(Asset.job_id == job.id)).all()
        shown = history.job_assets(session, job_id=job.id, user_id=user.id)
        checking = history.being_checked(session, job_id=job.id, user_id=user.id)
    assert (asset.screening, asset.hidden, asset.screened_at, asset.thumb_sha256) == (
        Screening.WAITING,
        True,
        None,
        None,
    )
    assert (shown, checking) == ([], 1)
    # The stored file is the job's picture with its metadata, as before.
    text = store.read_png_metadata(store.read(runtime.settings.media_root, asset.sha256))
    assert "Seed: 7" in text["parameters"]
    gate.open.set()
    job_path._await_checks(runtime, job.id, 30)
    with read_scope(engine) as session:
        checked = session.get(Asset, asset.id)
        shown = history.job_assets(session, job_id=job.id, user_id=user.id)
        checking = history.being_checked(session, job_id=job.id, user_id=user.id)
    assert gate.asked.is_set()
    assert (checked.screening, checked.hidden, checked.screen_model) == (
        Screening.PENDING,
        False,
        "stub",
    )
    assert checked.screened_at is not None and checked.thumb_sha256 is not None
    assert ([a.id for a in shown], checking) == ([asset.id], 0)


def test_a_flagged_output_stays_hidden_after_its_checks(engine, stack):
    runtime, _vast, _comfy = stack
    runtime.dispatcher.run_context = dataclasses.replace(runtime.run_context, screener=Flagging())
    user, job = job_path._funded_job(engine, runtime, seed=8)
    assert job_path._drive(runtime, job.id).status is JobStatus.SUCCEEDED
    with read_scope(engine) as session:
        (asset,) = session.exec(select(Asset).where(Asset.job_id == job.id)).all()
        shown = history.job_assets(session, job_id=job.id, user_id=user.id)
        held = history.held_for_review(session, job_id=job.id, user_id=user.id)
    assert (asset.screening, asset.hidden, shown, held) == (Screening.FLAGGED, True, [], 1)


def _picture(seed: int, *, shift: int = 0) -> bytes:
    """A 256² PNG with shapes (not flat: it has a perceptual hash); `shift` moves one pixel
    row's worth of detail, which keeps the perceptual hash and changes the bytes."""
    image = Image.new("RGB", (256, 256), (20 * seed % 255, 90, 160))
    draw = ImageDraw.Draw(image)
    draw.rectangle((30, 40, 150, 200), fill=(240, 200, 40))
    draw.ellipse((120, 20, 240, 140), fill=(10, 10, 10))
    image.putpixel((255, 255 - shift), (255, 255, 255))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _waiting(engine, media, owner, data: bytes, *, now, tags=(), job_id=None) -> int:
    output = store.still_png_header(data, mime="image/png")
    assert output is not None
    with session_scope(engine) as session:
        asset = store.save_waiting(
            session,
            media=media,
            owner_id=owner.id,
            job_id=job_id,
            muse_id=None,
            output=output,
            title="output",
            now=now,
            tags=tags,
        )
        return asset.id


def test_a_near_copy_of_a_taken_down_picture_is_removed_by_its_checks(engine, tmp_path):
    owner = make_user(engine)
    blocked, copy = _picture(1), _picture(1, shift=3)
    assert blocked != copy
    image = Image.open(io.BytesIO(blocked))
    with session_scope(engine) as session:
        session.add(
            BlockedHash(
                sha256="b" * 64,
                phash=fingerprints.perceptual_hash(image),
                reason="takedown",
                created_at=owner.created_at,
            )
        )
    asset_id = _waiting(engine, tmp_path, owner, copy, now=owner.created_at, tags=("sea",))
    sha = store.still_png_header(copy, mime="image/png").sha256
    assert store.as_store(tmp_path).has(sha)
    waiting = verdicts.Waiting(asset_id, copy, "image/png", False)
    recorded = verdicts.check(
        engine, media=tmp_path, screener=Passing(), now=lambda: owner.created_at, outputs=[waiting]
    )
    with read_scope(engine) as session:
        gone = session.get(Asset, asset_id)
        tags = session.exec(select(AssetTag).where(AssetTag.asset_id == asset_id)).all()
        audited = session.exec(
            select(AuditEntry.action).where(AuditEntry.target == f"asset:{asset_id}")
        ).all()
    assert (recorded, gone, tags) == (1, None, [])
    assert audited == ["output.blocked_copy_removed"]
    assert not store.as_store(tmp_path).has(sha)


def _block(engine, picture: bytes, *, now) -> None:
    with session_scope(engine) as session:
        session.add(
            BlockedHash(
                sha256="b" * 64,
                phash=fingerprints.perceptual_hash(Image.open(io.BytesIO(picture))),
                reason="takedown",
                created_at=now,
            )
        )


def _settled_job(engine, owner, *, charged: int) -> int:
    now = NOW
    job = make_job(engine, owner, status=JobStatus.SUCCEEDED)
    with session_scope(engine) as session:
        ledger.hold_for_job(session, user_id=owner.id, job_id=job.id, credits=charged, now=now)
        assert ledger.settle_job(session, job_id=job.id, charged_credits=charged, now=now)
    return job.id


def test_a_job_whose_only_output_was_a_blocked_copy_fails_and_gets_its_charge_back(
    engine, tmp_path
):
    owner = make_funded_user(engine, 10, now=NOW)
    _block(engine, _picture(1), now=NOW)
    job_id = _settled_job(engine, owner, charged=4)
    assert _balance(engine, owner) == 6
    copy = _picture(1, shift=3)
    outputs = [
        verdicts.Waiting(
            _waiting(engine, tmp_path, owner, copy, now=NOW, job_id=job_id),
            copy,
            "image/png",
            False,
        )
    ]
    for _ in range(2):  # a second pass (the backstop meeting the job's own) refunds nothing
        verdicts.check(engine, media=tmp_path, screener=Passing(), now=lambda: NOW, outputs=outputs)
    with read_scope(engine) as session:
        job = session.get(GenerationJob, job_id)
    assert job.status is JobStatus.FAILED
    assert "taken down" in job.error and "refunded" in job.error
    assert _balance(engine, owner) == 10


def test_a_job_with_an_output_left_keeps_its_result_and_charge(engine, tmp_path):
    owner = make_funded_user(engine, 10, now=NOW)
    _block(engine, _picture(1), now=NOW)
    job_id = _settled_job(engine, owner, charged=4)
    copy, other = _picture(1, shift=3), _mirrored(_picture(1))
    outputs = [
        verdicts.Waiting(
            _waiting(engine, tmp_path, owner, data, now=NOW, job_id=job_id),
            data,
            "image/png",
            False,
        )
        for data in (copy, other)
    ]
    verdicts.check(engine, media=tmp_path, screener=Passing(), now=lambda: NOW, outputs=outputs)
    with read_scope(engine) as session:
        job = session.get(GenerationJob, job_id)
    assert (job.status, job.error, _balance(engine, owner)) == (JobStatus.SUCCEEDED, None, 6)


def _mirrored(picture: bytes) -> bytes:
    """The picture turned upside down: other shapes, so another perceptual hash."""
    out = io.BytesIO()
    Image.open(io.BytesIO(picture)).transpose(Image.Transpose.FLIP_TOP_BOTTOM).save(out, "PNG")
    return out.getvalue()


def _balance(engine, owner) -> int:
    with read_scope(engine) as session:
        return ledger.balance(session, owner.id)


def test_an_output_that_does_not_decode_is_held_even_from_an_explicit_request(engine, tmp_path):
    owner = make_user(engine)
    data = _picture(2)
    broken = data[: len(data) // 2]  # a valid header, truncated pixels
    assert store.still_png_header(broken, mime="image/png") is not None
    asset_id = _waiting(engine, tmp_path, owner, broken, now=owner.created_at)
    waiting = verdicts.Waiting(asset_id, broken, "image/png", True)
    verdicts.check(
        engine, media=tmp_path, screener=Passing(), now=lambda: owner.created_at, outputs=[waiting]
    )
    with read_scope(engine) as session:
        asset = session.get(Asset, asset_id)
        queued = [a.id for a in screening.flagged_outputs(session)]
    assert (asset.screening, asset.hidden, queued) == (Screening.FLAGGED, True, [asset_id])


def test_an_output_is_checked_once_when_the_backstop_and_its_pass_meet(engine, tmp_path):
    owner = make_user(engine)
    data = _picture(3)
    asset_id = _waiting(engine, tmp_path, owner, data, now=owner.created_at)
    waiting = verdicts.Waiting(asset_id, data, "image/png", False)
    first = verdicts.check(
        engine, media=tmp_path, screener=Passing(), now=lambda: owner.created_at, outputs=[waiting]
    )
    again = verdicts.check(
        engine,
        media=tmp_path,
        screener=Flagging(),
        now=lambda: owner.created_at,
        outputs=[waiting],
    )
    with read_scope(engine) as session:
        asset = session.get(Asset, asset_id)
    assert (first, again, asset.screening, asset.hidden) == (1, 0, Screening.PENDING, False)


def test_the_backstop_checks_what_a_stopped_process_left_waiting_and_not_a_fresh_output(
    engine, tmp_path
):
    owner = make_user(engine)
    start = owner.created_at
    left = _waiting(engine, tmp_path, owner, _picture(4), now=start)
    fresh = _waiting(engine, tmp_path, owner, _picture(5), now=start + timedelta(seconds=50))
    later = start + verdicts.BACKSTOP_AFTER + timedelta(seconds=1)
    checked = verdicts.check_waiting(engine, media=tmp_path, screener=Passing(), now=lambda: later)
    with read_scope(engine) as session:
        states = [session.get(Asset, i).screening for i in (left, fresh)]
    assert (checked, states) == (1, [Screening.PENDING, Screening.WAITING])


def _plans(engine, statements) -> list[str]:
    """Each statement's query plan as one text (PostgreSQL's planner told that a sequential
    scan costs too much, so tiny tables show which index it can use)."""
    explain = "EXPLAIN QUERY PLAN" if engine.dialect.name == "sqlite" else "EXPLAIN"
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        return [
            "\n".join(str(row[-1]) for row in connection.exec_driver_sql(f"{explain} {s}", p))
            for s, p in statements
        ]


def test_the_backstop_and_the_review_queue_read_their_partial_indexes_not_the_whole_table(
    engine, tmp_path
):
    owner = make_user(engine)
    for _ in range(3):
        make_asset(engine, owner)  # public and screened: in neither index
    _waiting(engine, tmp_path, owner, _picture(6), now=owner.created_at)
    later = owner.created_at + verdicts.BACKSTOP_AFTER + timedelta(seconds=1)
    with statements_sent(engine) as backstop:
        verdicts.check_waiting(engine, media=tmp_path, screener=Flagging(), now=lambda: later)
    with statements_sent(engine) as queue, read_scope(engine) as session:
        (flagged,) = screening.flagged_outputs(session)
    waiting_plan = _plans(engine, [s for s in backstop if "screening = 'waiting'" in s[0]])
    queue_plan = _plans(engine, [s for s in queue if "FROM asset" in s[0]])
    assert len(waiting_plan) == 1 and "ix_asset_waiting" in waiting_plan[0], waiting_plan
    assert len(queue_plan) == 1 and "ix_asset_flagged_undecided" in queue_plan[0], queue_plan
    assert flagged.screening is Screening.FLAGGED
