"""The browser's cookies, set the only way an HttpOnly cookie can be: by an HTTP response.

Streamlit talks to the page over a WebSocket, which cannot set cookies, and a component's
JavaScript cannot set an HttpOnly one. So `web.py` serves the routes below beside Streamlit
(`st.App`), and the page calls them with a one-line `fetch` (`st.html` with JavaScript):

- `POST /api/session {"code": ...}` trades a session's single-use handoff code for the
  session cookie (HttpOnly, SameSite=Strict, Secure over HTTPS);
- `DELETE /api/session` revokes the cookie's session and clears it (sign-out);
- `POST /api/adult` remembers the age-gate confirmation for a year.

Streamlit reads cookies from the WebSocket handshake (`st.context.cookies`), so a reload, a
second tab or a reconnect after a server restart carries them; the tab that signed in keeps
its session id in server-side state. SameSite=Strict also keeps another site's page from
opening a WebSocket with the cookie.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import streamlit as st
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from core.accounts import sessions
from core.clock import Clock, SystemClock
from core.config import Settings, get_settings
from core.db import make_engine, session_scope

SESSION_COOKIE = "aikings_session"
ADULT_COOKIE = "aikings_adult"
SESSION_PATH = "/api/session"
ADULT_PATH = "/api/adult"
ADULT_MAX_AGE_S = 365 * 24 * 3600
_PENDING = "cookie_scripts"  # session_state: scripts the next run renders (a list)


# ---- the HTTP side (routes served by web.py) -----------------------------------------------


def routes(
    settings: Callable[[], Settings] = get_settings,
    engine: Callable[[], Engine] | None = None,
    clock: Clock | None = None,
) -> list[Route]:
    """The cookie routes, reading the settings and the database lazily (at the first request)."""
    engine = engine or functools.cache(lambda: make_engine(settings().database_url))
    clock = clock or SystemClock()

    def redeem(code: str) -> str | None:
        with session_scope(engine()) as session:
            return sessions.redeem_handoff(session, code=code, now=clock.now())

    def revoke(token: str) -> None:
        with session_scope(engine()) as session:
            sessions.revoke_session(session, token=token, now=clock.now())

    async def issue_session(request: Request) -> Response:
        code = _code_in(await request.body())
        token = await run_in_threadpool(redeem, code) if code is not None else None
        if token is None:
            return Response(status_code=403)
        response = Response(status_code=204)
        cookie = sessions.sign_cookie(token, _key(settings()))
        _set(request, response, SESSION_COOKIE, cookie, settings().session_ttl_s)
        return response

    async def end_session(request: Request) -> Response:
        token = sessions.read_cookie(request.cookies.get(SESSION_COOKIE, ""), _key(settings()))
        if token is not None:
            await run_in_threadpool(revoke, token)
        response = Response(status_code=204)
        _set(request, response, SESSION_COOKIE, "", 0)
        return response

    async def confirm_adult(request: Request) -> Response:
        response = Response(status_code=204)
        _set(request, response, ADULT_COOKIE, "1", ADULT_MAX_AGE_S)
        return response

    return [
        Route(SESSION_PATH, _same_origin(issue_session), methods=["POST"]),
        Route(SESSION_PATH, _same_origin(end_session), methods=["DELETE"]),
        Route(ADULT_PATH, _same_origin(confirm_adult), methods=["POST"]),
    ]


Endpoint = Callable[[Request], Awaitable[Response]]


def _same_origin(endpoint: Endpoint) -> Endpoint:
    """Refuse a request another site's page sent (its Origin is not this host)."""

    async def guarded(request: Request) -> Response:
        origin = request.headers.get("origin")
        if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
            return Response(status_code=403)
        return await endpoint(request)

    return guarded


def _code_in(body: bytes) -> str | None:
    """The handoff code of a `{"code": ...}` body, or None for anything else."""
    try:
        parsed = json.loads(body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    code = parsed.get("code") if isinstance(parsed, dict) else None
    return code if isinstance(code, str) and 0 < len(code) <= 128 else None


def _key(settings: Settings) -> str:
    return settings.cookie_key.get_secret_value()


def _set(request: Request, response: Response, name: str, value: str, max_age_s: int) -> None:
    https = request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"
    response.set_cookie(
        name,
        value,
        max_age=max_age_s,
        path="/",
        httponly=True,
        secure=https,
        samesite="strict",
    )


# ---- the page side (Streamlit) -------------------------------------------------------------


def session_token() -> str | None:
    """The session token in this browser's cookie, if it carries one we signed."""
    raw = st.context.cookies.get(SESSION_COOKIE)
    if not isinstance(raw, str) or not raw:
        return None
    return sessions.read_cookie(raw, _key(get_settings()))


def adult_confirmed() -> bool:
    """Whether this browser confirmed the age gate before (its cookie)."""
    return st.context.cookies.get(ADULT_COOKIE) == "1"


def fetch_session_cookie(handoff: str) -> None:
    """Have the page trade `handoff` for the session cookie on this run."""
    _queue("POST", SESSION_PATH, {"code": handoff})


def clear_session_cookie() -> None:
    """Have the page revoke and clear the session cookie on the next run."""
    _queue("DELETE", SESSION_PATH, None)


def remember_adult() -> None:
    """Have the page store the age-gate confirmation on the next run."""
    _queue("POST", ADULT_PATH, None)


def _queue(method: str, path: str, body: dict[str, str] | None) -> None:
    pending: list[str] = st.session_state.setdefault(_PENDING, [])
    options: dict[str, object] = {"method": method, "credentials": "same-origin"}
    if body is not None:
        options |= {"headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}
    call = f"fetch(new URL({json.dumps(path)}, window.location.origin), {json.dumps(options)});"
    if call not in pending:
        pending.append(call)


def render_pending() -> None:
    """Run the queued cookie calls in the page, once each.

    Call it at the same point of every run: it always takes one (empty, invisible) slot, so
    the elements after it keep their places whether or not a script is in it.
    """
    slot = st.empty()
    pending: list[str] = st.session_state.pop(_PENDING, [])
    if pending:
        slot.html(f"<script>{' '.join(pending)}</script>", unsafe_allow_javascript=True)
