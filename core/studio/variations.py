""" "More like this": variations of a finished job at its neighbouring seeds, one job each,
priced and held like any job (all queued or none), shown together as a grid.

ComfyUI's core nodes have no variation-strength blend of two seeds' noise (KSampler takes
one seed; `RandomNoise` makes one noise), so a variation is the same request at a nearby
seed; this keeps every variation reproducible from its own seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Unpack

from sqlalchemy.engine import Engine
from sqlmodel import Session

from core.accounts.inputs import require_int
from core.comfy.presets import Presets
from core.db import read_scope
from core.errors import NotFound
from core.models import GenerationJob
from core.studio.compose import MAX_SEED, StudioRequest, request_of
from core.studio.pricing import Pricing, estimate, hold_for
from core.studio.submit import SubmitOptions, submit_all

MAX_VARIATIONS = 8
DEFAULT_VARIATIONS = 4


def variation_requests(job: GenerationJob, count: int) -> list[StudioRequest]:
    """`count` requests like `job`, one picture each, at the seeds after its own (wrapping
    past the studio's highest seed); each names `job` as what it is a variation of."""
    require_int(count, field="number of variations", low=1, high=MAX_VARIATIONS)
    base = replace(request_of(job), batch_size=1, variation_of=job.id)
    return [replace(base, seed=(job.seed + n) % (MAX_SEED + 1)) for n in range(1, count + 1)]


def credits_held(
    session: Session,
    requests: Sequence[StudioRequest],
    *,
    presets: Presets,
    pricing: Pricing,
    pool: str,
) -> int:
    """The credits submitting `requests` holds: each job's hold, as `submit` takes it."""
    return sum(
        hold_for(estimate(session, request, presets=presets, pricing=pricing, pool=pool))
        for request in requests
    )


def owned_job(session: Session, *, user_id: int, job_id: int) -> GenerationJob:
    """The user's job `job_id`; NotFound for anyone else's (missing to them)."""
    job = session.get(GenerationJob, job_id)
    if job is None or job.user_id != user_id:
        raise NotFound("No such job.")
    return job


def submit_variations(
    engine: Engine, *, job_id: int, count: int, **options: Unpack[SubmitOptions]
) -> list[GenerationJob]:
    """Queue `count` variations of the user's job `job_id` (see `variation_requests`), each
    screened, priced and held as `submit` does, all or none; NotFound for another's job."""
    with read_scope(engine) as session:
        job = owned_job(session, user_id=options["user_id"], job_id=job_id)
        requests = variation_requests(job, count)
    return submit_all(engine, requests=requests, **options)
