"""Audit log page: filters, keyset paging, fingerprints (never keys) and chain verification."""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from core import audit
from core.db import session_scope
from core.models import AuditEntry, AuditOutcome, Role

PAGE = "views/admin_audit.py"
RAW_KEY = "the-raw-admin-key-0451"
START = datetime(2026, 6, 1, 12, tzinfo=UTC)


@pytest.fixture
def log(web_engine):
    """60 entries over 60 days: every third denied, every fifth by the admin key."""
    fingerprint = audit.fingerprint("dev-audit-secret-change-me", RAW_KEY)
    ids = []
    for n in range(60):
        by_key = n % 5 == 0
        with session_scope(web_engine) as session:
            entry = audit.record(
                session,
                at=START + timedelta(days=n),
                actor="admin-key" if by_key else f"user:u{n % 2}",
                actor_fingerprint=fingerprint if by_key else None,
                action="auth.admin_key" if n % 3 == 0 else "pool.size",
                outcome=AuditOutcome.DENIED if n % 3 == 0 else AuditOutcome.OK,
                target=f"pool:default#{n}",
                ip="203.0.113.9",
            )
            ids.append(entry.id)
    return {"ids": ids, "fingerprint": fingerprint}


def _open(signed_in):
    app = signed_in(PAGE, role=Role.ADMIN).run()
    assert not app.exception, app.exception
    return app


def _table(app):
    return app.dataframe[0].value


def test_pages_are_keyset_paged_newest_first_and_go_back(signed_in, log):
    # Opening it registers the admin: two more entries (registered, terms accepted), newest.
    app = _open(signed_in)
    first = _table(app)
    assert len(first) == 50 and first["id"].tolist() == sorted(first["id"], reverse=True)
    assert first["id"].iloc[-1] == log["ids"][12]
    app.button(key="a_forward").click().run()
    older = _table(app)
    assert older["id"].tolist() == list(reversed(log["ids"][:12]))
    assert not [b for b in app.button if b.key == "a_forward"]
    app.button(key="a_back").click().run()
    assert _table(app)["id"].tolist() == first["id"].tolist()


def test_filters_by_outcome_actor_action_and_date_range(signed_in, log):
    app = _open(signed_in)
    app.selectbox(key="a_outcome").set_value("denied").run()
    denied = _table(app)
    assert len(denied) == 20 and set(denied["outcome"]) == {"denied"}
    app.text_input(key="a_actor").input("admin-key").run()
    assert len(_table(app)) == 4  # n divisible by 15
    app.selectbox(key="a_outcome").set_value("").run()
    app.selectbox(key="a_action").set_value("pool.size").run()
    assert set(_table(app)["action"]) == {"pool.size"} and len(_table(app)) == 8
    app.text_input(key="a_actor").input("").run()
    app.selectbox(key="a_action").set_value("").run()
    app.date_input(key="a_dates").set_value((START.date(), (START + timedelta(days=9)).date()))
    app.run()
    assert sorted(_table(app)["id"].tolist()) == log["ids"][:10]


def test_the_key_fingerprint_is_shown_and_the_key_never(signed_in, log):
    app = _open(signed_in)
    table = _table(app)
    by_key = table[table["actor"] == "admin-key"]
    assert set(by_key["key fingerprint"]) == {log["fingerprint"]}
    assert set(table[table["id"].isin(log["ids"])]["ip"]) == {"203.0.113.9"}
    assert RAW_KEY not in table.to_csv()


def test_a_tampered_entry_is_named_when_the_chain_is_verified(signed_in, web_engine, log):
    victim = log["ids"][17]
    with web_engine.begin() as connection:
        connection.execute(
            sa.update(AuditEntry).where(AuditEntry.id == victim).values(actor="someone else")
        )
    app = _open(signed_in)
    app.button(key="a_verify").click().run()
    assert [e.value for e in app.error] == [
        f"Tampering detected at entry {victim}: content does not match its hash"
    ]
    assert not app.success
