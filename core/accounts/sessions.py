"""Revocable server-side sessions and the signed cookie that carries their token.

The cookie holds `<token>.<hmac>`: a random token (only its sha256 is stored) and an
HMAC-SHA256 over it. No JWT, so there is no algorithm to negotiate or strip; logout,
password change and account disable revoke the row and the cookie dies with it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from core.models import AuthSession, User


def token_hash(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_session(session: Session, *, user_id: int, now: datetime, ttl_s: int) -> str:
    """Start a session for the user; returns the raw token (stored only as a hash)."""
    token = secrets.token_urlsafe(32)
    session.add(
        AuthSession(
            user_id=user_id,
            token_sha256=token_hash(token),
            created_at=now,
            expires_at=now + timedelta(seconds=ttl_s),
        )
    )
    session.flush()
    return token


def resolve_session(session: Session, *, token: str, now: datetime) -> User | None:
    """The user of a live session; None if unknown, expired, revoked or the user is disabled."""
    row = session.exec(
        select(AuthSession).where(AuthSession.token_sha256 == token_hash(token))
    ).first()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    user = session.get(User, row.user_id)
    return user if user is not None and not user.disabled else None


def revoke_session(session: Session, *, token: str, now: datetime) -> None:
    """End one session (logout)."""
    session.execute(
        sa.update(AuthSession)
        .where(col(AuthSession.token_sha256) == token_hash(token))
        .where(col(AuthSession.revoked_at).is_(None))
        .values(revoked_at=now)
    )


def revoke_all(session: Session, *, user_id: int, now: datetime) -> int:
    """End every session of the user (password change or reset, disable); how many ended."""
    result = session.execute(
        sa.update(AuthSession)
        .where(col(AuthSession.user_id) == user_id, col(AuthSession.revoked_at).is_(None))
        .values(revoked_at=now)
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
