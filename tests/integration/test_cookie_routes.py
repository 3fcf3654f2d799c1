"""The cookie routes web.py serves beside Streamlit, over HTTP: a handoff code buys one
HttpOnly session cookie, sign-out revokes it, the age gate is remembered, other sites are
refused."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from starlette.applications import Starlette

from core.accounts import sessions
from core.clock import FakeClock
from core.config import load_settings
from core.db import read_scope, session_scope
from sim.server import ServerThread
from testing.factories import register_user
from ui import cookies

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture
def settings():
    return load_settings(session_ttl_s=7200)


@pytest.fixture
def server(engine, settings):
    """The cookie routes on loopback, served by uvicorn as web.py serves them."""
    app = Starlette(routes=cookies.routes(lambda: settings, lambda: engine, FakeClock(NOW)))
    with ServerThread(app) as running:
        yield running


@pytest.fixture
def client(server):
    """A client that keeps cookies, as a browser does."""
    with httpx.Client(base_url=server.url, timeout=10) as http:
        yield http


@pytest.fixture
def same_site(server):
    """The Origin a page of this site sends."""
    return {"origin": server.url}


@pytest.fixture
def started(engine):
    with session_scope(engine) as session:
        user = register_user(session, "ava", password="correct horse battery", now=NOW)
        return sessions.start_browser_session(session, user_id=user.id, now=NOW, ttl_s=7200)


def set_cookie_header(response):
    [header] = response.headers.get_list("set-cookie")
    return header


def test_a_handoff_code_buys_one_httponly_strict_cookie_that_signs_the_browser_in(
    same_site, client, engine, settings, started
):
    response = client.post(cookies.SESSION_PATH, json={"code": started.handoff}, headers=same_site)
    assert response.status_code == 204
    header = set_cookie_header(response)
    attributes = {part.strip().split("=")[0].lower() for part in header.split(";")}
    assert {"httponly", "samesite", "path", "max-age"} <= attributes and "secure" not in attributes
    assert "SameSite=strict" in header and "Max-Age=7200" in header and "Path=/" in header
    value = header.split(";")[0].removeprefix(f"{cookies.SESSION_COOKIE}=")
    token = sessions.read_cookie(value, settings.cookie_key.get_secret_value())
    with read_scope(engine) as session:
        assert sessions.resolve(session, now=NOW, token=token).id == started.id
    again = client.post(cookies.SESSION_PATH, json={"code": started.handoff}, headers=same_site)
    assert again.status_code == 403 and "set-cookie" not in again.headers


def test_over_https_behind_the_proxy_the_cookie_is_secure(same_site, client, started):
    response = client.post(
        cookies.SESSION_PATH,
        json={"code": started.handoff},
        headers=same_site | {"x-forwarded-proto": "https"},
    )
    assert "; secure" in set_cookie_header(response).lower()


@pytest.mark.parametrize(
    "body", [b"", b"not json", b'{"code": 5}', b'["x"]', b'{"code": "' + b"x" * 200 + b'"}']
)
def test_anything_but_a_code_is_refused(same_site, client, started, body):
    response = client.post(cookies.SESSION_PATH, content=body, headers=same_site)
    assert response.status_code == 403 and "set-cookie" not in response.headers


def test_another_sites_page_can_neither_redeem_nor_sign_out(client, engine, started):
    evil = {"origin": "https://evil.example"}
    assert (
        client.post(cookies.SESSION_PATH, json={"code": started.handoff}, headers=evil).status_code
        == 403
    )
    assert client.delete(cookies.SESSION_PATH, headers=evil).status_code == 403
    with read_scope(engine) as session:  # the code was not spent
        assert sessions.handoff_pending(session, session_id=started.id, now=NOW)


def test_sign_out_revokes_the_cookies_session_and_clears_the_cookie(
    same_site, client, engine, started
):
    client.post(cookies.SESSION_PATH, json={"code": started.handoff}, headers=same_site)
    assert cookies.SESSION_COOKIE in client.cookies  # the test client keeps it, as a browser
    response = client.delete(cookies.SESSION_PATH, headers=same_site)
    assert response.status_code == 204
    assert "Max-Age=0" in set_cookie_header(response)
    with read_scope(engine) as session:
        assert sessions.resolve(session, now=NOW, session_id=started.id) is None


def test_a_tampered_cookie_revokes_nothing(same_site, client, engine, started):
    client.cookies.set(cookies.SESSION_COOKIE, "forged.0000", domain="127.0.0.1")
    assert client.delete(cookies.SESSION_PATH, headers=same_site).status_code == 204
    with read_scope(engine) as session:
        assert sessions.resolve(session, now=NOW, session_id=started.id) is not None


def test_the_age_gate_confirmation_is_remembered_for_a_year(same_site, client):
    response = client.post(cookies.ADULT_PATH, headers=same_site)
    header = set_cookie_header(response)
    assert response.status_code == 204 and header.startswith(f"{cookies.ADULT_COOKIE}=1;")
    assert f"Max-Age={cookies.ADULT_MAX_AGE_S}" in header and "HttpOnly" in header
