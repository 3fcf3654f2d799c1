"""Bulk actions on one's own pictures: all or none, never another owner's."""

from datetime import UTC, datetime

import pytest
from sqlmodel import select

from core.db import read_scope, session_scope
from core.errors import NotFound, ValidationFailed
from core.gallery import library, listing
from core.models import Asset, AssetTag, Report, Visibility
from testing.factories import make_asset, make_user

NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)


def mine(engine, owner, **filters):
    with read_scope(engine) as session:
        page = listing.list_assets(session, viewer_id=owner.id, scope="mine", limit=50, **filters)
    return {a.id for a in page.items}


def test_bulk_category_and_tags_make_the_pictures_found_by_each_filter(engine):
    owner = make_user(engine)
    picked = [make_asset(engine, owner, visibility=Visibility.PRIVATE) for _ in range(3)]
    other = make_asset(engine, owner)
    with session_scope(engine) as session:
        session.add(AssetTag(asset_id=picked[0].id, tag="moody"))
    ids = [a.id for a in picked]
    with session_scope(engine) as session:
        changed = library.set_category_tags_many(
            session, owner_id=owner.id, asset_ids=ids, category="cinematic", add_tags=["Neon"]
        )
    assert changed == 3
    assert mine(engine, owner, category="cinematic") == set(ids)
    assert mine(engine, owner, tag="neon") == set(ids)
    assert mine(engine, owner, tag="moody") == {picked[0].id}  # own tags kept
    assert other.id not in mine(engine, owner, tag="neon")
    with session_scope(engine) as session:
        library.set_visibility_many(
            session, owner_id=owner.id, asset_ids=ids, visibility=Visibility.PUBLIC, now=NOW
        )
    with read_scope(engine) as session:
        assert {session.get(Asset, i).visibility for i in ids} == {Visibility.PUBLIC}


def test_a_bulk_action_with_another_owners_picture_does_nothing(engine, tmp_path):
    owner, stranger = make_user(engine), make_user(engine)
    own = make_asset(engine, owner, visibility=Visibility.PRIVATE)
    theirs = make_asset(engine, stranger, visibility=Visibility.PRIVATE)
    for action in (
        lambda s: library.set_visibility_many(
            s,
            owner_id=owner.id,
            asset_ids=[own.id, theirs.id],
            visibility=Visibility.PUBLIC,
            now=NOW,
        ),
        lambda s: library.delete_many(
            s, owner_id=owner.id, asset_ids=[own.id, theirs.id], media=tmp_path
        ),
    ):
        with pytest.raises(NotFound), session_scope(engine) as session:
            action(session)
    with read_scope(engine) as session:
        assert session.get(Asset, own.id).visibility is Visibility.PRIVATE
        assert session.get(Asset, theirs.id) is not None


def test_bulk_delete_removes_all_or_refuses_all_when_one_is_reported(engine, tmp_path):
    owner, reporter = make_user(engine), make_user(engine)
    a, b, c = (make_asset(engine, owner) for _ in range(3))
    with session_scope(engine) as session:
        session.add(Report(asset_id=c.id, reporter_id=reporter.id, reason="spam"))
    with pytest.raises(ValidationFailed), session_scope(engine) as session:
        library.delete_many(session, owner_id=owner.id, asset_ids=[a.id, c.id], media=tmp_path)
    assert mine(engine, owner) == {a.id, b.id, c.id}
    with session_scope(engine) as session:
        assert (
            library.delete_many(
                session, owner_id=owner.id, asset_ids=[a.id, b.id, a.id], media=tmp_path
            )
            == 2
        )
    with read_scope(engine) as session:
        assert [x.id for x in session.exec(select(Asset)).all()] == [c.id]
