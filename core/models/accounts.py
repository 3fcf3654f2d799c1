"""Users, their server-side sessions and the credit ledger."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from core.models.enums import CreditKind, Role
from core.models.types import UTCDateTime, text_enum, utcnow


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True, index=True)
    email: str = Field(max_length=254, unique=True, index=True)
    display_name: str = Field(max_length=120)
    password_hash: str = Field(max_length=255)
    role: Role = Field(default=Role.USER, sa_type=text_enum(Role))
    date_of_birth: date | None = None
    age_confirmed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The versions of data/legal/terms.md and privacy.md the user last accepted.
    terms_version: str | None = Field(default=None, max_length=32)
    privacy_version: str | None = Field(default=None, max_length=32)
    legal_accepted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    disabled: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # When the current email address was proved by its verification link (None: not yet), and
    # when a link was last mailed (rate-limits "send again"); core.accounts.verification.
    verified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    verification_sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class AuthSession(SQLModel, table=True):
    """A revocable login: the cookie carries the token, we store only its hash.

    A browser session has no token until the browser trades its single-use handoff code for
    the cookie (`core.accounts.sessions`); only the code's hash is stored, for a minute.
    """

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    token_sha256: str | None = Field(default=None, max_length=64, unique=True)
    handoff_sha256: str | None = Field(default=None, max_length=64, unique=True, index=True)
    handoff_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class LoginThrottle(SQLModel, table=True):
    """Sign-in attempts counted per name typed, whether or not an account has that name.

    `failures` counts the checks claimed since the last success or lockout, in flight ones
    included, so parallel guesses cannot overtake the count (`core.accounts.throttle`).
    """

    name: str = Field(primary_key=True, max_length=64)
    failures: int = 0
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class CreditEntry(SQLModel, table=True):
    """One append-only ledger line; a user's balance is the sum of their `credits`."""

    __table_args__ = (sa.Index("ix_creditentry_user_created", "user_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id")
    kind: CreditKind = Field(sa_type=text_enum(CreditKind))
    credits: int
    idempotency_key: str = Field(max_length=128, unique=True)
    job_id: int | None = Field(default=None, foreign_key="generationjob.id", index=True)
    note: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PasswordReset(SQLModel, table=True):
    """A single-use password-reset token; only its hash is stored.

    `revoked_at` is set when the password changes by any other way (a change, another code),
    so a code mailed before then no longer works.
    """

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    token_sha256: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ApiToken(SQLModel, table=True):
    """A personal HTTP API token: shown once at creation, stored only as its hash.

    `scopes` is a comma-separated subset of `core.accounts.api_tokens.Scope`; `prefix` is the
    token's first characters, shown in lists so a user can tell tokens apart.
    """

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    name: str = Field(max_length=64)
    prefix: str = Field(max_length=16)
    token_sha256: str = Field(max_length=64, unique=True)
    scopes: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Webhook(SQLModel, table=True):
    """A user's endpoint for job events; `secret` signs each delivery (shown to its owner)."""

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    url: str = Field(max_length=500)
    secret: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class WebhookDelivery(SQLModel, table=True):
    """One event for one webhook, retried with capped backoff until delivered or given up."""

    __table_args__ = (
        sa.UniqueConstraint("webhook_id", "job_id", "event", name="uq_delivery_once"),
        sa.Index("ix_webhookdelivery_due", "delivered_at", "gave_up_at", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    webhook_id: int = Field(foreign_key="webhook.id", index=True)
    job_id: int = Field(foreign_key="generationjob.id")
    event: str = Field(max_length=32)
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_type=UTCDateTime)
    last_status: int | None = None
    last_error: str | None = Field(default=None, max_length=300)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    gave_up_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
