"""Muses over the HTTP API (uvicorn on loopback, httpx), on SQLite and PostgreSQL.

The Muses page's rules hold unchanged: the strict profile, 18+ and every text screened (a
refusal is 422 and audited, nothing stored), the `muses` scope for writes, and no token
reaches another user's muse (404, the same as a missing one).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from core.accounts.api_tokens import Scope
from core.db import read_scope
from core.models import AuditEntry, Muse, User
from core.muses import cards
from core.muses.schema import validate_profile
from testing.api import Api, api_thread
from testing.factories import make_muse


@pytest.fixture
def api(engine: Engine) -> Iterator[Api]:
    with api_thread(engine) as served:
        yield served


def _profile(
    name: str = "Mara", age: int = 29, notes: str = "Calm, dry humour.", **basic: Any
) -> dict[str, Any]:
    return {
        "basic": {"name": name, "age": age, "occupation": "lighthouse keeper", **basic},
        "hair": {"color": "copper", "length": "long"},
        "notes": notes,
    }


def _muses_of(engine: Engine, user: User) -> list[Muse]:
    with read_scope(engine) as session:
        return list(session.exec(select(Muse).where(Muse.owner_id == user.id)).all())


def _refusals(engine: Engine, user: User) -> list[AuditEntry]:
    with read_scope(engine) as session:
        return list(
            session.exec(
                select(AuditEntry).where(
                    AuditEntry.actor == f"user:{user.id}", AuditEntry.action == "policy.refused"
                )
            ).all()
        )


def test_a_muse_is_created_read_listed_and_updated_with_its_whole_profile(api: Api) -> None:
    user, token = api.user_with_token()
    with api.client(token) as client:
        created = client.post("/v1/muses", json={"profile": _profile(), "tags": ["Sea Side"]})
        assert created.status_code == 201, created.text
        muse = created.json()
        assert (muse["name"], muse["tags"], muse["explicit"]) == ("Mara", ["sea-side"], False)
        assert muse["profile"]["hair"]["color"] == "copper"
        assert client.get(f"/v1/muses/{muse['id']}").json()["profile"] == muse["profile"]
        assert [m["id"] for m in client.get("/v1/muses").json()] == [muse["id"]]
        changed = _profile("Mara Vale", occupation="sailor")
        updated = client.put(f"/v1/muses/{muse['id']}", json={"profile": changed, "tags": []})
        assert updated.status_code == 200, updated.text
        assert client.get("/v1/muses", params={"search": "sailor"}).json()[0]["name"] == (
            "Mara Vale"
        )
    [stored] = _muses_of(api.engine, user)
    assert (stored.name, stored.tags, stored.profile["basic"]["occupation"]) == (
        "Mara Vale",
        [],
        "sailor",
    )


@pytest.mark.parametrize(
    "profile",
    [
        _profile(age=17),
        _profile(notes="she is 15 years old"),
        _profile(occupation="schoolgirl"),
    ],
    ids=["age-17", "minor-in-notes", "minor-occupation"],
)
def test_a_minor_is_refused_audited_and_nothing_is_stored(api: Api, profile: dict) -> None:
    user, token = api.user_with_token()
    with api.client(token) as client:
        reply = client.post("/v1/muses", json={"profile": profile})
    assert reply.status_code == 422, reply.text
    assert reply.json()["error"] and "Traceback" not in reply.text
    assert _muses_of(api.engine, user) == []
    assert [entry.target for entry in _refusals(api.engine, user)] == ["api.muse.save"]


def test_an_update_is_screened_like_a_new_muse_and_a_refusal_changes_nothing(api: Api) -> None:
    user, token = api.user_with_token()
    muse = make_muse(api.engine, user, name="Mara", profile=_profile())
    with api.client(token) as client:
        young = client.put(f"/v1/muses/{muse.id}", json={"profile": _profile(age=16)})
        typo = client.put(f"/v1/muses/{muse.id}", json={"profile": {"basic": {"name": "X"}}})
    assert young.status_code == 422 and typo.status_code == 422
    assert "basic.age" in typo.json()["error"]
    [stored] = _muses_of(api.engine, user)
    assert stored.age == 27 and stored.profile["basic"]["age"] == 29
    assert len(_refusals(api.engine, user)) == 1  # the minor; a missing field is no refusal


def test_writes_need_the_muses_scope_and_reads_the_read_scope(api: Api) -> None:
    user, reader = api.user_with_token(frozenset({Scope.READ}))
    muse = make_muse(api.engine, user, profile=_profile())
    with api.client(reader) as client:
        assert client.get(f"/v1/muses/{muse.id}").status_code == 200
        assert client.post("/v1/muses", json={"profile": _profile()}).status_code == 403
        assert client.put(f"/v1/muses/{muse.id}", json={"profile": _profile()}).status_code == 403
        assert client.get(f"/v1/muses/{muse.id}/card").status_code == 403
        assert client.post("/v1/muses/import", content=b"{}").status_code == 403
    assert len(_muses_of(api.engine, user)) == 1


def test_no_token_reaches_another_user_s_muses(api: Api) -> None:
    owner, owner_token = api.user_with_token()
    _other, other_token = api.user_with_token()
    with api.client(owner_token) as client:
        muse = client.post("/v1/muses", json={"profile": _profile()}).json()
    with api.client(other_token) as client:
        for path in (f"/v1/muses/{muse['id']}", f"/v1/muses/{muse['id']}/card",
                     f"/v1/muses/{muse['id']}/card?format=png"):  # fmt: skip
            assert client.get(path).status_code == 404, path
        put = client.put(f"/v1/muses/{muse['id']}", json={"profile": _profile("Stolen")})
        assert put.status_code == 404
        assert client.get("/v1/muses").json() == []
        assert client.get("/v1/muses", params={"search": "Mara"}).json() == []
    [stored] = _muses_of(api.engine, owner)
    assert stored.name == "Mara"


def test_an_exported_card_imports_for_another_user_and_a_second_import_asks(api: Api) -> None:
    _owner, owner_token = api.user_with_token()
    other, other_token = api.user_with_token()
    with api.client(owner_token) as client:
        muse = client.post("/v1/muses", json={"profile": _profile(), "tags": ["sea"]}).json()
        exported = client.get(f"/v1/muses/{muse['id']}/card")
        png = client.get(f"/v1/muses/{muse['id']}/card", params={"format": "png"})
    assert exported.headers["content-type"] == "application/json"
    assert png.headers["content-type"] == "image/png" and png.content.startswith(b"\x89PNG")
    card = json.loads(exported.content)
    assert card["format"] == "aikings.muse" and "owner_id" not in json.dumps(card)
    with api.client(other_token) as client:
        first = client.post("/v1/muses/import", content=exported.content,
                            headers={"Content-Type": "application/json"})  # fmt: skip
        again = client.post("/v1/muses/import", content=png.content,
                            headers={"Content-Type": "image/png"})  # fmt: skip
        copy = client.post("/v1/muses/import", params={"as_copy": True}, content=png.content,
                           headers={"Content-Type": "image/png"})  # fmt: skip
    assert first.status_code == 201, first.text
    assert first.json()["profile"] == muse["profile"] and first.json()["tags"] == ["sea"]
    assert again.status_code == 409 and "Mara" in again.json()["error"]
    assert copy.status_code == 201 and copy.json()["name"] == "Mara (copy 2)"
    assert sorted(m.name for m in _muses_of(api.engine, other)) == ["Mara", "Mara (copy 2)"]


def test_an_imported_card_is_screened_and_refused_whole(api: Api) -> None:
    user, token = api.user_with_token()
    good = cards.CardData(validate_profile(_profile()), variations=[("beach", {"outfit": "a"})])
    envelope = json.loads(cards.export_json(good))
    envelope["profile"]["basic"]["age"] = 16
    minor = json.dumps(envelope).encode()
    envelope["profile"]["basic"]["age"] = 30
    envelope["variations"] = [{"name": "school", "overrides": {"outfit": "a 14 year old's"}}]
    minor_look = json.dumps(envelope).encode()
    with api.client(token) as client:
        replies = [
            client.post("/v1/muses/import", content=body)
            for body in (minor, minor_look, b"not a card", b"", b"{" * 9_000_000)
        ]
        assert client.get("/v1/muses").json() == []
    assert [reply.status_code for reply in replies] == [422, 422, 422, 422, 413]
    assert all(reply.json()["error"] for reply in replies)
    assert [e.target for e in _refusals(api.engine, user)] == ["api.muse.import"] * 2
