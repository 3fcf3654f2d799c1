"""Estimate, submit, follow, cancel and fetch jobs: the Studio's use cases over HTTP.

Everything a page checks applies unchanged (core's `compose`, `submit`, `cancel`): 18+ and
prompt screening before any credit or GPU, the credit hold, ownership (another user's job is
404, the same as a missing one).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import StreamingResponse

from api.deps import Generator, Reader, Services, Svc
from api.schemas import AssetOut, CancelOut, EstimateOut, GenerateIn, JobOut, RowId
from core.accounts.api_tokens import Principal
from core.db import read_scope
from core.errors import NotFound, ValidationFailed
from core.models import GenerationJob
from core.studio import history, progress
from core.studio.compose import StudioRequest, compose, validate
from core.studio.outcomes import TERMINAL, Cancel, cancel
from core.studio.pricing import estimate, hold_for
from core.studio.sources import with_own_source
from core.studio.submit import MAX_KEY_LENGTH, submit

router = APIRouter(prefix="/v1", tags=["jobs"])

EVENT_INTERVAL_S = 0.5
EVENT_STREAM_LIMIT_S = 3600.0
EVENT_KEEPALIVE_S = 15.0
"""A comment line this often keeps proxies and clients from timing out a quiet stream."""


def _composed(svc: Services, who: Principal, body: GenerateIn) -> StudioRequest:
    """The core request for `body`, validated: its source picture looked up among the token
    owner's own (its size from our records, the mask fitted to it), then a muse composed in."""
    user_id = who.user.id or 0
    request = body.to_request()
    with read_scope(svc.engine) as session:
        tools = body.tools
        if tools is not None and tools.source_asset_id is not None:
            request = with_own_source(
                session,
                user_id=user_id,
                request=request,
                asset_id=tools.source_asset_id,
                mask=tools.mask_bytes(),
                max_pixels=svc.settings.max_image_pixels,
            )
        elif tools is not None and tools.mask_png is not None:
            raise ValidationFailed("A mask needs a source picture (source_asset_id).")
        request = compose(session, request, user_id=user_id)
    validate(request, svc.presets)  # an estimate refuses what the submit would
    return request


@router.post("/estimate")
def post_estimate(
    who: Generator,
    svc: Svc,
    body: GenerateIn,
) -> EstimateOut:
    """What generating `body` should cost and how long it should take; nothing is held."""
    request = _composed(svc, who, body)
    with read_scope(svc.engine) as session:
        quote = estimate(
            session, request, presets=svc.presets, pricing=svc.pricing, pool=svc.settings.pool_name
        )
        ahead = progress.request_outlook(
            session,
            pool=svc.settings.pool_name,
            gpu_s=quote.gpu_seconds,
            pricing=svc.pricing,
            now=svc.clock.now(),
        )
    return EstimateOut(
        credits=quote.credits,
        credits_held=hold_for(quote),
        gpu_seconds=quote.gpu_seconds,
        wait_seconds=ahead.wait_s(quote.gpu_seconds),
        meets=ahead.meets.value,
        reason=ahead.reason,
    )


@router.post("/jobs", status_code=201)
def post_job(
    who: Generator,
    svc: Svc,
    body: GenerateIn,
    idempotency_key: Annotated[str | None, Header(max_length=MAX_KEY_LENGTH)] = None,
) -> JobOut:
    """Queue a job and hold its credits; a refused prompt is 422 and holds nothing.

    Resent with the same `Idempotency-Key` header, the answer is the first job, and nothing
    more is held.
    """
    job = submit(
        svc.engine,
        user_id=who.user.id or 0,
        request=_composed(svc, who, body),
        clock=svc.clock,
        presets=svc.presets,
        pricing=svc.pricing,
        pool=svc.settings.pool_name,
        idempotency_key=idempotency_key,
        max_pixels=svc.settings.max_image_pixels,
    )
    return JobOut.of(job)


@router.get("/jobs")
def list_jobs(
    who: Reader,
    svc: Svc,
    limit: int = Query(20, ge=1, le=100),
) -> list[JobOut]:
    """The token owner's newest jobs first."""
    with read_scope(svc.engine) as session:
        jobs = history.recent_jobs(session, user_id=who.user.id or 0, limit=limit)
    return [JobOut.of(job) for job in jobs]


def _job_out(svc: Services, who: Principal, job_id: int) -> JobOut:
    with read_scope(svc.engine) as session:
        job = session.get(GenerationJob, job_id)
        if job is None or job.user_id != who.user.id:
            raise NotFound("No such job.")
        found = progress.job_progress(
            session, job, pool=svc.settings.pool_name, pricing=svc.pricing, now=svc.clock.now()
        )
    return JobOut.of(job, found)


@router.get("/jobs/{job_id}")
def get_job(
    who: Reader,
    svc: Svc,
    job_id: RowId,
) -> JobOut:
    """One of the owner's jobs with its queue place, when it should start, and its steps."""
    return _job_out(svc, who, job_id)


@router.get(
    "/jobs/{job_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
def job_events(
    who: Reader,
    svc: Svc,
    job_id: RowId,
) -> StreamingResponse:
    """Server-sent events: a `job` event (the job's JSON) whenever it changes, the last one
    when it ends (succeeded, failed or cancelled)."""
    first = _job_out(svc, who, job_id)  # 404 before the stream starts

    def stream() -> Iterator[str]:
        current, sent = first, ""
        deadline = time.monotonic() + EVENT_STREAM_LIMIT_S
        quiet_since = time.monotonic()
        while True:
            payload = current.model_dump_json()
            if payload != sent:
                sent, quiet_since = payload, time.monotonic()
                yield f"event: job\ndata: {payload}\n\n"
            elif time.monotonic() - quiet_since >= EVENT_KEEPALIVE_S:
                quiet_since = time.monotonic()
                yield ": keep-alive\n\n"
            if current.status in TERMINAL or time.monotonic() > deadline:
                return
            time.sleep(EVENT_INTERVAL_S)
            current = _job_out(svc, who, job_id)

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
    )


@router.post("/jobs/{job_id}/cancel")
def cancel_job(
    who: Generator,
    svc: Svc,
    job_id: RowId,
) -> CancelOut:
    """Cancel a queued job (refunded now), or stop a started one (interrupted on its GPU, the
    GPU time used charged, the rest refunded)."""
    outcome = cancel(svc.engine, job_id=job_id, user_id=who.user.id or 0, clock=svc.clock)
    return CancelOut(outcome=outcome.value, cancelled=outcome is Cancel.CANCELLED)


@router.get("/jobs/{job_id}/outputs")
def job_outputs(
    who: Reader,
    svc: Svc,
    job_id: RowId,
) -> list[AssetOut]:
    """The job's stored outputs (those held for review are not listed)."""
    if history.job_for_user(svc.engine, job_id=job_id, user_id=who.user.id or 0) is None:
        raise NotFound("No such job.")
    with read_scope(svc.engine) as session:
        assets = history.job_assets(session, job_id=job_id, user_id=who.user.id or 0)
    return [AssetOut.of(asset) for asset in assets]
