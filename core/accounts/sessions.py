"""Revocable server-side sessions and the signed cookie that carries their token.

A browser signs in through the web page, but only an HTTP response can set an HttpOnly
cookie, so a session starts in two steps. `start_browser_session` creates the row and a
single-use handoff code (valid one minute); the tab that signed in keeps the row's id in its
server-side state. The browser then trades the code, once, for the cookie
(`redeem_handoff` mints the row's token, stored only as its sha256). Every later tab, reload
or reconnect after a server restart finds the session from the cookie.

The cookie holds `<token>.<hmac>`: a random token and an HMAC-SHA256 over it. No JWT, so
there is no algorithm to negotiate or strip; logout, password change and account disable
revoke the row and the cookie dies with it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from core.models import AuthSession, User

HANDOFF_TTL = timedelta(minutes=1)


def token_hash(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class BrowserSession:
    """A new session: its row id (for the tab's state) and the code its cookie is fetched with."""

    id: int
    handoff: str


@dataclass(frozen=True)
class LiveSession:
    """A session that is valid now, and its (enabled) user."""

    id: int
    user: User


def start_browser_session(
    session: Session, *, user_id: int, now: datetime, ttl_s: int
) -> BrowserSession:
    """Start a session for the user; the browser fetches its cookie with `handoff`, once."""
    handoff = secrets.token_urlsafe(32)
    row = AuthSession(
        user_id=user_id,
        token_sha256=None,
        handoff_sha256=token_hash(handoff),
        handoff_expires_at=now + HANDOFF_TTL,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl_s),
    )
    session.add(row)
    session.flush()
    return BrowserSession(row.id or 0, handoff)


def redeem_handoff(session: Session, *, code: str, now: datetime) -> str | None:
    """The cookie token of the session whose handoff code this is, minted now; None if the
    code is unknown, already redeemed or over a minute old, or the session has ended.

    One conditional UPDATE, so two requests racing with one code get one token.
    """
    token = secrets.token_urlsafe(32)
    minted = session.execute(
        sa.update(AuthSession)
        .where(
            col(AuthSession.handoff_sha256) == token_hash(code),
            col(AuthSession.handoff_expires_at) > now,
            col(AuthSession.revoked_at).is_(None),
            col(AuthSession.expires_at) > now,
        )
        .values(token_sha256=token_hash(token), handoff_sha256=None, handoff_expires_at=None)
    )
    return token if minted.rowcount == 1 else None  # type: ignore[attr-defined]


def handoff_pending(session: Session, *, session_id: int, now: datetime) -> bool:
    """Whether the session's cookie has still to be fetched (and can still be)."""
    expires = session.exec(
        select(AuthSession.handoff_expires_at).where(AuthSession.id == session_id)
    ).first()
    return expires is not None and expires > now


def _one_session(token: str | None, session_id: int | None) -> sa.ColumnElement[bool] | None:
    if token is not None:
        return col(AuthSession.token_sha256) == token_hash(token)
    if session_id is not None:
        return col(AuthSession.id) == session_id
    return None


def resolve(
    session: Session, *, now: datetime, token: str | None = None, session_id: int | None = None
) -> LiveSession | None:
    """The live session with this cookie token (or, for the tab that started it, this id);
    None if unknown, expired, revoked, or its user is disabled."""
    found = _one_session(token, session_id)
    row = session.exec(select(AuthSession).where(found)).first() if found is not None else None
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    user = session.get(User, row.user_id)
    if user is None or user.disabled:
        return None
    return LiveSession(row.id or 0, user)


def resolve_session(session: Session, *, token: str, now: datetime) -> User | None:
    """The user of the live session with this cookie token, or None (see `resolve`)."""
    live = resolve(session, now=now, token=token)
    return live.user if live else None


def revoke_session(
    session: Session, *, now: datetime, token: str | None = None, session_id: int | None = None
) -> None:
    """End one session (logout), found by its cookie token or its id."""
    found = _one_session(token, session_id)
    if found is None:
        return
    session.execute(
        sa.update(AuthSession)
        .where(found, col(AuthSession.revoked_at).is_(None))
        .values(revoked_at=now, handoff_sha256=None, handoff_expires_at=None)
    )


def revoke_all(session: Session, *, user_id: int, now: datetime) -> int:
    """End every session of the user (password change or reset, disable); how many ended."""
    result = session.execute(
        sa.update(AuthSession)
        .where(col(AuthSession.user_id) == user_id, col(AuthSession.revoked_at).is_(None))
        .values(revoked_at=now, handoff_sha256=None, handoff_expires_at=None)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def sign_cookie(token: str, key: str) -> str:
    """The cookie value for `token`."""
    mac = hmac.new(key.encode(), token.encode(), hashlib.sha256).hexdigest()
    return f"{token}.{mac}"


def read_cookie(value: str, key: str) -> str | None:
    """The token inside a cookie we signed, or None for anything tampered with."""
    token, _, mac = value.rpartition(".")
    if not token or not mac:
        return None
    expected = hmac.new(key.encode(), token.encode(), hashlib.sha256).hexdigest()
    return token if hmac.compare_digest(expected, mac) else None
