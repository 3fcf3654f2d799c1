"""Personal API tokens: created and revoked by their owner, scoped, audited, stored hashed.

A token reads `aik_<random>`; only its sha256 is kept, so a leaked database yields no usable
token. Each request names what it needs (`Scope`); the admin scope is honoured only while
the owner is still an admin, and nothing works for a disabled account or a revoked token.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlmodel import Session, col, select

from core import audit
from core.accounts.inputs import has_control_characters
from core.accounts.sessions import token_hash
from core.errors import NotFound, ValidationFailed
from core.models import ApiToken, Role, User

TOKEN_PREFIX = "aik_"
MAX_TOKENS_PER_USER = 20
# Writing last_used_at on every call would make each read a write; a minute is precise enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class Scope(StrEnum):
    """What a token may do."""

    READ = "read"
    """See the account, jobs, outputs, muses and gallery."""
    GENERATE = "generate"
    """Estimate, submit and cancel jobs (spends credits); rate pictures, share one's own."""
    MUSES = "muses"
    """Create, change, import and export muses."""
    ADMIN = "admin"
    """Admin endpoints, while the owner is an admin."""


@dataclass(frozen=True)
class NewToken:
    """A created token: its row, and the secret shown to its owner exactly once."""

    token: ApiToken
    secret: str


@dataclass(frozen=True)
class Principal:
    """Who a request acts for: the user, and the scopes its token grants now."""

    user: User
    token_id: int
    scopes: frozenset[Scope]

    @property
    def actor(self) -> str:
        """The audit actor of this token's requests."""
        return f"user:{self.user.id}"


def create_token(
    session: Session, *, user_id: int, name: str, scopes: frozenset[Scope], now: datetime
) -> NewToken:
    """A new token for the user, audited; refuses an admin scope for a non-admin, a blank
    name and more than `MAX_TOKENS_PER_USER` live tokens."""
    label = name.strip()
    if not label:
        raise ValidationFailed("Give the token a name, so you can tell it apart later.")
    if len(label) > 64 or has_control_characters(label):
        raise ValidationFailed("A token name is up to 64 printable characters.")
    user = session.get(User, user_id)
    if user is None or user.disabled:
        raise NotFound("No such account.")
    if Scope.ADMIN in scopes and user.role is not Role.ADMIN:
        raise ValidationFailed("Only an admin can create a token with the admin scope.")
    live = session.exec(
        select(ApiToken.id).where(ApiToken.user_id == user_id, col(ApiToken.revoked_at).is_(None))
    ).all()
    if len(live) >= MAX_TOKENS_PER_USER:
        raise ValidationFailed(
            f"You have {MAX_TOKENS_PER_USER} tokens already; revoke one you no longer use."
        )
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user_id,
        name=label,
        prefix=secret[: len(TOKEN_PREFIX) + 6],
        token_sha256=token_hash(secret),
        scopes=",".join(sorted(scope.value for scope in scopes)),
        created_at=now,
    )
    session.add(token)
    session.flush()
    audit.by_user(
        session,
        user_id,
        "api_token.create",
        f"api_token:{token.id}",
        at=now,
        details={"name": label, "scopes": token.scopes},
    )
    return NewToken(token, secret)


def list_tokens(session: Session, *, user_id: int) -> list[ApiToken]:
    """The user's tokens, newest first, revoked ones included (marked by `revoked_at`)."""
    return list(
        session.exec(
            select(ApiToken).where(ApiToken.user_id == user_id).order_by(col(ApiToken.id).desc())
        ).all()
    )


def revoke_token(session: Session, *, user_id: int, token_id: int, now: datetime) -> None:
    """Revoke one of the user's tokens (audited); another user's token is `NotFound`."""
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user_id:
        raise NotFound("No such token.")
    if token.revoked_at is None:
        token.revoked_at = now
        session.add(token)
        audit.by_user(session, user_id, "api_token.revoke", f"api_token:{token.id}", at=now)


def resolve_token(session: Session, *, secret: str, now: datetime) -> Principal | None:
    """Who `secret` acts for, or None for an unknown or revoked token or a disabled account.

    The admin scope is dropped once the owner is no longer an admin.
    """
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 128:
        return None
    token = session.exec(
        select(ApiToken).where(ApiToken.token_sha256 == token_hash(secret))
    ).first()
    if token is None or token.revoked_at is not None:
        return None
    user = session.get(User, token.user_id)
    if user is None or user.disabled:
        return None
    scopes = {Scope(name) for name in token.scopes.split(",") if name}
    if user.role is not Role.ADMIN:
        scopes.discard(Scope.ADMIN)
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        token.last_used_at = now
        session.add(token)
    return Principal(user=user, token_id=token.id or 0, scopes=frozenset(scopes))
