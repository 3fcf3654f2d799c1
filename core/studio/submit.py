"""Submitting a request: sources and policy checked, then the job queued with its credit hold.

Content policy runs before any credit or GPU is used; the job row and its hold are written in
one unit of work, so there is never a job without its hold or a hold without its job.
"""

from __future__ import annotations

import base64
import logging
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import NotRequired, TypedDict, Unpack

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core import locks, safety
from core.accounts import ledger
from core.clock import Clock
from core.comfy.presets import Presets
from core.db import read_scope, run_transaction
from core.errors import NotFound, ValidationFailed
from core.models import GenerationJob, MuseVariation
from core.muses import lookbook
from core.muses import service as muses
from core.pool import leases
from core.refusals import audited_refusals
from core.studio import queue
from core.studio.compose import StudioRequest, model_of, validate
from core.studio.pricing import Pricing, estimate, hold_for
from core.studio.sources import resolve_source

DEFAULT_MAX_PIXELS = 40_000_000

log = logging.getLogger(__name__)

MAX_KEY_LENGTH = 64


def check_sources(session: Session, *, user_id: int, request: StudioRequest, year: int) -> None:
    """Refuse a muse, variation or reference image the user does not own, or may not use.

    The muse and the variation are screened again (the policy may have tightened since they
    were saved); reference images must be the user's own: consented uploads (never with
    explicit mode) or pictures generated here and pinned to a muse (any mode).
    """
    if request.muse_id is not None:
        muse = muses.get_muse(session, owner_id=user_id, muse_id=request.muse_id)
        muses.screen_profile(muses.profile_of(muse), year=year)
        if request.variation_id is not None:
            variation = session.get(MuseVariation, request.variation_id)
            if variation is None or variation.muse_id != muse.id:
                raise NotFound("No such variation.")
            muses.screen_overrides(muse, variation.overrides, year=year)
    elif request.variation_id is not None:
        raise ValidationFailed("A variation needs its muse.")
    lookbook.check_reference_use(
        session, owner_id=user_id, sha256s=request.reference_images, explicit=request.nsfw
    )


def _check_key(key: str | None) -> None:
    if key is not None and not (0 < len(key) <= MAX_KEY_LENGTH and key.isprintable()):
        raise ValidationFailed("That form was sent with a damaged key; reload the page.")


class SubmitOptions(TypedDict):
    """Who submits, and with what, for `submit` and `submit_all` alike."""

    user_id: int
    clock: Clock
    presets: Presets
    pricing: Pricing
    pool: str
    ip: NotRequired[str | None]
    idempotency_key: NotRequired[str | None]
    max_pixels: NotRequired[int]


def submit(
    engine: Engine, *, request: StudioRequest, **options: Unpack[SubmitOptions]
) -> GenerationJob:
    """Queue a job and hold its credits, or refuse with a clear message (`submit_all` of one
    request: see there for `options`).

    A submit carrying the `idempotency_key` of one of the user's jobs is that job: it is
    returned as it is and nothing more is held (a double-click, a resent form).

    Content policy runs first (the prompts, and the muse, variation, references and source
    picture named), before any credit hold or GPU work; a refusal is audited in its own unit
    of work so the record survives the refusal. The source's size comes from our own
    records, and the tools are checked again with it (an oversized source, a mask of the
    wrong size) before any credit is held.
    """
    (job,) = submit_all(engine, requests=[request], **options)
    return job


