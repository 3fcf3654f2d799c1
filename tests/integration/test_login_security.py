"""Sign-in under attack: brute force is throttled, lockout ends, and names are not revealed."""

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from sqlmodel import select

from core.accounts import legal, users
from core.db import read_scope, session_scope
from core.errors import ValidationFailed
from core.models import AuditEntry, PasswordReset, User
from testing.factories import account_fields, register_user

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"
LEGAL = legal.load()


@pytest.fixture
def ava(engine):
    with session_scope(engine) as session:
        return register_user(session, "ava", password=PASSWORD, now=NOW)


def attempt(engine, name, password, now, *, max_failures=5, lockout_s=900):
    """The message a sign-in attempt gets ("" when it succeeds)."""
    try:
        users.authenticate(
            engine,
            username=name,
            password=password,
            now=now,
            max_failures=max_failures,
            lockout_s=lockout_s,
        )
    except ValidationFailed as exc:
        return str(exc)
    return ""


def audit_actions(engine, actor):
    with read_scope(engine) as session:
        rows = session.exec(select(AuditEntry).where(AuditEntry.actor == actor)).all()
    return Counter(row.action for row in rows)


def test_unknown_and_known_names_answer_the_same_through_lockout_and_after(engine, ava):
    def script(name):
        messages = [
            attempt(engine, name, "wrong password!!", NOW + timedelta(seconds=i)) for i in range(7)
        ]
        # After the window, a wrong password is counted afresh for both.
        messages.append(attempt(engine, name, "wrong password!!", NOW + timedelta(seconds=910)))
        return messages

    known, unknown = script("ava"), script("nobody")
    assert known == unknown
    assert known[:5] == [users.WRONG_LOGIN] * 5
    assert known[5].startswith("Too many failed attempts") and known[6] == known[5]
    assert known[7] == users.WRONG_LOGIN
    known_actions = audit_actions(engine, "user:ava")
    del known_actions["account.registered"]
    assert known_actions == audit_actions(engine, "user:nobody")


def test_lockout_is_temporary_so_an_attacker_cannot_lock_the_owner_out_for_good(engine, ava):
    for i in range(20):  # the attacker keeps trying through the lockout
        attempt(engine, "ava", "wrong password!!", NOW + timedelta(seconds=i))
    assert attempt(engine, "ava", PASSWORD, NOW + timedelta(seconds=60)).startswith("Too many")
    assert attempt(engine, "ava", PASSWORD, NOW + timedelta(seconds=4 + 901)) == ""


def test_a_thousand_guesses_in_an_hour_are_throttled_and_every_one_is_audited(engine, ava):
    """SECURITY.md: failed attempts accepted per account-hour <= 100; every attempt audited."""
    for i in range(1000):
        attempt(engine, "ava", f"guess number {i:04d}", NOW + timedelta(seconds=i * 3.6))
    actions = audit_actions(engine, "user:ava")
    assert actions["login.failed"] + actions["login.locked"] == 1000
    assert actions["login.failed"] <= 100  # password checks actually made
    assert actions["login.lockout"] >= 4  # at least one lockout per 15 minutes


@pytest.fixture
def argon2_calls(monkeypatch):
    """Counts of argon2's hash and verify calls (the library's, left working)."""
    calls = Counter()
    for method in ("hash", "verify"):
        original = getattr(PasswordHasher, method)

        def counted(self, *args, _original=original, _method=method, **kwargs):
            calls[_method] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(PasswordHasher, method, counted)
    return calls


def test_an_unknown_name_and_a_wrong_password_cost_the_same_work(engine, ava, argon2_calls):
    """SECURITY.md enumeration row, asserted structurally: one verification on each path,
    the same units of work, the same audit actions. The timing difference is bench L."""
    work = {}
    for name in ("ava", "nobody"):
        argon2_calls.clear()
        units = Counter()

        def listener(*_, units=units):
            units.update(["begin"])

        sa.event.listen(engine, "begin", listener)
        try:
            assert attempt(engine, name, "wrong password!!", NOW, max_failures=1000) == (
                users.WRONG_LOGIN
            )
        finally:
            sa.event.remove(engine, "begin", listener)
        work[name] = (dict(argon2_calls), dict(units))
    assert work["ava"] == work["nobody"] == ({"verify": 1}, {"begin": 2})
    known = audit_actions(engine, "user:ava")
    del known["account.registered"]
    assert known == audit_actions(engine, "user:nobody") == Counter({"login.failed": 1})


