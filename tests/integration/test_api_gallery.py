"""The gallery over the HTTP API: filter, rate, share and revoke (uvicorn on loopback,
httpx), on SQLite and PostgreSQL.

The gallery page's rules hold unchanged: a rating needs a picture the rater may see, a share
link one they own, and a link opens its picture only once screened and while not hidden;
no token reaches another user's picture (404, the same as a missing one).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from core.accounts.api_tokens import Scope
from core.config import get_settings
from core.db import read_scope, session_scope
from core.errors import NotFound
from core.gallery import sharing
from core.models import Asset, AssetTag, Rating, Screening, ShareLink, Visibility
from testing.api import Api, api_thread
from testing.factories import make_asset


@pytest.fixture
def api(engine: Engine) -> Iterator[Api]:
    with api_thread(engine) as served:
        yield served


def _signer() -> sharing.ShareSigner:
    """The web app's signer (ui.resources.share_signer): the page that opens the links."""
    return sharing.ShareSigner.from_secret(get_settings().cookie_key.get_secret_value())


def _opens(engine: Engine, token: str) -> bool:
    with read_scope(engine) as session:
        try:
            sharing.resolve_share(session, token=token, signer=_signer())
        except NotFound:
            return False
    return True


def _asset(engine: Engine, asset_id: int) -> Asset:
    with read_scope(engine) as session:
        found = session.get(Asset, asset_id)
        assert found is not None
        return found


def test_a_visible_picture_is_rated_once_per_user_and_a_new_rating_replaces_it(api: Api):
    owner, _ = api.user_with_token()
    _rater, token = api.user_with_token()
    picture = make_asset(api.engine, owner)
    with api.client(token) as client:
        first = client.put(f"/v1/assets/{picture.id}/rating", json={"stars": 5})
        second = client.put(f"/v1/assets/{picture.id}/rating", json={"stars": 2})
        shown = client.get(f"/v1/assets/{picture.id}").json()
        too_many = client.put(f"/v1/assets/{picture.id}/rating", json={"stars": 6})
    assert first.status_code == 200 and first.json()["rating_average"] == 5
    assert second.json()["rating_count"] == 1 and second.json()["rating_average"] == 2
    assert shown["rating_count"] == 1
    assert too_many.status_code == 422
    stored = _asset(api.engine, picture.id or 0)
    assert (stored.rating_sum, stored.rating_count) == (2, 1)


def test_one_raters_simultaneous_first_ratings_count_once_and_none_fails(api: Api) -> None:
    """A double-click from two tabs, or a client that retries at once. Before, on
    PostgreSQL, both requests found no rating, both inserted one, and the second was a 500
    (duplicate key on rating's primary key)."""
    owner, _ = api.user_with_token()
    _rater, token = api.user_with_token()
    for stars in (3, 4, 5):
        picture = make_asset(api.engine, owner)

        def rate(
            _: int,
            picture_id: int = picture.id or 0,
            stars: int = stars,
            start: threading.Barrier = threading.Barrier(6),  # noqa: B008 - one per picture
        ) -> int:
            with api.client(token) as client:
                start.wait()
                reply = client.put(f"/v1/assets/{picture_id}/rating", json={"stars": stars})
            return reply.status_code

        with ThreadPoolExecutor(max_workers=6) as pool:
            assert list(pool.map(rate, range(6))) == [200] * 6
        stored = _asset(api.engine, picture.id or 0)
        assert (stored.rating_sum, stored.rating_count) == (stars, 1)


@pytest.mark.parametrize(
    "fields",
    [
        {"visibility": Visibility.PRIVATE},
        {"visibility": Visibility.UNLISTED},
        {"screening": Screening.PENDING},
        {"hidden": True},
    ],
    ids=["private", "unlisted", "unscreened", "hidden"],
)
def test_a_picture_the_rater_may_not_see_is_404_and_unrated(api: Api, fields: dict) -> None:
    owner, _ = api.user_with_token()
    _rater, token = api.user_with_token()
    picture = make_asset(api.engine, owner, **fields)
    with api.client(token) as client:
        assert client.get(f"/v1/assets/{picture.id}").status_code == 404
        reply = client.put(f"/v1/assets/{picture.id}/rating", json={"stars": 5})
    assert reply.status_code == 404 and reply.json()["error"]
    with read_scope(api.engine) as session:
        assert session.exec(select(Rating)).all() == []


