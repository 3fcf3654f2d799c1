"""Pictures and muses: download an output, list the public gallery, list one's muses."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.deps import Reader, Svc
from api.schemas import AssetOut, GalleryPageOut, MuseOut, RowId
from core.db import read_scope
from core.gallery import listing, store
from core.muses import service as muses

router = APIRouter(prefix="/v1", tags=["library"])


@router.get(
    "/assets/{asset_id}/content",
    response_class=Response,
    responses={200: {"content": {"image/png": {}, "image/webp": {}, "video/mp4": {}}}},
)
def asset_content(
    who: Reader,
    svc: Svc,
    asset_id: RowId,
) -> Response:
    """The file of a picture the token's owner may see (their own, or public and screened)."""
    with read_scope(svc.engine) as session:
        asset = listing.get_asset(session, viewer_id=who.user.id, asset_id=asset_id)
    data = store.read(svc.settings.media_root, asset.sha256)
    return Response(
        data,
        media_type=asset.mime,
        headers={
            "Content-Disposition": f'attachment; filename="aikings-{asset.id}.'
            f'{asset.mime.split("/")[-1]}"',
            "Cache-Control": "private, max-age=31536000, immutable",
        },
    )


@router.get("/gallery")
def gallery(
    who: Reader,
    svc: Svc,
    sort: Literal["newest", "top_rated", "trending", "most_viewed"] = "newest",
    scope: Literal["public", "mine"] = "public",
    cursor: str | None = Query(None, max_length=200),
    limit: int = Query(24, ge=1, le=100),
) -> GalleryPageOut:
    """One page of the gallery (public, or the owner's own), keyset-paged by `cursor`."""
    with read_scope(svc.engine) as session:
        page = listing.list_assets(
            session, viewer_id=who.user.id, scope=scope, sort=sort, cursor=cursor, limit=limit
        )
    return GalleryPageOut(
        items=[AssetOut.of(asset) for asset in page.items], next_cursor=page.next_cursor
    )


@router.get("/muses")
def list_muses(
    who: Reader,
    svc: Svc,
    search: str | None = Query(None, max_length=80),
) -> list[MuseOut]:
    """The owner's muses by name, optionally filtered by search text."""
    with read_scope(svc.engine) as session:
        found = muses.list_muses(session, owner_id=who.user.id or 0, search=search)
    return [MuseOut.of(muse) for muse in found]
