"""Email verification: a signed, expiring link mailed to the address an account gave.

The link's token is `<user id>.<expiry, unix seconds>.<mac>`, the mac an HMAC-SHA256 over
the id, the expiry and the account's current email address, under a key derived from the
deployment's secret for verification alone (`VERIFY_KEY_SALT`; never the cookie key itself,
nor the share-link key). Nothing is stored per link: changing the address makes every earlier
link invalid, and a verified account stays verified, so a second click changes nothing.

Verification is informational for now: it is shown on the Account page and audited, and
nothing (sign-in, jobs, purchases) waits on it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import col

from core import audit
from core.accounts.inputs import row_id
from core.config import Settings
from core.db import read_scope, session_scope
from core.errors import ValidationFailed
from core.links import page_url
from core.mail import send_mail
from core.models import User

VERIFY_KEY_SALT = b"aikings/accounts/email-verification/v1"
"""Domain separation: the verification key is HMAC(secret, this salt), so it is not the secret."""
VERIFY_PAGE = "verify"
"""The web page's url path a verification link opens (ui/navigation.py serves it there)."""
LINK_TTL = timedelta(hours=48)
RESEND_INTERVAL = timedelta(minutes=2)
"""At most one link mailed per account in this long (registration's included)."""

LINK_INVALID = (
    "This verification link is not valid: it may be incomplete, or for an earlier email "
    "address. Ask for a new one on the Account page."
)
LINK_EXPIRED = (
    "This verification link has expired (links work for 48 hours). "
    "Ask for a new one on the Account page."
)


class Confirmed(StrEnum):
    """What a valid link did."""

    VERIFIED = "verified"
    ALREADY = "already"


class LinkRefused(ValidationFailed):
    """The link cannot verify anything; `str(error)` is a message fit to show."""


def _key(secret: str) -> bytes:
    return hmac.new(secret.encode(), VERIFY_KEY_SALT, hashlib.sha256).digest()


def _mac(key: bytes, user_id: int, expires: int, email: str) -> str:
    digest = hmac.new(key, f"{user_id}.{expires}.{email}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def make_token(secret: str, *, user_id: int, email: str, now: datetime) -> str:
    """A token proving `email` belongs to user `user_id`, valid for `LINK_TTL` from `now`."""
    expires = int((now + LINK_TTL).timestamp())
    return f"{user_id}.{expires}.{_mac(_key(secret), user_id, expires, email)}"


def confirm(engine: Engine, secret: str, *, token: str, now: datetime) -> Confirmed:
    """Mark the account behind a valid `token` verified (audited once) and say what happened.

    Raise `LinkRefused` with `LINK_EXPIRED` for a genuine link past its time, `LINK_INVALID`
    for anything else (malformed, forged, for an address the account no longer has, or a
    disabled account). Two clicks at once verify once: the write is conditional.
    """
    if len(token) > 200:
        raise LinkRefused(LINK_INVALID)
    user_id_text, _, rest = token.strip().partition(".")
    expires_text, _, mac = rest.partition(".")
    user_id = row_id(user_id_text)
    if user_id is None or not (expires_text.isascii() and expires_text.isdigit() and mac):
        raise LinkRefused(LINK_INVALID)
    expires = int(expires_text)
    with read_scope(engine) as session:
        user = session.get(User, user_id)
    if user is None or user.disabled:
        raise LinkRefused(LINK_INVALID)
    if not hmac.compare_digest(_mac(_key(secret), user_id, expires, user.email), mac):
        raise LinkRefused(LINK_INVALID)
    if expires < now.timestamp():
        raise LinkRefused(LINK_EXPIRED)
    with session_scope(engine) as session:
        verified = session.execute(
            sa.update(User)
            .where(
                col(User.id) == user_id,
                col(User.email) == user.email,
                col(User.verified_at).is_(None),
            )
            .values(verified_at=now)
        )
        if verified.rowcount != 1:  # type: ignore[attr-defined]
            return Confirmed.ALREADY
        audit.by_user(session, user.username, "account.email_verified", f"user:{user_id}", at=now)
    return Confirmed.VERIFIED


def send_link(settings: Settings, engine: Engine, *, user_id: int, now: datetime) -> bool:
    """Mail a fresh verification link to the account's address; False (nothing sent) when
    it is verified already or a link went out less than `RESEND_INTERVAL` ago.

    The slot is claimed by a conditional write before sending, so parallel requests mail
    one link between them.
    """
    with session_scope(engine) as session:
        claimed = session.execute(
            sa.update(User)
            .where(
                col(User.id) == user_id,
                col(User.verified_at).is_(None),
                sa.or_(
                    col(User.verification_sent_at).is_(None),
                    col(User.verification_sent_at) <= now - RESEND_INTERVAL,
                ),
            )
            .values(verification_sent_at=now)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return False
        user = session.get(User, user_id)
        assert user is not None  # the update matched it
        email, name = user.email, user.display_name
    token = make_token(
        settings.cookie_key.get_secret_value(), user_id=user_id, email=email, now=now
    )
    link = page_url(settings.base_url, VERIFY_PAGE, token=token)
    send_mail(
        settings,
        to=email,
        subject="Confirm your AI KINGS email address",
        body=(
            f"Hello {name},\n\nOpen this link to confirm that {email} is your address:\n\n"
            f"{link}\n\nIt works for 48 hours. If you did not create an AI KINGS account, "
            "ignore this message.\n"
        ),
        now=now,
    )
    return True
