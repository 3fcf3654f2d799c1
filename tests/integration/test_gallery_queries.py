"""Gallery: keyset paging, visibility, ratings, views, share links, reports, takedown."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from core.accounts import sessions
from core.db import read_scope, session_scope
from core.errors import NotFound, ValidationFailed
from core.gallery import engagement, library, listing, moderation, sharing, store
from core.gallery.sharing import ShareSigner
from core.models import Asset, AssetView, MediaKind, Role, Screening, Visibility
from testing.factories import make_user, store_png

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
SECRET = "share-signing-secret"
SIGNER = ShareSigner.from_secret(SECRET)


def make_admin(engine):
    return make_user(engine, role=Role.ADMIN)


def add(engine, media, owner, seed, *, public=True, title=None, tags=(), minutes=0, **fields):
    with session_scope(engine) as session:
        asset = store_png(
            session,
            media=media,
            owner_id=owner.id,
            title=title or f"picture {seed}",
            now=NOW + timedelta(minutes=minutes),
            colour=(seed % 256, (seed * 7) % 256, 90),
            tags=tags,
        )
        if public:
            asset.visibility, asset.screening = Visibility.PUBLIC, Screening.PASSED
        for name, value in fields.items():
            setattr(asset, name, value)
        session.add(asset)
    return asset


@pytest.fixture
def media(tmp_path):
    return tmp_path / "media"


def page_through(engine, viewer, **kw):
    seen, cursor = [], None
    while True:
        with read_scope(engine) as session:
            page = listing.list_assets(session, viewer_id=viewer.id, cursor=cursor, limit=3, **kw)
        seen += [a.id for a in page.items]
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor


def test_newest_and_most_viewed_order(engine, media):
    owner = make_user(engine)
    old = add(engine, media, owner, 1, minutes=0, view_count=9)
    new = add(engine, media, owner, 2, minutes=5, view_count=1)
    assert page_through(engine, owner, scope="public", sort="newest") == [new.id, old.id]
    assert page_through(engine, owner, scope="public", sort="most_viewed") == [old.id, new.id]


def test_visibility_rules_and_idor(engine, media):
    alice, bob = make_user(engine), make_user(engine)
    private = add(engine, media, alice, 1, public=False)
    public = add(engine, media, alice, 2)
    hidden = add(engine, media, alice, 3, hidden=True)
    assert set(page_through(engine, alice, scope="mine")) == {private.id, public.id, hidden.id}
    assert page_through(engine, bob, scope="public") == [public.id]
    with read_scope(engine) as session:
        for asset in (private, hidden):
            with pytest.raises(NotFound):
                listing.get_asset(session, viewer_id=bob.id, asset_id=asset.id)
        assert listing.get_asset(session, viewer_id=alice.id, asset_id=private.id).id == private.id
    with session_scope(engine) as session, pytest.raises(NotFound):
        library.set_visibility(
            session, owner_id=bob.id, asset_id=private.id, visibility=Visibility.PUBLIC, now=NOW
        )


def test_filters_by_tag_kind_search_and_category(engine, media):
    owner = make_user(engine)
    tagged = add(engine, media, owner, 1, tags=("neon",), title="City lights", category="sci-fi")
    add(engine, media, owner, 2, title="Forest")
    assert page_through(engine, owner, scope="public", tag="neon") == [tagged.id]
    assert page_through(engine, owner, scope="public", search="city") == [tagged.id]
    assert page_through(engine, owner, scope="public", search="NEON") == [tagged.id]
    assert page_through(engine, owner, scope="public", category="sci-fi") == [tagged.id]
    assert page_through(engine, owner, scope="public", kind=MediaKind.VIDEO) == []


def test_ratings_stay_consistent_and_views_are_deduplicated(engine, media):
    owner, fan = make_user(engine), make_user(engine)
    asset = add(engine, media, owner, 1)
    with session_scope(engine) as session:
        engagement.rate(session, asset_id=asset.id, user_id=fan.id, stars=5, now=NOW)
    with session_scope(engine) as session:
        engagement.rate(session, asset_id=asset.id, user_id=fan.id, stars=2, now=NOW)
        engagement.rate(session, asset_id=asset.id, user_id=owner.id, stars=4, now=NOW)
        with pytest.raises(ValidationFailed):
            engagement.rate(session, asset_id=asset.id, user_id=owner.id, stars=6, now=NOW)
    with session_scope(engine) as session:
        assert engagement.record_view(session, asset_id=asset.id, viewer_id=fan.id, now=NOW)
        assert not engagement.record_view(session, asset_id=asset.id, viewer_id=fan.id, now=NOW)
        assert engagement.record_view(
            session, asset_id=asset.id, viewer_id=fan.id, now=NOW + timedelta(hours=2)
        )
    with read_scope(engine) as session:
        stored = session.get(Asset, asset.id)
    assert (stored.rating_sum, stored.rating_count, stored.view_count) == (6, 2, 2)


def test_one_viewers_simultaneous_opens_count_one_view(engine, media):
    """Two tabs opening the same picture at once. Before, on PostgreSQL, each found no view
    of the last hour and each counted one: the count grew with every simultaneous reload."""
    owner, fan = make_user(engine), make_user(engine)
    asset = add(engine, media, owner, 1)
    start = threading.Barrier(6)

    def view(_: int) -> bool:
        start.wait()
        with session_scope(engine) as session:
            return engagement.record_view(session, asset_id=asset.id, viewer_id=fan.id, now=NOW)

    with ThreadPoolExecutor(max_workers=6) as pool:
        counted = list(pool.map(view, range(6)))
    with read_scope(engine) as session:
        stored = session.get(Asset, asset.id)
    assert (sorted(counted), stored.view_count) == ([False] * 5 + [True], 1)


def test_views_of_a_picture_the_viewer_may_not_see_are_refused_and_not_counted(engine, media):
    owner, stranger = make_user(engine), make_user(engine)
    private = add(engine, media, owner, 1, public=False)
    for viewer_id in (stranger.id, None):
        with session_scope(engine) as session, pytest.raises(NotFound):
            engagement.record_view(session, asset_id=private.id, viewer_id=viewer_id, now=NOW)
    with session_scope(engine) as session:
        assert engagement.record_view(session, asset_id=private.id, viewer_id=owner.id, now=NOW)
    with read_scope(engine) as session:
        assert session.get(Asset, private.id).view_count == 1
        assert len(session.exec(select(AssetView)).all()) == 1


def test_share_links_are_signed_screened_and_revocable(engine, media):
    owner, other = make_user(engine), make_user(engine)
    asset = add(engine, media, owner, 1, public=False)
    with session_scope(engine) as session:
        token = sharing.create_share_link(
            session, owner_id=owner.id, asset_id=asset.id, signer=SIGNER, now=NOW
        )
        with pytest.raises(NotFound):  # only the owner shares
            sharing.create_share_link(
                session, owner_id=other.id, asset_id=asset.id, signer=SIGNER, now=NOW
            )
    with read_scope(engine) as session:
        assert session.get(Asset, asset.id).visibility is Visibility.UNLISTED
        with pytest.raises(NotFound, match="waiting for review"):  # screened before shared
            sharing.resolve_share(session, token=token, signer=SIGNER)
        assert page_through(engine, other, scope="public") == []  # unlisted: never listed
    with session_scope(engine) as session:
        moderation.approve_asset(
            session, asset_id=asset.id, moderator_id=make_admin(engine).id, now=NOW
        )
    raw, _, mac = token.rpartition(".")
    with read_scope(engine) as session:
        assert sharing.resolve_share(session, token=token, signer=SIGNER).id == asset.id
        for forged, signer in [
            (token, ShareSigner.from_secret("another secret")),
            (f"{raw}x.{mac}", SIGNER),
            (raw, SIGNER),
            ("guess", SIGNER),
            # Signed like a session cookie with the bare secret: the sharing key is not it.
            (sessions.sign_cookie(raw, SECRET), SIGNER),
        ]:
            with pytest.raises(NotFound):
                sharing.resolve_share(session, token=forged, signer=signer)
    with session_scope(engine) as session:
        library.set_visibility(
            session, owner_id=owner.id, asset_id=asset.id, visibility=Visibility.PRIVATE, now=NOW
        )
    with read_scope(engine) as session, pytest.raises(NotFound):  # private again: link dead
        sharing.resolve_share(session, token=token, signer=SIGNER)
    with session_scope(engine) as session:
        library.set_visibility(
            session, owner_id=owner.id, asset_id=asset.id, visibility=Visibility.UNLISTED, now=NOW
        )
        assert sharing.revoke_share(session, owner_id=owner.id, asset_id=asset.id, now=NOW) == 1
    with read_scope(engine) as session, pytest.raises(NotFound):
        sharing.resolve_share(session, token=token, signer=SIGNER)


def test_nobody_reports_a_picture_they_cannot_see(engine, media):
    owner, stranger = make_user(engine), make_user(engine)
    private = add(engine, media, owner, 1, public=False)
    with session_scope(engine) as session, pytest.raises(NotFound):
        moderation.report_asset(
            session, asset_id=private.id, reporter_id=stranger.id, reason="spam", details="",
            now=NOW,
        )  # fmt: skip
    with read_scope(engine) as session:
        assert session.get(Asset, private.id).hidden is False


def test_a_share_link_holder_can_report_and_the_link_then_stops_working(engine, media):
    owner = make_user(engine)
    asset = add(engine, media, owner, 1)
    with session_scope(engine) as session:
        token = sharing.create_share_link(
            session, owner_id=owner.id, asset_id=asset.id, signer=SIGNER, now=NOW
        )
    with session_scope(engine) as session:
        moderation.report_shared(
            session, token=token, signer=SIGNER, reason="other", details="", now=NOW
        )
    with read_scope(engine) as session:
        assert [r.asset_id for r, _ in moderation.moderation_queue(session).reports] == [asset.id]
        with pytest.raises(NotFound):
            sharing.resolve_share(session, token=token, signer=SIGNER)


def test_report_hides_at_once_and_takedown_blocks_identical_copies(engine, media):
    owner, reporter, moderator = make_user(engine), make_user(engine), make_admin(engine)
    asset = add(engine, media, owner, 1)
    with session_scope(engine) as session:
        report = moderation.report_asset(
            session,
            asset_id=asset.id,
            reporter_id=reporter.id,
            reason="non-consensual",
            details="<script>x</script>",
            now=NOW,
        )
    assert page_through(engine, reporter, scope="public") == []
    with read_scope(engine) as session:
        queue = moderation.moderation_queue(session)
    assert [r.id for r, _ in queue.reports] == [report.id]
    assert queue.reports[0][0].details == "<script>x</script>"  # stored literally
    with session_scope(engine) as session:
        moderation.resolve_report(
            session, report_id=report.id, moderator_id=moderator.id, action="takedown", now=NOW
        )
    with pytest.raises(ValidationFailed, match="taken down"):
        add(engine, media, make_user(engine), 1)
    with session_scope(engine) as session, pytest.raises(NotFound):
        moderation.resolve_report(
            session, report_id=report.id, moderator_id=moderator.id, action="restore", now=NOW
        )


def test_restore_and_approve(engine, media):
    owner, moderator = make_user(engine), make_admin(engine)
    asset = add(engine, media, owner, 1, screening=Screening.PENDING)
    with read_scope(engine) as session:
        assert [a.id for a in moderation.moderation_queue(session).pending_assets] == [asset.id]
    with session_scope(engine) as session:
        moderation.approve_asset(session, asset_id=asset.id, moderator_id=moderator.id, now=NOW)
        report = moderation.report_asset(
            session, asset_id=asset.id, reporter_id=None, reason="spam", details="", now=NOW
        )
    with session_scope(engine) as session:
        moderation.resolve_report(
            session, report_id=report.id, moderator_id=moderator.id, action="restore", now=NOW
        )
    assert page_through(engine, owner, scope="public") == [asset.id]


def test_delete_removes_files_no_longer_referenced(engine, media):
    owner = make_user(engine)
    asset = add(engine, media, owner, 1, featured=True)
    with read_scope(engine) as session:
        assert [a.id for a in listing.featured(session)] == [asset.id]
    with session_scope(engine) as session:
        library.set_title_tags(
            session,
            owner_id=owner.id,
            asset_id=asset.id,
            title="' OR 1=1 --",
            tags=["a", "a", "b"],
            category=None,
        )
    with session_scope(engine) as session:
        library.delete_asset(session, owner_id=owner.id, asset_id=asset.id, media=media)
    with pytest.raises(NotFound):
        store.read(media, asset.sha256)


def test_a_bad_cursor_is_a_clear_error(engine):
    owner = make_user(engine)
    with read_scope(engine) as session, pytest.raises(ValidationFailed, match="page link"):
        listing.list_assets(session, viewer_id=owner.id, cursor="garbage!")


def test_filters_by_muse_and_date(engine, media):
    from testing.factories import make_muse

    owner = make_user(engine)
    muse = make_muse(engine, owner)
    early = add(engine, media, owner, 1, minutes=0, muse_id=muse.id)
    late = add(engine, media, owner, 2, minutes=60)
    assert page_through(engine, owner, scope="public", muse_id=muse.id) == [early.id]
    assert page_through(engine, owner, scope="public", since=NOW + timedelta(minutes=30)) == [
        late.id
    ]
    assert page_through(engine, owner, scope="public", until=NOW + timedelta(minutes=30)) == [
        early.id
    ]


def test_admins_feature_assets(engine, media):
    owner, admin = make_user(engine), make_admin(engine)
    asset = add(engine, media, owner, 1)
    with session_scope(engine) as session:
        moderation.set_featured(
            session, asset_id=asset.id, featured=True, moderator_id=admin.id, now=NOW
        )
    with read_scope(engine) as session:
        assert [a.id for a in listing.featured(session)] == [asset.id]
    with session_scope(engine) as session:
        moderation.set_featured(
            session, asset_id=asset.id, featured=False, moderator_id=admin.id, now=NOW
        )
        with pytest.raises(NotFound):
            moderation.set_featured(
                session, asset_id=999, featured=True, moderator_id=admin.id, now=NOW
            )
    with read_scope(engine) as session:
        assert listing.featured(session) == []


def test_only_administrators_moderate(engine, media):
    owner = make_user(engine)
    asset = add(engine, media, owner, 1, screening=Screening.PENDING)
    with session_scope(engine) as session:
        report = moderation.report_asset(
            session, asset_id=asset.id, reporter_id=None, reason="spam", details="", now=NOW
        )
    attempts = [
        lambda s: moderation.approve_asset(s, asset_id=asset.id, moderator_id=owner.id, now=NOW),
        lambda s: moderation.set_featured(
            s, asset_id=asset.id, featured=True, moderator_id=owner.id, now=NOW
        ),
        lambda s: moderation.resolve_report(
            s, report_id=report.id, moderator_id=owner.id, action="restore", now=NOW
        ),
    ]
    for attempt in attempts:
        with session_scope(engine) as session, pytest.raises(ValidationFailed, match="Only"):
            attempt(session)
    with read_scope(engine) as session:
        stored = session.get(Asset, asset.id)
        assert stored.screening is Screening.PENDING and not stored.featured
