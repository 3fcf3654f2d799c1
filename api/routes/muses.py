"""Muses over HTTP: list, read, create, update, import and export, through the Muses page's
own use cases (`core.muses.service`): the profile's strict schema, 18+ and every text screened,
a refusal audited, ownership (another user's muse is 404, the same as a missing one).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from api.deps import MuseWriter, Reader, Services, Svc
from api.schemas import MuseDetailOut, MuseIn, MuseOut, RowId
from core.accounts.api_tokens import Principal
from core.db import read_scope, session_scope
from core.errors import ValidationFailed
from core.models import Muse
from core.muses import cards
from core.muses import service as muses
from core.muses.schema import validate_profile
from core.refusals import audited_refusals

router = APIRouter(prefix="/v1/muses", tags=["muses"])

CARD_TYPES = {"json": "application/json", "png": "image/png"}
MAX_CARD_BYTES = max(cards.MAX_JSON_BYTES, cards.MAX_PNG_BYTES)


class CardTooLarge(ValidationFailed):
    """An uploaded card over the largest a card may be (refused before it is all read)."""


def _detail(session: Session, who: Principal, muse: Muse) -> MuseDetailOut:
    owner_id, muse_id = who.user.id or 0, muse.id or 0
    return MuseDetailOut.full(
        muse,
        muses.profile_of(muse),
        muses.variations(session, owner_id=owner_id, muse_id=muse_id),
    )


def _audited_write(
    svc: Services, who: Principal, target: str, action: Callable[[Session], Muse]
) -> MuseDetailOut:
    """Run a muse write in one unit of work; a policy refusal is audited as the pages do."""
    with (
        audited_refusals(svc.engine, actor=who.actor, target=target, clock=svc.clock),
        session_scope(svc.engine) as session,
    ):
        muse = action(session)
        session.flush()
        return _detail(session, who, muse)


@router.get("")
def list_muses(
    who: Reader,
    svc: Svc,
    search: str | None = Query(None, max_length=80),
) -> list[MuseOut]:
    """The owner's muses by name, optionally filtered by search text."""
    with read_scope(svc.engine) as session:
        found = muses.list_muses(session, owner_id=who.user.id or 0, search=search)
    return [MuseOut.of(muse) for muse in found]


@router.post("", status_code=201)
def create_muse(who: MuseWriter, svc: Svc, body: MuseIn) -> MuseDetailOut:
    """Create a muse from a profile; refused (422, audited) under 18 or for any text that
    describes a minor or breaks the content policy."""

    def create(session: Session) -> Muse:
        return muses.create_muse(
            session,
            owner_id=who.user.id or 0,
            profile=validate_profile(body.profile),
            tags=body.tags,
            now=svc.clock.now(),
        )

    return _audited_write(svc, who, "api.muse.save", create)


@router.get("/{muse_id}")
def get_muse(who: Reader, svc: Svc, muse_id: RowId) -> MuseDetailOut:
    """One of the owner's muses with its whole profile and its variations."""
    with read_scope(svc.engine) as session:
        muse = muses.get_muse(session, owner_id=who.user.id or 0, muse_id=muse_id)
        return _detail(session, who, muse)


@router.put("/{muse_id}")
def update_muse(who: MuseWriter, svc: Svc, muse_id: RowId, body: MuseIn) -> MuseDetailOut:
    """Replace the muse's profile and tags, checked like a new one."""

    def update(session: Session) -> Muse:
        return muses.update_muse(
            session,
            owner_id=who.user.id or 0,
            muse_id=muse_id,
            profile=validate_profile(body.profile),
            tags=body.tags,
            now=svc.clock.now(),
        )

    return _audited_write(svc, who, "api.muse.save", update)


async def _card_bytes(request: Request) -> bytes:
    """The request body, refused once it passes the largest card (never read whole first)."""
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_CARD_BYTES:
            raise CardTooLarge("The card is larger than 8 MB.")
    return bytes(data)


@router.post(
    "/import",
    status_code=201,
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "A muse card as exported: its JSON, or a PNG carrying it.",
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "image/png": {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
    responses={409: {"description": "The owner already has a muse of this name."}},
)
async def import_card(
    request: Request,
    who: MuseWriter,
    svc: Svc,
    as_copy: bool = Query(False, description="Import under a free name like 'Ava (2)'."),
) -> MuseDetailOut:
    """Import a muse card (JSON or PNG), screened like a new muse, with its variations.

    A name the owner already uses is 409, unless `as_copy`."""
    data = await _card_bytes(request)

    def do_import(session: Session) -> Muse:
        return muses.import_card(
            session,
            owner_id=who.user.id or 0,
            data=data,
            filename="the card",
            now=svc.clock.now(),
            as_copy=as_copy,
        )

    return await run_in_threadpool(_audited_write, svc, who, "api.muse.import", do_import)


@router.get(
    "/{muse_id}/card",
    response_class=Response,
    responses={200: {"content": {"application/json": {}, "image/png": {}}}},
)
def export_card(
    who: MuseWriter,
    svc: Svc,
    muse_id: RowId,
    format: Literal["json", "png"] = "json",  # noqa: A002 - the query parameter's name
) -> Response:
    """The muse as a card file to import elsewhere: JSON, or a PNG of its portrait carrying
    the JSON. No ids, owner or image files travel in it."""
    with read_scope(svc.engine) as session:
        data = muses.card_file(
            session,
            owner_id=who.user.id or 0,
            muse_id=muse_id,
            png=format == "png",
            media=svc.media,
        )
    return Response(
        data,
        media_type=CARD_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="muse-{muse_id}.{format}"'},
    )
