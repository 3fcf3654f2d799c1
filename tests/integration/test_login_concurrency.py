"""Sign-in under real threads on SQLite and PostgreSQL: the lockout holds against parallel
guesses, and no password is hashed or verified while a transaction is open."""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from sqlmodel import select

from core.accounts import ledger, legal, users
from core.clock import FakeClock
from core.comfy.presets import Presets
from core.db import read_scope, session_scope
from core.errors import ValidationFailed
from core.models import AuditEntry, GenerationJob
from core.studio.compose import StudioRequest
from core.studio.pricing import Pricing
from core.studio.submit import submit
from testing.factories import account_fields, register_user

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"
GUESSES = 100
FLOOD_THREADS = 30
HONEST_SUBMITS = 3


def register(engine, name="ava", credits=0):
    with session_scope(engine) as session:
        return register_user(session, name, password=PASSWORD, now=NOW, starter_credits=credits)


def guess(engine, name, password, *, max_failures=5):
    """The message one sign-in attempt gets ("" when it succeeds)."""
    try:
        users.authenticate(
            engine, username=name, password=password, now=NOW, max_failures=max_failures
        )
    except ValidationFailed as exc:
        return str(exc)
    return ""


@pytest.fixture
def verifications(monkeypatch):
    """How many times argon2 verified a password (the library's call, left working)."""
    calls = Counter()
    original = PasswordHasher.verify

    def counted(self, *args, **kwargs):
        calls["verify"] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(PasswordHasher, "verify", counted)
    return calls


@pytest.mark.parametrize("name", ["ava", "nobody"])
def test_a_hundred_parallel_guesses_get_at_most_five_checks_and_every_one_is_audited(
    engine, verifications, name
):
    register(engine)
    start = threading.Barrier(GUESSES)

    def one_guess(number):
        start.wait()
        return guess(engine, name, f"guess number {number:03d}")

    with ThreadPoolExecutor(max_workers=GUESSES) as pool:
        answers = Counter(pool.map(one_guess, range(GUESSES)))
    assert verifications["verify"] <= 5
    assert answers[users.WRONG_LOGIN] == verifications["verify"]
    assert sum(n for text, n in answers.items() if text.startswith("Too many")) == (
        GUESSES - verifications["verify"]
    )
    with read_scope(engine) as session:
        actions = Counter(
            e.action
            for e in session.exec(select(AuditEntry).where(AuditEntry.actor == f"user:{name}"))
        )
    assert actions["login.failed"] == verifications["verify"]
    assert actions["login.failed"] + actions["login.locked"] == GUESSES
    assert actions["login.lockout"] <= 1


class TransactionProbe:
    """Records, at each argon2 call, whether any other connection holds a transaction."""

    def __init__(self, engine):
        self.engine = engine
        self.seen: list[tuple[str, bool]] = []

    def others_in_transaction(self) -> bool:
        if self.engine.dialect.name == "sqlite":
            # Free write lock = no writer anywhere: take it at once or report it taken.
            probe = sqlite3.connect(self.engine.url.database, timeout=0, isolation_level=None)
            try:
                probe.execute("BEGIN IMMEDIATE")
                probe.execute("ROLLBACK")
                return False
            except sqlite3.OperationalError:
                return True
            finally:
                probe.close()
        with self.engine.connect() as connection:
            busy = connection.execute(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND xact_start IS NOT NULL"
                )
            ).scalar_one()
        return busy > 0

    def wrap(self, monkeypatch):
        for method in ("hash", "verify"):
            original = getattr(PasswordHasher, method)

            def probed(hasher, *args, _original=original, _method=method, **kwargs):
                self.seen.append((_method, self.others_in_transaction()))
                return _original(hasher, *args, **kwargs)

            monkeypatch.setattr(PasswordHasher, method, probed)


def test_no_password_is_hashed_or_verified_inside_a_transaction(engine, monkeypatch):
    probe = TransactionProbe(engine)
    with session_scope(engine) as session:
        session.execute(sa.text("SELECT 1"))  # the probe does see an open transaction
        assert probe.others_in_transaction()
    assert not probe.others_in_transaction()
    probe.wrap(monkeypatch)
    user = users.sign_up(
        engine,
        **account_fields("ava"),
        password=PASSWORD,
        now=NOW,
        starter_credits=5,
        accepted=legal.load(),
    )
    assert guess(engine, "ava", PASSWORD) == ""
    assert guess(engine, "ava", "wrong password!!") == users.WRONG_LOGIN
    assert guess(engine, "nobody", "wrong password!!") == users.WRONG_LOGIN
    users.change_password(
        engine, user_id=user.id, old=PASSWORD, new="velvet lantern orbit", now=NOW
    )
    reset = users.request_password_reset(engine, login="ava", now=NOW)
    users.reset_password(engine, token=reset.token, new_password="quiet harbour at noon", now=NOW)
    assert guess(engine, "ava", "quiet harbour at noon") == ""
    assert Counter(method for method, _ in probe.seen) == {"hash": 3, "verify": 5}
    assert [call for call in probe.seen if call[1]] == []


def test_honest_submits_go_through_a_thirty_thread_login_flood_on_sqlite(sqlite_engine):
    """Issue 13, item 4: with hashing inside the write lock, 30 attackers starved every write.

    The wait of each submit is bench L's figure; here every submit must succeed while the
    flood is verifiably running (attempts were checked before and after each submit).
    """
    engine = sqlite_engine
    owner = register(engine, "owner", credits=1000)
    stop, attempts = threading.Event(), Counter()

    def attacker(number):
        while not stop.is_set():  # a fresh name per attempt: every one costs a verification
            guess(engine, f"flood{number}-{attempts[number]}", "wrong password!!", max_failures=99)
            attempts[number] += 1

    clock, presets = FakeClock(NOW), Presets.load()
    pricing = Pricing(credit_price_usd=Decimal("0.01"), reference_price_per_hour_usd=Decimal(1))
    submitted, during_flood = [], []
    with ThreadPoolExecutor(max_workers=FLOOD_THREADS) as pool:
        flood = [pool.submit(attacker, number) for number in range(FLOOD_THREADS)]
        try:
            for index in range(HONEST_SUBMITS):
                before = sum(attempts.values())
                job = submit(
                    engine,
                    user_id=owner.id,
                    request=StudioRequest(prompt=f"a quiet harbour, take {index}", preset="low"),
                    clock=clock,
                    presets=presets,
                    pricing=pricing,
                    pool="default",
                )
                submitted.append(job.id)
                during_flood.append(sum(attempts.values()) > before)
        finally:
            stop.set()
        for attack in flood:
            attack.result()  # an attacker's own error would fail the test here
    assert len(submitted) == HONEST_SUBMITS
    assert any(during_flood) and sum(attempts.values()) >= FLOOD_THREADS
    with read_scope(engine) as session:
        assert len(session.exec(select(GenerationJob)).all()) == HONEST_SUBMITS
        assert ledger.balance(session, owner.id) < 1000  # each submit held its credits
