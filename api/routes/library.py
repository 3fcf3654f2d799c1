"""Pictures: download one, list the gallery, rate a picture, share one's own and revoke.

Through the gallery page's own use cases (`core.gallery`): a picture the token's owner may
not see is 404 (rating needs a picture they may see; sharing one they own), and a share link
opens the picture only once screening passed, never while it is hidden.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.deps import Generator, Reader, Svc
from api.schemas import AssetOut, GalleryPageOut, RatingIn, RevokedOut, RowId, ShareOut
from core.db import read_scope, session_scope
from core.gallery import engagement, listing, sharing, store
from core.models import MediaKind

router = APIRouter(prefix="/v1", tags=["library"])

NO_NUL = "^[^\\x00]*$"
"""Text a database can compare (PostgreSQL refuses a NUL character in a string)."""


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
    data = store.read(svc.media, asset.sha256)
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
    kind: MediaKind | None = None,
    category: str | None = Query(None, max_length=64, pattern=NO_NUL),
    tag: str | None = Query(None, max_length=32, pattern=NO_NUL),
    search: str | None = Query(None, max_length=100, pattern=NO_NUL),
) -> GalleryPageOut:
    """One page of the gallery (public, or the owner's own), keyset-paged by `cursor`;
    filtered by kind, category, tag, or text in the title or tags."""
    with read_scope(svc.engine) as session:
        page = listing.list_assets(
            session,
            viewer_id=who.user.id,
            scope=scope,
            sort=sort,
            cursor=cursor,
            limit=limit,
            kind=kind,
            category=category,
            tag=tag,
            search=search,
        )
    return GalleryPageOut(
        items=[AssetOut.of(asset) for asset in page.items], next_cursor=page.next_cursor
    )


@router.get("/assets/{asset_id}")
def get_asset(who: Reader, svc: Svc, asset_id: RowId) -> AssetOut:
    """A picture the token's owner may see (their own, or public and screened)."""
    with read_scope(svc.engine) as session:
        return AssetOut.of(listing.get_asset(session, viewer_id=who.user.id, asset_id=asset_id))


@router.put("/assets/{asset_id}/rating")
def rate_asset(who: Generator, svc: Svc, asset_id: RowId, body: RatingIn) -> AssetOut:
    """Set the owner's 1-5 star rating of a picture they may see (again: changed, not added)."""
    with session_scope(svc.engine) as session:
        engagement.rate(
            session,
            asset_id=asset_id,
            user_id=who.user.id or 0,
            stars=body.stars,
            now=svc.clock.now(),
        )
    with read_scope(svc.engine) as session:
        return AssetOut.of(listing.get_asset(session, viewer_id=who.user.id, asset_id=asset_id))


@router.post("/assets/{asset_id}/share", status_code=201)
def share_asset(who: Generator, svc: Svc, asset_id: RowId) -> ShareOut:
    """A new share link for one of the owner's pictures. A private picture becomes unlisted
    (seen through a link, never listed); the link opens it once screening passed."""
    with session_scope(svc.engine) as session:
        link = sharing.create_share_link(
            session,
            owner_id=who.user.id or 0,
            asset_id=asset_id,
            signer=svc.share_signer,
            now=svc.clock.now(),
        )
    return ShareOut(token=link, url=sharing.share_url(svc.settings.base_url, link))


@router.delete("/assets/{asset_id}/share")
def revoke_shares(who: Generator, svc: Svc, asset_id: RowId) -> RevokedOut:
    """Revoke every share link of one of the owner's pictures."""
    with session_scope(svc.engine) as session:
        revoked = sharing.revoke_share(
            session, owner_id=who.user.id or 0, asset_id=asset_id, now=svc.clock.now()
        )
    return RevokedOut(revoked=revoked)
