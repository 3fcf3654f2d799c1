"""The checks a job's output waits for, off the job's path: decoded, looked up, screened.

A picture job stores its PNG as it came (header read, metadata spliced in: `store.save_waiting`)
as a hidden asset `waiting`, and finishes; nothing is shown, not even to its owner, before
this pass has decoded it with the upload checks (`store.prepare_output`), looked it up among
the blocked pictures (sha256 and perceptual hash), had the screener judge it and made its
thumbnail. Then, in one unit of work that finds the asset still `waiting`:

- a copy of a taken-down picture is removed (row, tags, and its file unless another asset
  holds the same bytes) and audited: it is never shown, as it was never stored before; a
  job left without outputs so fails, saying why, and its charge is given back;
- a file that does not decode is held for review, like a screener that failed (fail closed);
- anything else gets the screener's verdict recorded (`screening.record`: explicit from a
  non-explicit request flagged and hidden) and, unless flagged, is shown to its owner as any
  screened output (`pending` until a moderator approves it for the public).

The job's own process runs the pass right after the job (`core.studio.runner`); the leading
scheduler's backstop (`check_waiting`) takes the outputs left waiting by a process that died.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core import audit
from core.accounts import ledger
from core.db import read_scope, run_transaction
from core.errors import ValidationFailed
from core.gallery import fingerprints, screening, store
from core.gallery.takedown import BLOCKED_MESSAGE
from core.models import (
    Asset,
    AssetTag,
    AuditOutcome,
    GenerationJob,
    JobStatus,
    MediaKind,
    Screening,
)
from core.models.gallery import WAITING
from core.safety import OutputScreener, ScreeningResult

log = logging.getLogger(__name__)

UNDECODABLE = ScreeningResult("flagged", "the output did not decode; held for review")
BACKSTOP_AFTER = timedelta(seconds=60)
"""How long an output waits before the backstop takes it: the job's own process checks it
within moments, so an older one was left by a process that stopped."""
BACKSTOP_BATCH = 50


@dataclass(frozen=True)
class Waiting:
    """One stored output waiting for its checks, with what the pass needs to judge it."""

    asset_id: int
    data: bytes
    mime: str
    explicit_request: bool


@dataclass(frozen=True)
class Examined:
    """What the checks outside the database found: the decoded output (None: it did not
    decode), the screener's verdict and its thumbnail."""

    output: store.Output | None
    verdict: ScreeningResult
    thumbnail: bytes | None


def examine(data: bytes, *, mime: str, screener: OutputScreener) -> Examined:
    """Decode `data` with the upload checks, take its fingerprints, have `screener` judge it
    and make its thumbnail; no database."""
    try:
        output = store.prepare_output(data, kind=MediaKind.IMAGE, mime=mime)
    except ValidationFailed as exc:
        log.warning("output.undecodable", extra={"error": str(exc)[:200]})
        return Examined(None, UNDECODABLE, None)
    verdict = screening.judge(screener, output.data, output.mime, image=output.image)
    return Examined(output, verdict, store.thumbnail_of(output.image))


def record(
    session: Session,
    *,
    media: store.Media,
    waiting: Waiting,
    examined: Examined,
    now: datetime,
) -> tuple[bool, str | None]:
    """Record what `examine` found on the asset if it is still waiting (see the module):
    whether it was, and the sha256 of a removed copy's file to delete once this commits."""
    asset = session.get(Asset, waiting.asset_id, with_for_update=True)
    if asset is None or asset.screening is not Screening.WAITING:
        return False, None  # checked already (the backstop and the job's pass met), or gone
    output = examined.output
    if output is not None and fingerprints.is_blocked_picture(
        session, sha256=asset.sha256, image=output.image, phash=output.phash
    ):
        return True, _remove_copy(session, asset, now=now)
    if output is None:  # held whatever was asked for: nothing unjudged is shown
        asset.screening = Screening.FLAGGED
    else:
        asset.screening = Screening.PENDING  # `record` flags (and keeps hidden) what it must
        if examined.thumbnail is not None:
            asset.thumb_sha256 = store.write(media, examined.thumbnail)
    screening.record(
        session,
        asset=asset,
        result=examined.verdict,
        explicit_request=waiting.explicit_request,
        now=now,
    )
    asset.hidden = asset.screening is Screening.FLAGGED
    session.add(asset)
    log.info(
        "output.checked",
        extra={"asset_id": asset.id, "verdict": examined.verdict.verdict, "hidden": asset.hidden},
    )
    return True, None