def submit_all(
    engine: Engine,
    *,
    user_id: int,
    requests: Sequence[StudioRequest],
    clock: Clock,
    presets: Presets,
    pricing: Pricing,
    pool: str,
    ip: str | None = None,
    idempotency_key: str | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> list[GenerationJob]:
    """Queue every request as its own job with its own credit hold, all or none, each
    checked as `submit` checks one (a refusal of any refuses them all before any hold).

    With `idempotency_key`, one request's job carries that key and several carry
    `<key>.<n>`: a second submit of the same keys returns the first submit's jobs.
    """
    if not requests:
        raise ValidationFailed("Nothing to generate.")
    for request in requests:
        validate(request, presets)
    keys = _keys(idempotency_key, len(requests))
    actor = f"user:{user_id}"
    year = clock.now().year
    checked = []
    with audited_refusals(engine, actor=actor, target="studio.submit", clock=clock, ip=ip):
        for request in requests:
            with read_scope(engine) as session:
                check_sources(session, user_id=user_id, request=request, year=year)
                request = resolve_source(
                    session, user_id=user_id, request=request, max_pixels=max_pixels
                )
            safety.screen_prompt(request.prompt, nsfw=request.nsfw, year=year)
            safety.screen_prompt(
                request.negative_prompt,
                nsfw=False,
                field="negative prompt",
                year=year,
                negative=True,
            )
            validate(request, presets)
            checked.append(request)
    now = clock.now()

    def queue_jobs(session: Session) -> tuple[list[GenerationJob], bool]:
        # Lock order (core.locks): the user's balance first, then the new jobs, the pool last.
        locks.lock_user(session, user_id)
        if keys[0] is not None:
            # Under the user's lock: a twin submit waits here, then finds this one's jobs.
            first = session.exec(
                select(GenerationJob).where(
                    GenerationJob.user_id == user_id,
                    col(GenerationJob.idempotency_key).in_(keys),
                )
            ).all()
            if first:
                return sorted(first, key=lambda job: keys.index(job.idempotency_key)), False
        jobs = [
            _queue_one(session, user_id=user_id, request=request, key=key, presets=presets,
                       pricing=pricing, pool=pool, now=now)
            for request, key in zip(checked, keys, strict=True)
        ]  # fmt: skip
        leases.note_demand(session, pool=pool, now=now)
        queue.announce(session)
        return jobs, True

    jobs, created = run_transaction(engine, queue_jobs, name="studio.submit")
    for job in jobs:
        event = "job.submitted" if created else "job.resubmitted"
        log.info(
            event, extra={"job_id": job.id, "user_id": user_id, "credits": job.estimated_credits}
        )
    return jobs


def _keys(key: str | None, count: int) -> list[str | None]:
    if key is None:
        return [None] * count
    keys: list[str | None] = [key] if count == 1 else [f"{key}.{n}" for n in range(count)]
    for each in keys:
        _check_key(each)
    return keys


def _queue_one(
    session: Session,
    *,
    user_id: int,
    request: StudioRequest,
    key: str | None,
    presets: Presets,
    pricing: Pricing,
    pool: str,
    now: datetime,
) -> GenerationJob:
    """Write one job and its hold (under the user's lock, in the caller's unit of work)."""
    quote = estimate(session, request, presets=presets, pricing=pricing, pool=pool)
    hold = hold_for(quote)
    job = GenerationJob(
        user_id=user_id,
        muse_id=request.muse_id,
        variation_id=request.variation_id,
        kind=request.kind,
        prompt=request.prompt,
        negative_prompt=request.negative_prompt,
        model=model_of(request, presets),
        preset=request.preset,
        seed=request.seed if request.seed is not None else secrets.randbelow(2**48),
        batch_size=request.batch_size,
        request={
            "reference_images": list(request.reference_images),
            "reference_weight": request.reference_weight,
            "reference_preset": request.reference_preset or presets.default_reference_preset,
            "nsfw": request.nsfw,
            "tools": request.tools.to_json(),
            "mask_png": base64.b64encode(request.mask_png).decode() if request.mask_png else None,
            "category": request.category,
            "tags": list(request.tags),
            "written": request.written.to_json() if request.written else None,
        },
        variation_of=request.variation_of,
        estimated_credits=hold,
        idempotency_key=key,
        created_at=now,
        updated_at=now,
    )
    session.add(job)
    session.flush()
    # The hold is taken in the same unit of work as the job row: no job without its
    # hold, no hold without its job.
    ledger.hold_for_job(session, user_id=user_id, job_id=job.id or 0, credits=hold, now=now)
    return job
