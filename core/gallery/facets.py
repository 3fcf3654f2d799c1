"""Facet counts of the gallery's filters: how many pictures each category and each tag would
show with every other filter as it is.

A category's count is the size of the result with that category chosen instead of the
current one (the other filters kept); a tag's count likewise for the tag. So the number
beside a choice is the number of pictures choosing it shows. Old names (taxonomy renames)
count under their current name, each picture once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from core.gallery.listing import filtered
from core.models import Asset, AssetTag


@dataclass(frozen=True)
class Facets:
    """Pictures per category slug and per tag (absent: none)."""

    categories: dict[str, int]
    tags: dict[str, int]


def _current_name(column: Any, renamed: Mapping[str, str]) -> Any:
    """`column` with each old name read as its current one."""
    if not renamed:
        return column
    return sa.case(*((column == old, new) for old, new in renamed.items()), else_=column)


def facet_counts(
    session: Session,
    *,
    renamed_categories: Mapping[str, str],
    renamed_tags: Mapping[str, str],
    category: Any = None,
    tag: Any = None,
    **filters: Any,
) -> Facets:
    """The counts beside each category and tag choice for the viewer's current filters
    (`filters` are those of `listing.filtered`: viewer_id, scope, kind, search, …;
    `category` and `tag` the current choices, given as `filtered` takes them)."""
    by_category = _current_name(col(Asset.category), renamed_categories)
    category_rows = session.execute(
        filtered(session, tag=tag, **filters)
        .with_only_columns(by_category, sa.func.count(), maintain_column_froms=True)
        .where(col(Asset.category).is_not(None))
        .group_by(by_category)
    ).all()
    by_tag = _current_name(col(AssetTag.tag), renamed_tags)
    shown = filtered(session, category=category, **filters).with_only_columns(
        col(Asset.id), maintain_column_froms=True
    )
    tag_rows = session.execute(
        sa.select(by_tag, sa.func.count(sa.distinct(col(AssetTag.asset_id))))
        .where(col(AssetTag.asset_id).in_(shown))
        .group_by(by_tag)
    ).all()
    return Facets(
        categories={str(name): int(n) for name, n in category_rows},
        tags={str(name): int(n) for name, n in tag_rows},
    )