def test_a_share_link_opens_a_private_picture_until_it_is_revoked(api: Api) -> None:
    owner, token = api.user_with_token()
    picture = make_asset(api.engine, owner, visibility=Visibility.PRIVATE)
    with api.client(token) as client:
        shared = client.post(f"/v1/assets/{picture.id}/share")
        assert shared.status_code == 201, shared.text
        link = shared.json()
        assert link["url"] == f"{get_settings().base_url}/share?token={link['token']}"
        assert _asset(api.engine, picture.id or 0).visibility is Visibility.UNLISTED
        assert _opens(api.engine, link["token"])
        revoked = client.delete(f"/v1/assets/{picture.id}/share")
    assert revoked.status_code == 200 and revoked.json() == {"revoked": 1}
    assert not _opens(api.engine, link["token"])


def test_a_link_to_an_unscreened_or_hidden_picture_does_not_open_it(api: Api) -> None:
    owner, token = api.user_with_token()
    pending = make_asset(api.engine, owner, visibility=Visibility.PRIVATE,
                         screening=Screening.PENDING)  # fmt: skip
    hidden = make_asset(api.engine, owner, hidden=True)
    with api.client(token) as client:
        links = [client.post(f"/v1/assets/{p.id}/share").json()["token"] for p in (pending, hidden)]
    assert [_opens(api.engine, link) for link in links] == [False, False]


def test_no_token_shares_rates_or_revokes_another_user_s_picture(api: Api) -> None:
    owner, owner_token = api.user_with_token()
    _other, other_token = api.user_with_token()
    private = make_asset(api.engine, owner, visibility=Visibility.PRIVATE)
    public = make_asset(api.engine, owner)
    with api.client(owner_token) as client:
        link = client.post(f"/v1/assets/{public.id}/share").json()["token"]
    with api.client(other_token) as client:
        for picture in (private, public):
            assert client.post(f"/v1/assets/{picture.id}/share").status_code == 404
            assert client.delete(f"/v1/assets/{picture.id}/share").status_code == 404
        assert client.put(f"/v1/assets/{private.id}/rating", json={"stars": 1}).status_code == 404
    with read_scope(api.engine) as session:
        assert len(session.exec(select(ShareLink)).all()) == 1
    assert _asset(api.engine, private.id or 0).visibility is Visibility.PRIVATE
    assert _opens(api.engine, link)


def test_rating_and_sharing_need_more_than_the_read_scope(api: Api) -> None:
    owner, reader = api.user_with_token(frozenset({Scope.READ}))
    picture = make_asset(api.engine, owner, visibility=Visibility.PRIVATE)
    with api.client(reader) as client:
        assert client.post(f"/v1/assets/{picture.id}/share").status_code == 403
        assert client.delete(f"/v1/assets/{picture.id}/share").status_code == 403
        assert client.put(f"/v1/assets/{picture.id}/rating", json={"stars": 4}).status_code == 403
    assert _asset(api.engine, picture.id or 0).visibility is Visibility.PRIVATE


def test_the_gallery_filters_by_kind_tag_and_text(api: Api) -> None:
    owner, token = api.user_with_token()
    lighthouse = make_asset(api.engine, owner, title="Lighthouse at dusk", category="landscape")
    make_asset(api.engine, owner, title="Harbour")
    with session_scope(api.engine) as session:
        session.add(AssetTag(asset_id=lighthouse.id or 0, tag="coast"))
    with api.client(token) as client:

        def ids(**params: str) -> list[int]:
            return [a["id"] for a in client.get("/v1/gallery", params=params).json()["items"]]

        assert ids(search="lighthouse") == [lighthouse.id]
        assert ids(tag="coast") == [lighthouse.id]
        assert ids(category="landscape") == [lighthouse.id]
        assert ids(kind="video") == []
        assert client.get("/v1/gallery", params={"search": "a\x00b"}).status_code == 422