@pytest.mark.parametrize(
    ("name", "password"),
    [("ava\x00", PASSWORD), ("a\x00' OR 1=1 --", "x"), ("ava", "pass\x00word"), ("\ud800", "x")],
)
def test_control_characters_at_sign_in_get_a_message_and_are_audited(
    engine, ava, argon2_calls, name, password
):
    with pytest.raises(ValidationFailed) as refused:
        users.authenticate(engine, username=name, password=password, now=NOW, ip="203.0.113.9")
    assert str(refused.value) == users.BAD_SIGN_IN_INPUT
    assert argon2_calls["verify"] == 0
    with read_scope(engine) as session:
        [entry] = session.exec(select(AuditEntry).where(AuditEntry.action == "login.bad_input"))
    assert entry.ip == "203.0.113.9" and "\x00" not in entry.actor and entry.actor.isascii()


@pytest.mark.parametrize(
    "fields",
    [
        {"username": "ava\x00"},
        {"email": "ava\x00@example.test"},
        {"display_name": "Ava\x00"},
        {"password": "correct horse\x00battery"},
        {"date_of_birth": date(2015, 1, 1)},
        {"accepted": None},  # the terms and privacy notice not accepted
    ],
)
def test_refused_registrations_get_a_message_and_are_audited(engine, fields):
    details = account_fields("zoe", accepted=LEGAL, password=PASSWORD) | fields
    with pytest.raises(ValidationFailed):
        users.sign_up(engine, **details, now=NOW, starter_credits=10, ip="203.0.113.9")
    with read_scope(engine) as session:
        assert session.exec(select(User)).first() is None  # nothing half-written
        [entry] = session.exec(select(AuditEntry)).all()
    assert (entry.action, entry.ip) == ("account.register_refused", "203.0.113.9")
    assert "\x00" not in entry.actor and entry.details["reason"]


def test_a_reset_request_with_control_characters_gets_a_message_and_is_audited(engine, ava):
    with pytest.raises(ValidationFailed, match="control characters"):
        users.request_password_reset(engine, login="ava\x00", now=NOW, ip="203.0.113.9")
    with read_scope(engine) as session:
        actions = [(e.action, e.ip) for e in session.exec(select(AuditEntry)).all()]
        assert session.exec(select(PasswordReset)).first() is None
    assert ("password.reset_bad_input", "203.0.113.9") in actions


def test_sign_in_audit_rows_carry_the_client_ip(engine, ava):
    attempt(engine, "ava", "wrong password!!", NOW)
    users.authenticate(engine, username="ava", password=PASSWORD, now=NOW, ip="198.51.100.4")
    with read_scope(engine) as session:
        login = select(AuditEntry).where(AuditEntry.action.startswith("login."))
        rows = session.exec(login.order_by(AuditEntry.id)).all()
    assert [(row.action, row.ip) for row in rows] == [
        ("login.failed", None),
        ("login.ok", "198.51.100.4"),
    ]


def test_a_registration_records_the_legal_versions_accepted_and_audits_it(engine):
    user = users.sign_up(
        engine,
        **account_fields("zoe"),
        password=PASSWORD,
        now=NOW,
        starter_credits=0,
        accepted=LEGAL,
        ip="203.0.113.9",
    )
    assert (user.terms_version, user.privacy_version, user.legal_accepted_at) == (
        LEGAL.terms.version,
        LEGAL.privacy.version,
        NOW,
    )
    with read_scope(engine) as session:
        [entry] = session.exec(select(AuditEntry).where(AuditEntry.action == "legal.accepted"))
    assert entry.details == {"terms": LEGAL.terms.version, "privacy": LEGAL.privacy.version}
    assert entry.ip == "203.0.113.9"
