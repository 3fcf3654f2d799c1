"""Facet counts: the number beside each category and tag is the number of pictures choosing
it shows, with the other filters as they are; old names count under the new one."""

from datetime import UTC, datetime

from core.db import read_scope, session_scope
from core.gallery import facets, listing
from core.models import AssetTag, MediaKind, Visibility
from testing.factories import make_asset, make_user

NOW = datetime(2026, 12, 3, 9, tzinfo=UTC)
RENAMED_CATEGORIES = {"old-landscape": "landscape"}
RENAMED_TAGS = {"dusk": "golden-hour"}


def counts(engine, **filters):
    with read_scope(engine) as session:
        return facets.facet_counts(
            session, renamed_categories=RENAMED_CATEGORIES, renamed_tags=RENAMED_TAGS, **filters
        )


def shown(engine, **filters):
    with read_scope(engine) as session:
        return len(listing.list_assets(session, limit=500, **filters).items)


def picture(engine, owner, category, tags, **fields):
    asset = make_asset(engine, owner, category=category, **fields)
    with session_scope(engine) as session:
        for tag in tags:
            session.add(AssetTag(asset_id=asset.id, tag=tag))
    return asset


def seed(engine):
    owner, other = make_user(engine), make_user(engine)
    picture(engine, owner, "landscape", ["golden-hour", "misty"])
    picture(engine, owner, "old-landscape", ["dusk", "golden-hour"])  # renamed names, once
    picture(engine, owner, "portrait", ["golden-hour"], kind=MediaKind.VIDEO)
    picture(engine, owner, "portrait", ["misty"])
    picture(engine, owner, "portrait", ["misty"], visibility=Visibility.PRIVATE)  # not public
    picture(engine, other, "landscape", ["misty"], hidden=True)  # not public
    picture(engine, other, None, ["misty"])
    return owner


def names(taxonomy_map, current):
    return (current, *sorted(old for old, new in taxonomy_map.items() if new == current))


def test_each_count_is_what_choosing_it_shows(engine):
    owner = seed(engine)
    for filters in (
        {"viewer_id": None, "scope": "public"},
        {"viewer_id": None, "scope": "public", "kind": MediaKind.IMAGE},
        {"viewer_id": None, "scope": "public", "tag": names(RENAMED_TAGS, "misty")},
        {"viewer_id": None, "scope": "public", "category": ("portrait",)},
        {"viewer_id": owner.id, "scope": "mine"},
    ):
        got = counts(engine, **filters)
        others = {k: v for k, v in filters.items() if k != "category"}
        for category in ("landscape", "portrait", "abstract"):
            chosen = names(RENAMED_CATEGORIES, category)
            assert got.categories.get(category, 0) == shown(engine, category=chosen, **others)
        others = {k: v for k, v in filters.items() if k != "tag"}
        for tag in ("golden-hour", "misty", "neon"):
            chosen = names(RENAMED_TAGS, tag)
            assert got.tags.get(tag, 0) == shown(engine, tag=chosen, **others)


def test_public_counts_by_hand(engine):
    seed(engine)
    got = counts(engine, viewer_id=None, scope="public")
    assert got.categories == {"landscape": 2, "portrait": 2}
    assert got.tags == {"golden-hour": 3, "misty": 3}
    narrowed = counts(engine, viewer_id=None, scope="public", category=("portrait",))
    assert narrowed.tags == {"golden-hour": 1, "misty": 1}
    assert narrowed.categories == got.categories  # the category's own choice does not narrow it
