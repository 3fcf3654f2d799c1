"""Ownership (IDOR): user B asking for user A's job, muse or asset by id gets nothing.

Runs on every configured backend (SQLite, and PostgreSQL when TEST_DATABASE_URL is set).
"""

from datetime import UTC, datetime

import pytest

from core.db import read_scope, session_scope
from core.errors import NotFound
from core.gallery import engagement, library, listing, moderation, sharing
from core.gallery.sharing import ShareSigner
from core.models import Asset, Visibility
from core.muses import service as muses
from core.studio.history import job_for_user
from testing.factories import make_job, make_muse, make_user, store_png

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


@pytest.fixture
def alice_private(engine, tmp_path):
    alice, bob = make_user(engine), make_user(engine)
    with session_scope(engine) as session:
        asset = store_png(
            session, media=tmp_path, owner_id=alice.id, title="private", now=NOW, colour="navy"
        )
    return alice, bob, asset.id, make_job(engine, alice).id, make_muse(engine, alice).id


def test_another_users_job_and_muse_are_invisible(engine, alice_private):
    alice, bob, _asset_id, job_id, muse_id = alice_private
    assert job_for_user(engine, job_id=job_id, user_id=bob.id) is None
    assert job_for_user(engine, job_id=job_id, user_id=alice.id).id == job_id
    with read_scope(engine) as session:
        with pytest.raises(NotFound):
            muses.get_muse(session, owner_id=bob.id, muse_id=muse_id)
        assert muses.list_muses(session, owner_id=bob.id) == []
        assert muses.get_muse(session, owner_id=alice.id, muse_id=muse_id).id == muse_id


@pytest.mark.parametrize(
    "action",
    [
        lambda s, bob, a: listing.get_asset(s, viewer_id=bob, asset_id=a),
        lambda s, bob, a: engagement.rate(s, asset_id=a, user_id=bob, stars=1, now=NOW),
        lambda s, bob, a: library.set_visibility(
            s, owner_id=bob, asset_id=a, visibility=Visibility.PUBLIC, now=NOW
        ),
        lambda s, bob, a: library.set_title_tags(
            s, owner_id=bob, asset_id=a, title="mine now", tags=[], category=None
        ),
        lambda s, bob, a: sharing.create_share_link(
            s, owner_id=bob, asset_id=a, signer=ShareSigner.from_secret("k"), now=NOW
        ),
        lambda s, bob, a: sharing.revoke_share(s, owner_id=bob, asset_id=a, now=NOW),
        lambda s, bob, a: moderation.report_asset(
            s, asset_id=a, reporter_id=bob, reason="spam", details="", now=NOW
        ),
        lambda s, bob, a: library.delete_asset(s, owner_id=bob, asset_id=a, media=None),
    ],
    ids=["read", "rate", "visibility", "retitle", "share", "unshare", "report", "delete"],
)
def test_another_users_private_asset_cannot_be_read_or_touched(engine, alice_private, action):
    alice, bob, asset_id, _job_id, _muse_id = alice_private
    with session_scope(engine) as session, pytest.raises(NotFound):
        action(session, bob.id, asset_id)
    with read_scope(engine) as session:
        asset = session.get(Asset, asset_id)
        assert (asset.title, asset.visibility, asset.hidden) == (
            "private",
            Visibility.PRIVATE,
            False,
        )
        assert (asset.rating_count, asset.view_count) == (0, 0)
    with read_scope(engine) as session:
        assert listing.list_assets(session, viewer_id=bob.id, scope="mine").items == []
