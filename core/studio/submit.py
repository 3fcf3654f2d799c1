"""Submitting a request: sources and policy checked, then the job queued with its credit hold.

Content policy runs before any credit or GPU is used; the job row and its hold are written in
one unit of work, so there is never a job without its hold or a hold without its job.
"""

from __future__ import annotations

import logging
import secrets

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core import safety
from core.accounts import ledger
from core.clock import Clock
from core.comfy.presets import Presets
from core.db import read_scope, session_scope
from core.errors import NotFound, ValidationFailed
from core.models import GenerationJob, MuseVariation, ReferenceImage
from core.muses import service as muses
from core.pool import leases
from core.refusals import audited_refusals
from core.studio import queue
from core.studio.compose import StudioRequest, validate
from core.studio.pricing import Pricing, estimate, hold_for

log = logging.getLogger(__name__)


def check_sources(session: Session, *, user_id: int, request: StudioRequest, year: int) -> None:
    """Refuse a muse, variation or reference image the user does not own, or may not use.

    The muse and the variation are screened again (the policy may have tightened since they
    were saved); reference images must be the user's own consented uploads and never go
    with explicit mode.
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
    if request.reference_images:
        safety.screen_reference_use(consent_given=True, explicit=request.nsfw)
        owned = session.exec(
            select(ReferenceImage.sha256).where(
                ReferenceImage.owner_id == user_id,
                col(ReferenceImage.sha256).in_(request.reference_images),
            )
        ).all()
        if set(request.reference_images) - set(owned):
            raise NotFound("No such reference image.")


def submit(
    engine: Engine,
    *,
    user_id: int,
    request: StudioRequest,
    clock: Clock,
    presets: Presets,
    pricing: Pricing,
    pool: str,
    ip: str | None = None,
) -> GenerationJob:
    """Queue a job and hold its credits, or refuse with a clear message.

    Content policy runs first (the prompts, and the muse, variation and references named),
    before any credit hold or GPU work; a refusal is audited in its own unit of work so the
    record survives the refusal.
    """
    validate(request, presets)
    actor = f"user:{user_id}"
    year = clock.now().year
    with audited_refusals(engine, actor=actor, target="studio.submit", clock=clock, ip=ip):
        with read_scope(engine) as session:
            check_sources(session, user_id=user_id, request=request, year=year)
        safety.screen_prompt(request.prompt, nsfw=request.nsfw, year=year)
        safety.screen_prompt(
            request.negative_prompt, nsfw=False, field="negative prompt", year=year, negative=True
        )
    now = clock.now()
    with session_scope(engine) as session:
        quote = estimate(session, request, presets=presets, pricing=pricing, pool=pool)
        hold = hold_for(quote)
        job = GenerationJob(
            user_id=user_id,
            muse_id=request.muse_id,
            variation_id=request.variation_id,
            kind=request.kind,
            prompt=request.prompt,
            negative_prompt=request.negative_prompt,
            model=request.model or presets.default_model(request.kind),
            preset=request.preset,
            seed=request.seed if request.seed is not None else secrets.randbelow(2**48),
            batch_size=request.batch_size,
            request={
                "reference_images": list(request.reference_images),
                "reference_weight": request.reference_weight,
                "nsfw": request.nsfw,
            },
            estimated_credits=hold,
            created_at=now,
            updated_at=now,
        )
        session.add(job)
        session.flush()
        # The hold is taken in the same unit of work as the job row: no job without its
        # hold, no hold without its job.
        ledger.hold_for_job(session, user_id=user_id, job_id=job.id or 0, credits=hold, now=now)
        leases.note_demand(session, pool=pool, now=now)
        queue.announce(session)
    log.info("job.submitted", extra={"job_id": job.id, "user_id": user_id, "credits": hold})
    return job
