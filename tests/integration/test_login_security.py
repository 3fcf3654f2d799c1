"""Sign-in under attack: brute force is throttled, lockout ends, and names are not revealed."""

import statistics
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

from core.accounts import users
from core.db import read_scope, session_scope
from core.errors import ValidationFailed
from core.models import AuditEntry

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"


@pytest.fixture
def ava(engine):
    with session_scope(engine) as session:
        return users.register(
            session,
            username="ava",
            email="ava@example.test",
            display_name="Ava",
            password=PASSWORD,
            date_of_birth=date(1990, 5, 1),
            now=NOW,
            starter_credits=0,
        )


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


def test_sign_in_takes_as_long_for_an_unknown_name_as_for_a_wrong_password(engine, ava):
    """SECURITY.md enumeration row: median timing difference under 10 ms."""
    known, unknown = [], []
    for i in range(15):
        for name, samples in (("ava", known), (f"nobody{i}", unknown)):
            started = time.perf_counter()
            message = attempt(engine, name, "wrong password!!", NOW, max_failures=1000)
            samples.append(time.perf_counter() - started)
            assert message == users.WRONG_LOGIN
    difference_ms = abs(statistics.median(known) - statistics.median(unknown)) * 1000
    assert difference_ms < 10, f"median timing differs by {difference_ms:.1f} ms"
