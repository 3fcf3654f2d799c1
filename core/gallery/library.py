"""What an owner does to their own pictures: visibility, title and tags, deletion."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, col, select

from core.accounts.inputs import require_plain
from core.errors import ValidationFailed
from core.gallery import store
from core.gallery.listing import owned_asset
from core.models import Asset, AssetTag, AssetView, Rating, Report, ShareLink, Visibility


def set_visibility(
    session: Session, *, owner_id: int, asset_id: int, visibility: Visibility, now: datetime
) -> Asset:
    """Private, unlisted or public (public shows only once screening passed)."""
    asset = owned_asset(session, owner_id=owner_id, asset_id=asset_id)
    asset.visibility = visibility
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


def delete_asset(session: Session, *, owner_id: int, asset_id: int, media_root: Path) -> None:
    """Delete the owner's asset and its files when nothing else references them."""
    asset = owned_asset(session, owner_id=owner_id, asset_id=asset_id)
    if session.exec(select(Report.id).where(Report.asset_id == asset_id)).first() is not None:
        raise ValidationFailed("A reported picture is kept for the moderators' records.")
    files = [asset.sha256, asset.thumb_sha256]
    for model in (AssetTag, Rating, AssetView, ShareLink):
        for row in session.exec(select(model).where(model.asset_id == asset_id)).all():
            session.delete(row)
    session.delete(asset)
    session.flush()
    for sha in filter(None, files):
        still_used = session.exec(
            select(Asset.id).where(sa.or_(col(Asset.sha256) == sha, col(Asset.thumb_sha256) == sha))
        ).first()
        if still_used is None:
            store.delete(media_root, sha)