def _remove_copy(session: Session, asset: Asset, *, now: datetime) -> str | None:
    """Remove a waiting output that copies a taken-down picture; its file's sha256 if no
    other asset holds the same bytes."""
    sha, asset_id = asset.sha256, asset.id or 0
    session.execute(sa.delete(AssetTag).where(col(AssetTag.asset_id) == asset_id))
    session.delete(asset)
    session.flush()
    audit.record(
        session,
        at=now,
        actor="screener",
        action="output.blocked_copy_removed",
        target=f"asset:{asset_id}",
        outcome=AuditOutcome.OK,
        details={"job_id": asset.job_id},
    )
    if asset.job_id is not None:
        _fail_emptied_job(session, asset.job_id, now=now)
    others = session.exec(select(Asset.id).where(col(Asset.sha256) == sha).limit(1)).first()
    log.warning("output.blocked_copy_removed", extra={"asset_id": asset_id})
    return None if others is not None else sha


def _fail_emptied_job(session: Session, job_id: int, *, now: datetime) -> None:
    """A job whose every output was removed as a blocked copy failed: it says why and its
    charge is given back (once); a job with an output left keeps its result and charge."""
    if session.exec(select(Asset.id).where(col(Asset.job_id) == job_id).limit(1)).first():
        return
    job = session.get(GenerationJob, job_id, with_for_update=True)
    if job is None or job.status is not JobStatus.SUCCEEDED:
        return
    job.status = JobStatus.FAILED
    job.error = f"{BLOCKED_MESSAGE} Your credits were refunded."
    session.add(job)
    ledger.refund_charge(session, job_id=job_id, now=now, reason="output was a blocked copy")


def check(
    engine: Engine,
    *,
    media: store.Media,
    screener: OutputScreener,
    now: Callable[[], datetime],
    outputs: Sequence[Waiting],
) -> int:
    """Run the checks on `outputs` and record them, one unit of work each; how many were
    recorded (an output checked already, or gone, is skipped)."""
    done = 0
    for waiting in outputs:
        examined = examine(waiting.data, mime=waiting.mime, screener=screener)
        recorded, removed = run_transaction(
            engine,
            partial(record, media=media, waiting=waiting, examined=examined, now=now()),
            name="gallery.output_checked",
        )
        done += recorded
        if removed is not None:
            store.delete(media, removed)
    return done


def check_waiting(
    engine: Engine,
    *,
    media: store.Media,
    screener: OutputScreener,
    now: Callable[[], datetime],
    older_than: timedelta = BACKSTOP_AFTER,
    limit: int = BACKSTOP_BATCH,
) -> int:
    """The backstop: check the outputs waiting longer than `older_than` (left by a process
    that stopped before its pass ran), oldest first, at most `limit`; how many were recorded."""
    cutoff = now() - older_than
    with read_scope(engine) as session:
        rows = session.exec(
            select(Asset.id, Asset.sha256, Asset.mime, GenerationJob.request)
            .join(GenerationJob, col(GenerationJob.id) == col(Asset.job_id), isouter=True)
            .where(sa.text(WAITING), col(Asset.created_at) <= cutoff)
            .order_by(col(Asset.created_at), col(Asset.id))
            .limit(limit)
        ).all()
    outputs = [
        Waiting(asset_id or 0, store.read(media, sha), mime, bool((request or {}).get("nsfw")))
        for asset_id, sha, mime, request in rows
    ]
    return check(engine, media=media, screener=screener, now=now, outputs=outputs)
