"""What an owner does to their own pictures, one or many at once: visibility, title,
category and tags, deletion."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from core.accounts.inputs import require_plain
from core.errors import ValidationFailed
from core.gallery import store
from core.gallery.listing import owned_asset
from core.gallery.taxonomy import normalize_tags
from core.models import (
    Asset,
    AssetTag,
    AssetView,
    BoardItem,
    Rating,
    Report,
    ShareLink,
    Visibility,
)


def set_visibility(
    session: Session, *, owner_id: int, asset_id: int, visibility: Visibility, now: datetime
) -> Asset:
    """Private, unlisted or public (public shows only once screening passed)."""
    asset = owned_asset(session, owner_id=owner_id, asset_id=asset_id)
    asset.visibility = visibility
    session.add(asset)
    return asset


def set_recipe_public(session: Session, *, owner_id: int, asset_id: int, public: bool) -> Asset:
    """Whether other viewers of the owner's picture see how it was made (its prompts and
    settings) and may remix it; off unless the owner turns it on."""
    asset = owned_asset(session, owner_id=owner_id, asset_id=asset_id)
    asset.recipe_public = public
    session.add(asset)
    return asset


def set_title_tags(
    session: Session,
    *,
    owner_id: int,
    asset_id: int,
    title: str,
    tags: list[str],
    category: str | None,
) -> Asset:
    """Rename, re-tag and re-categorise the owner's asset (stored literally, never rendered raw)."""
    tag_labels = {f"tag {n + 1}": tag for n, tag in enumerate(tags)}
    require_plain({"title": title, "category": category, **tag_labels})
    asset = owned_asset(session, owner_id=owner_id, asset_id=asset_id)
    asset.title = title.strip()[:200]
    asset.category = category
    for old in session.exec(select(AssetTag).where(AssetTag.asset_id == asset_id)).all():
        session.delete(old)
    session.flush()
    for tag in dict.fromkeys(tags):
        session.add(AssetTag(asset_id=asset_id, tag=tag[:64]))
    session.add(asset)
    return asset


def delete_asset(session: Session, *, owner_id: int, asset_id: int, media: store.Media) -> None:
    """Delete the owner's asset (off every board too) and its files when nothing else
    references them."""
    asset = owned_asset(session, owner_id=owner_id, asset_id=asset_id)
    if session.exec(select(Report.id).where(Report.asset_id == asset_id)).first() is not None:
        raise ValidationFailed("A reported picture is kept for the moderators' records.")
    files = [asset.sha256, asset.thumb_sha256]
    for model in (AssetTag, Rating, AssetView, ShareLink, BoardItem):
        for row in session.exec(select(model).where(model.asset_id == asset_id)).all():
            session.delete(row)
    session.flush()  # the rows pointing at the asset go first (no ORM relationships order them)
    session.delete(asset)
    session.flush()
    for sha in filter(None, files):
        still_used = session.exec(
            select(Asset.id).where(sa.or_(col(Asset.sha256) == sha, col(Asset.thumb_sha256) == sha))
        ).first()
        if still_used is None:
            store.delete(media, sha)


def _owned_all(session: Session, *, owner_id: int, asset_ids: Sequence[int]) -> list[Asset]:
    """Every asset of `asset_ids`, all the owner's; NotFound (nothing done) if any is not."""
    return [owned_asset(session, owner_id=owner_id, asset_id=i) for i in dict.fromkeys(asset_ids)]


def set_visibility_many(
    session: Session,
    *,
    owner_id: int,
    asset_ids: Sequence[int],
    visibility: Visibility,
    now: datetime,
) -> int:
    """`set_visibility` for each selected picture, all or none; how many were set."""
    assets = _owned_all(session, owner_id=owner_id, asset_ids=asset_ids)
    for asset in assets:
        set_visibility(
            session, owner_id=owner_id, asset_id=asset.id or 0, visibility=visibility, now=now
        )
    return len(assets)


def set_category_tags_many(
    session: Session,
    *,
    owner_id: int,
    asset_ids: Sequence[int],
    category: str | None,
    add_tags: Sequence[str] = (),
) -> int:
    """File each selected picture under `category` and add `add_tags` to its own tags (its
    title kept), all or none; how many were changed."""
    assets = _owned_all(session, owner_id=owner_id, asset_ids=asset_ids)
    for asset in assets:
        kept = session.exec(select(AssetTag.tag).where(AssetTag.asset_id == asset.id)).all()
        set_title_tags(
            session,
            owner_id=owner_id,
            asset_id=asset.id or 0,
            title=asset.title,
            tags=normalize_tags([*kept, *add_tags]),
            category=category,
        )
    return len(assets)


def delete_many(
    session: Session, *, owner_id: int, asset_ids: Sequence[int], media: store.Media
) -> int:
    """`delete_asset` for each selected picture, all or none (a reported one refuses the
    lot); how many were deleted."""
    assets = _owned_all(session, owner_id=owner_id, asset_ids=asset_ids)
    for asset in assets:
        delete_asset(session, owner_id=owner_id, asset_id=asset.id or 0, media=media)
    return len(assets)


def tags_of(session: Session, *, asset_id: int) -> list[str]:
    """The asset's tags, alphabetically (the caller has checked the viewer may see it)."""
    return sorted(session.exec(select(AssetTag.tag).where(AssetTag.asset_id == asset_id)).all())
