"""Each plan a tag filter or a search may take lists the same pictures in the same order.

A tag is read by its ids when it has few pictures, tested while a sort index is walked when
it has more (on SQLite by its ids read once, past MANY_TAGGED by EXISTS per row); on
PostgreSQL a search's page is first looked for in a bounded walk (WALK_WINDOW rows). The
sizes that choose a plan are set small here so that a small gallery takes each of them.
"""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from core.db import read_scope, session_scope
from core.gallery import engagement, listing, plan_sizes, search
from core.models import Asset, AssetTag, Screening, Visibility
from testing.factories import make_asset, make_user
from tests.integration.test_gallery_sorting import SORTS, expected_order, page_through, public

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
TAGS = ("sunset", "portrait", "rare")
PLANS = {
    "ids looked up": {"FEW_MATCHES": 10_000, "MANY_TAGGED": 20_000, "WALK_WINDOW": 2_000},
    "walk testing ids": {"FEW_MATCHES": 1, "MANY_TAGGED": 20_000, "WALK_WINDOW": 2_000},
    "walk testing each row": {"FEW_MATCHES": 1, "MANY_TAGGED": 1, "WALK_WINDOW": 3},
}


@pytest.fixture
def tagged_gallery(engine):
    """Two owners' pictures, some not public, with ties on the sort keys, each with 0-2 of
    TAGS ("rare" on two) and a title holding "kakaka" on about one in three."""
    owner, other = make_user(engine), make_user(engine)
    hidden = [
        {"visibility": Visibility.PRIVATE},
        {"hidden": True},
        {"screening": Screening.PENDING},
    ]
    assets = []
    for n in range(36):
        fields = hidden[n % 3] if n % 5 == 4 else {}
        assets.append(
            make_asset(
                engine,
                owner if n % 4 else other,
                title=f"{'kakaka ' if n % 3 == 0 else ''}picture {n}",
                created_at=NOW + timedelta(minutes=n // 3),
                view_count=n % 4,
                **fields,
            )
        )
    with session_scope(engine) as session:
        for n, asset in enumerate(assets):
            names = {TAGS[0]} if n % 2 else set()
            names |= {TAGS[1]} if n % 3 == 1 else set()
            names |= {TAGS[2]} if n in (7, 30) else set()
            session.add_all(AssetTag(asset_id=asset.id, tag=name) for name in names)
            if public(asset):
                engagement.rate(
                    session, asset_id=asset.id, user_id=other.id, stars=1 + n % 5, now=NOW
                )
    engagement.refresh_trending(engine, now=NOW)
    return owner, other


def _choose(monkeypatch, plan):
    """Set the sizes that choose the plan (FEW_MATCHES in both modules that read it), each
    tag's and search's size counted afresh (not one another test's database remembered)."""
    for name, value in PLANS[plan].items():
        monkeypatch.setattr(listing, name, value)
    monkeypatch.setattr(search, "FEW_MATCHES", PLANS[plan]["FEW_MATCHES"])
    monkeypatch.setattr(plan_sizes, "SIZE_TTL_S", 0.0)


def _tags_of(engine):
    with read_scope(engine) as session:
        rows = session.exec(sa.select(AssetTag.asset_id, AssetTag.tag)).all()
    tags: dict[int, set[str]] = {}
    for asset_id, tag in rows:
        tags.setdefault(asset_id, set()).add(tag)
    return tags


@pytest.mark.parametrize("plan", PLANS)
@pytest.mark.parametrize("sort", SORTS)
def test_every_plan_of_a_tag_filter_pages_the_same(engine, tagged_gallery, monkeypatch, plan, sort):
    _choose(monkeypatch, plan)
    owner, other = tagged_gallery
    tags = _tags_of(engine)
    for tag in TAGS:
        for viewer, scope, visible in (
            (other, "public", public),
            (
                owner,
                "mine",
                lambda a: a.owner_id == owner.id and a.screening is not Screening.FLAGGED,
            ),
        ):

            def wanted(asset: Asset, tag: str = tag, visible=visible) -> bool:
                return visible(asset) and tag in tags.get(asset.id, set())

            listed = page_through(engine, viewer.id, limit=2, scope=scope, sort=sort, tag=tag)
            assert listed == expected_order(engine, sort, where=wanted), (tag, scope)
            assert listed  # the fixture puts every tag on a visible picture


@pytest.mark.parametrize("plan", PLANS)
@pytest.mark.parametrize("sort", SORTS)
def test_every_plan_of_a_search_pages_the_same(engine, tagged_gallery, monkeypatch, plan, sort):
    _choose(monkeypatch, plan)
    owner, other = tagged_gallery
    tags = _tags_of(engine)
    for text in ("kakaka", "kakaka picture", "portrait"):

        def wanted(asset: Asset, text: str = text) -> bool:
            return text in asset.title.lower() or text in tags.get(asset.id, set())

        listed = page_through(engine, other.id, limit=3, scope="public", sort=sort, search=text)
        assert listed == expected_order(engine, sort, where=lambda a: public(a) and wanted(a))
        mine = page_through(engine, owner.id, limit=3, scope="mine", sort=sort, search=text)
        assert mine == expected_order(
            engine,
            sort,
            where=lambda a: (
                a.owner_id == owner.id and a.screening is not Screening.FLAGGED and wanted(a)
            ),
        )
        assert listed and mine
