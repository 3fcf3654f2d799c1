"""The HTTP API over loopback (uvicorn in a thread, httpx), on SQLite and PostgreSQL.

Every rule of the pages holds through it: tokens scoped and revocable, another user's rows
404, prompts screened before any credit is held, no traceback in any response.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from api.app import create_app
from api.main import services_from
from core.accounts import ledger, legal
from core.accounts.api_tokens import Scope, revoke_token
from core.clock import SystemClock
from core.config import get_settings
from core.db import read_scope, session_scope
from core.models import (
    ApiToken,
    AuditEntry,
    CreditEntry,
    GenerationJob,
    JobStatus,
    Role,
    User,
    Visibility,
)
from sim.server import ServerThread
from testing.api import ALL_USER_SCOPES, Api, api_thread
from testing.factories import store_png

_TEXTS = legal.load()


def _serve(engine: Engine, *, per_minute: int = 10_000) -> Iterator[Api]:
    with api_thread(engine, per_minute=per_minute) as api:
        yield api


@pytest.fixture
def api(engine: Engine) -> Iterator[Api]:
    yield from _serve(engine)


def _balance(engine: Engine, user: User) -> int:
    with read_scope(engine) as session:
        return ledger.balance(session, user.id or 0)


def test_without_a_valid_token_every_route_is_401_with_a_message(api: Api) -> None:
    user, token = api.user_with_token()
    for bad in (None, "aik_not-a-token", "Basic abc"):
        with api.client(bad) as client:
            reply = client.get("/v1/account")
        assert reply.status_code == 401
        assert "token" in reply.json()["error"]
    with session_scope(api.engine) as session:
        row = session.exec(select(ApiToken).where(ApiToken.user_id == user.id)).one()
        revoke_token(session, user_id=user.id or 0, token_id=row.id or 0, now=row.created_at)
    with api.client(token) as client:
        assert client.get("/v1/account").status_code == 401


def test_a_disabled_account_s_token_stops_working(api: Api) -> None:
    user, token = api.user_with_token()
    with api.client(token) as client:
        assert client.get("/v1/account").status_code == 200
        with session_scope(api.engine) as session:
            row = session.get(User, user.id)
            assert row is not None
            row.disabled = True
            session.add(row)
        assert client.get("/v1/account").status_code == 401


def test_account_shows_balance_and_scopes_and_the_ledger_pages(api: Api) -> None:
    user, token = api.user_with_token(credits=70)
    with api.client(token) as client:
        account = client.get("/v1/account").json()
        lines = client.get("/v1/account/ledger", params={"limit": 5}).json()
    assert account["username"] == user.username and account["balance"] == 70
    assert account["scopes"] == ["generate", "muses", "read"]
    assert [line["credits"] for line in lines] == [70]


def test_a_read_only_token_cannot_spend_credits(api: Api) -> None:
    user, token = api.user_with_token(frozenset({Scope.READ}))
    with api.client(token) as client:
        reply = client.post("/v1/jobs", json={"prompt": "a lighthouse at dusk"})
    assert reply.status_code == 403 and "generate" in reply.json()["error"]
    assert _balance(api.engine, user) == 100


def test_submit_holds_credits_and_the_job_is_followed_to_its_end(api: Api) -> None:
    user, token = api.user_with_token()
    with api.client(token) as client:
        quote = client.post("/v1/estimate", json={"prompt": "a lighthouse at dusk"}).json()
        created = client.post("/v1/jobs", json={"prompt": "a lighthouse at dusk", "seed": 7})
        assert created.status_code == 201, created.text
        job = created.json()
        assert job["status"] == "queued" and job["seed"] == 7
        assert job["estimated_credits"] == quote["credits_held"]
        assert _balance(api.engine, user) == 100 - quote["credits_held"]
        seen = client.get(f"/v1/jobs/{job['id']}").json()
        assert seen["queue_position"] == 1
        assert [j["id"] for j in client.get("/v1/jobs").json()] == [job["id"]]

        def cancel_soon() -> None:
            with api.client(token) as other:
                other.post(f"/v1/jobs/{job['id']}/cancel")

        timer = threading.Timer(0.3, cancel_soon)
        timer.start()
        with client.stream("GET", f"/v1/jobs/{job['id']}/events") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            events = [line for line in stream.iter_lines() if line.startswith("data: ")]
        timer.join()
    assert '"status":"queued"' in events[0]
    assert '"status":"cancelled"' in events[-1]
    assert _balance(api.engine, user) == 100


def test_cancel_says_whether_the_job_ended_or_is_being_stopped(api: Api) -> None:
    _user, token = api.user_with_token()
    with api.client(token) as client:
        queued = client.post("/v1/jobs", json={"prompt": "a lighthouse at dusk"}).json()
        started = client.post("/v1/jobs", json={"prompt": "a harbour at noon"}).json()
        with session_scope(api.engine) as session:  # a worker has started the second one
            row = session.get(GenerationJob, started["id"])
            row.status = JobStatus.RUNNING
            session.add(row)
        first = client.post(f"/v1/jobs/{queued['id']}/cancel").json()
        second = client.post(f"/v1/jobs/{started['id']}/cancel").json()
        again = client.post(f"/v1/jobs/{queued['id']}/cancel").json()
    assert first == {"outcome": "cancelled", "cancelled": True}
    assert second == {"outcome": "stopping", "cancelled": False}
    assert again == {"outcome": "too_late", "cancelled": False}
    with read_scope(api.engine) as session:
        assert session.get(GenerationJob, started["id"]).cancel_requested_at is not None


def test_a_refused_prompt_holds_nothing_and_is_audited(api: Api) -> None:
    user, token = api.user_with_token()
    with api.client(token) as client:
        reply = client.post("/v1/jobs", json={"prompt": "a portrait of a 15 year old"})
    assert reply.status_code == 422
    assert "18" in reply.json()["error"] or "minor" in reply.json()["error"].lower()
    assert _balance(api.engine, user) == 100
    with read_scope(api.engine) as session:
        assert not session.exec(select(GenerationJob)).all()
        refusals = session.exec(
            select(AuditEntry).where(AuditEntry.actor == f"user:{user.id}")
        ).all()
    assert any(entry.target == "studio.submit" for entry in refusals)


def test_not_enough_credits_is_402(api: Api) -> None:
    _user, token = api.user_with_token(credits=0)
    with api.client(token) as client:
        reply = client.post("/v1/jobs", json={"prompt": "a lighthouse at dusk"})
    assert reply.status_code == 402 and reply.json()["error"]


def test_no_token_reaches_another_user_s_jobs_outputs_or_pictures(api: Api) -> None:
    owner, owner_token = api.user_with_token()
    _other, other_token = api.user_with_token()
    with api.client(owner_token) as client:
        job = client.post("/v1/jobs", json={"prompt": "a lighthouse at dusk"}).json()
    with session_scope(api.engine) as session:
        asset = store_png(
            session,
            media=get_settings().media_root,
            owner_id=owner.id or 0,
            title="mine",
            now=SystemClock().now(),
            job_id=job["id"],
        )
    assert asset.visibility is Visibility.PRIVATE
    with api.client(other_token) as client:
        for path in (f"/v1/jobs/{job['id']}", f"/v1/jobs/{job['id']}/outputs",
                     f"/v1/assets/{asset.id}/content"):  # fmt: skip
            assert client.get(path).status_code == 404, path
        assert client.post(f"/v1/jobs/{job['id']}/cancel").status_code == 404
        assert client.get("/v1/gallery", params={"scope": "mine"}).json()["items"] == []
    with api.client(owner_token) as client:
        content = client.get(f"/v1/assets/{asset.id}/content")
        assert content.status_code == 200 and content.content.startswith(b"\x89PNG")
        assert [a["id"] for a in client.get("/v1/gallery", params={"scope": "mine"}).json()[
            "items"]] == [asset.id]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/v1/jobs", {"prompt": "x", "seed": 2**70}),
        ("post", "/v1/jobs", {"prompt": "x", "batch_size": 0}),
        ("post", "/v1/jobs", {"prompt": "x", "unknown": 1}),
        ("post", "/v1/jobs", {"prompt": ""}),
        ("post", "/v1/jobs", {"prompt": "x" * 3001}),
        ("post", "/v1/jobs", {"prompt": "x", "kind": "hologram"}),
        ("post", "/v1/jobs", {"prompt": "x", "muse_id": 2**70}),
        ("post", "/v1/estimate", {"prompt": "x", "preset": "nonesuch"}),
        ("get", f"/v1/jobs/{2**70}", None),
        ("get", "/v1/jobs/-1", None),
        ("get", "/v1/gallery?cursor=%00%00", None),
        ("get", "/v1/account/ledger?limit=100000", None),
    ],
)
def test_bad_input_is_a_4xx_message_never_a_500(api: Api, method: str, path: str, body: object):
    _user, token = api.user_with_token()
    with api.client(token) as client:
        reply = client.request(method, path, json=body)
    assert 400 <= reply.status_code < 500, reply.text
    assert reply.json()["error"] and "Traceback" not in reply.text


def test_an_unexpected_error_is_a_500_with_an_error_id_and_no_traceback(engine: Engine) -> None:
    base = services_from(get_settings())
    app = create_app(base)

    def explode() -> None:
        raise RuntimeError("secret internals")

    app.add_api_route("/boom", explode)
    with ServerThread(app) as server, httpx.Client(base_url=server.url) as client:
        reply = client.get("/boom")
    assert reply.status_code == 500
    assert reply.json()["error_id"] and "secret internals" not in reply.text


def test_a_token_over_its_rate_gets_429_with_retry_after(engine: Engine) -> None:
    for api in _serve(engine, per_minute=3):
        _user, token = api.user_with_token()
        with api.client(token) as client:
            codes = [client.get("/v1/account") for _ in range(4)]
        assert [reply.status_code for reply in codes] == [200, 200, 200, 429]
        assert int(codes[-1].headers["Retry-After"]) >= 1


def test_the_admin_scope_lapses_with_the_admin_role(api: Api) -> None:
    user, token = api.user_with_token(ALL_USER_SCOPES | {Scope.ADMIN}, role=Role.ADMIN)
    with api.client(token) as client:
        assert "admin" in client.get("/v1/account").json()["scopes"]
        with session_scope(api.engine) as session:
            row = session.get(User, user.id)
            assert row is not None
            row.role = Role.USER
            session.add(row)
        assert "admin" not in client.get("/v1/account").json()["scopes"]


def test_parallel_api_submits_for_one_user_keep_the_ledger_whole(api: Api) -> None:
    user, token = api.user_with_token(credits=1000)

    def one(_: int) -> int:
        with api.client(token) as client:
            return client.post("/v1/jobs", json={"prompt": "a lighthouse at dusk"}).status_code

    with ThreadPoolExecutor(12) as pool:
        codes = list(pool.map(one, range(24)))
    assert codes == [201] * 24
    with read_scope(api.engine) as session:
        jobs = session.exec(select(GenerationJob).where(GenerationJob.user_id == user.id)).all()
        entries = session.exec(select(CreditEntry).where(CreditEntry.user_id == user.id)).all()
    assert len(jobs) == 24 and all(job.status is JobStatus.QUEUED for job in jobs)
    assert _balance(api.engine, user) == 1000 - sum(job.estimated_credits for job in jobs)
    assert _balance(api.engine, user) == sum(entry.credits for entry in entries)


def test_the_openapi_document_lists_every_route(api: Api) -> None:
    with httpx.Client(base_url=api.url) as client:
        paths = set(client.get("/openapi.json").json()["paths"])
    assert {"/v1/account", "/v1/jobs", "/v1/jobs/{job_id}/events", "/v1/gallery",
            "/v1/muses", "/v1/assets/{asset_id}/content", "/v1/estimate",
            "/v1/muses/{muse_id}", "/v1/muses/import", "/v1/muses/{muse_id}/card",
            "/v1/assets/{asset_id}/rating", "/v1/assets/{asset_id}/share"} <= paths  # fmt: skip


def test_a_resent_idempotency_key_is_the_first_job_and_holds_once(api: Api) -> None:
    user, token = api.user_with_token(credits=1000)
    body = {"prompt": "a lighthouse at dusk"}

    def send(_: int) -> tuple[int, int]:
        with api.client(token) as client:
            reply = client.post("/v1/jobs", json=body, headers={"Idempotency-Key": "k-1"})
        return reply.status_code, reply.json()["id"]

    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(send, range(16)))
    assert {code for code, _ in replies} == {201} and len({job for _, job in replies}) == 1
    with read_scope(api.engine) as session:
        [job] = session.exec(select(GenerationJob).where(GenerationJob.user_id == user.id)).all()
    assert _balance(api.engine, user) == 1000 - job.estimated_credits
    with api.client(token) as client:
        damaged = client.post("/v1/jobs", json=body, headers={"Idempotency-Key": "x" * 500})
    assert damaged.status_code == 422 and damaged.json()["error"]


def test_a_token_waits_until_its_user_accepts_changed_terms(api: Api) -> None:
    user, token = api.user_with_token(terms_version="2020-01-01")  # an older version
    with api.client(token) as client:
        for reply in (
            client.get("/v1/account"),
            client.post("/v1/jobs", json={"prompt": "a lighthouse at dusk"}),
        ):
            assert reply.status_code == 403
            assert "terms of service or the privacy notice changed" in reply.json()["error"]
        assert _balance(api.engine, user) == 100
        with session_scope(api.engine) as session:
            legal.accept(session, user_id=user.id or 0, texts=_TEXTS, now=SystemClock().now())
        assert client.get("/v1/account").status_code == 200
