"""API tokens: created scoped and hashed, refused when they would overreach, audited."""

import pytest
from sqlmodel import select

from core.accounts.api_tokens import (
    MAX_TOKENS_PER_USER,
    Scope,
    create_token,
    resolve_token,
)
from core.db import session_scope
from core.errors import ValidationFailed
from core.models import AuditEntry
from testing.factories import make_user


def test_a_token_is_stored_hashed_and_its_creation_audited(engine, fake_clock):
    user = make_user(engine)
    with session_scope(engine) as session:
        made = create_token(
            session, user_id=user.id, name="bot", scopes=frozenset({Scope.READ}),
            now=fake_clock.now(),
        )  # fmt: skip
        assert made.secret not in (made.token.token_sha256, made.token.prefix)
        assert resolve_token(session, secret=made.secret, now=fake_clock.now()) is not None
        actions = session.exec(select(AuditEntry.action)).all()
    assert "api_token.create" in actions


@pytest.mark.parametrize(
    ("name", "scopes", "message"),
    [
        ("", {Scope.READ}, "name"),
        ("a\x00b", {Scope.READ}, "printable"),
        ("x" * 65, {Scope.READ}, "64"),
        ("bot", {Scope.ADMIN}, "admin"),
    ],
)
def test_overreaching_tokens_are_refused(engine, fake_clock, name, scopes, message):
    user = make_user(engine)
    with pytest.raises(ValidationFailed, match=message), session_scope(engine) as session:
        create_token(
            session, user_id=user.id, name=name, scopes=frozenset(scopes), now=fake_clock.now()
        )


def test_live_tokens_are_capped_per_user(engine, fake_clock):
    user = make_user(engine)
    with session_scope(engine) as session:
        for n in range(MAX_TOKENS_PER_USER):
            create_token(session, user_id=user.id, name=f"t{n}", scopes=frozenset({Scope.READ}),
                         now=fake_clock.now())  # fmt: skip
    with pytest.raises(ValidationFailed, match="revoke"), session_scope(engine) as session:
        create_token(session, user_id=user.id, name="one more", scopes=frozenset({Scope.READ}),
                     now=fake_clock.now())  # fmt: skip


def test_a_malformed_secret_resolves_to_nobody(engine, fake_clock):
    with session_scope(engine) as session:
        for secret in ("", "aik_", "nope", "aik_" + "x" * 500):
            assert resolve_token(session, secret=secret, now=fake_clock.now()) is None
