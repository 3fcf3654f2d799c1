"""The admin key for commands: read from standard input, checked, and failures audited."""

from __future__ import annotations

import getpass
import hmac
from dataclasses import replace
from typing import TextIO

from core import audit
from core.clock import SystemClock
from core.config import Settings
from core.db import make_engine, session_scope
from core.errors import ValidationFailed
from core.models import AuditOutcome
from core.pool.service import Actor


def read_admin_key(stdin: TextIO) -> str:
    """The admin key: prompted on a terminal, else the first line of standard input."""
    if stdin.isatty():
        return getpass.getpass("admin key: ")
    return stdin.readline().strip()


def authenticate(settings: Settings, key: str) -> Actor:
    """The admin actor for `key`, or ValidationFailed. Failures are audited too."""
    expected = settings.admin_api_key
    secret = settings.audit_hmac_secret.get_secret_value()
    actor = Actor(name="admin-key", fingerprint=audit.fingerprint(secret, key) if key else None)
    if expected is None or not hmac.compare_digest(
        key.encode(), expected.get_secret_value().encode()
    ):
        engine = make_engine(settings.database_url)
        with session_scope(engine) as session:
            audit.record(
                session,
                at=SystemClock().now(),
                actor=actor.name,
                actor_fingerprint=actor.fingerprint,
                action="auth.admin_key",
                outcome=AuditOutcome.DENIED,
                target="cli",
                details={"configured": expected is not None},
            )
        engine.dispose()
        if expected is None:
            raise ValidationFailed("ADMIN_API_KEY is not configured on this installation")
        raise ValidationFailed("the admin key is wrong")
    return replace(actor, admin_key=True)
