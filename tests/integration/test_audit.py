"""The audit chain on every backend: appends link up, tampering is found at the exact row."""

from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import col, select

from core import audit
from core.config import get_settings
from core.db import read_scope, session_scope
from core.models import AuditEntry, AuditOutcome


def _append(engine, clock, n, action="pool.prewarm"):
    ids = []
    for i in range(n):
        with session_scope(engine) as session:
            entry = audit.record(
                session,
                at=clock.now(),
                actor="admin-key",
                actor_fingerprint=audit.fingerprint("secret", "the-admin-key"),
                action=action,
                target=f"instance:{i}",
                details={"n": i},
            )
            ids.append(entry.id)
        clock.advance(3600)
    return ids


def _verify(engine):
    with read_scope(engine) as session:
        return audit.verify_chain(session, batch_size=3)


def test_an_untouched_chain_verifies(engine, fake_clock):
    _append(engine, fake_clock, 7)
    report = _verify(engine)
    assert report.ok and report.checked == 7


def test_each_entry_links_to_the_previous_hash(engine, fake_clock):
    _append(engine, fake_clock, 3)
    with read_scope(engine) as session:
        rows = session.exec(select(AuditEntry).order_by(col(AuditEntry.id))).all()
    assert rows[0].prev_hash == audit.GENESIS_HASH
    assert rows[1].prev_hash == rows[0].hash
    assert rows[2].prev_hash == rows[1].hash


def test_an_edited_row_is_found_at_that_row(engine, fake_clock):
    ids = _append(engine, fake_clock, 5)
    with engine.begin() as connection:
        connection.execute(
            sa.update(AuditEntry).where(AuditEntry.id == ids[2]).values(outcome="denied")
        )
    report = _verify(engine)
    assert not report.ok
    assert report.broken_at == ids[2]
    assert "content" in report.reason


def test_a_deleted_row_breaks_the_link_of_the_next_one(engine, fake_clock):
    ids = _append(engine, fake_clock, 5)
    with engine.begin() as connection:
        connection.execute(sa.delete(AuditEntry).where(AuditEntry.id == ids[1]))
    report = _verify(engine)
    assert (report.ok, report.broken_at) == (False, ids[2])


def test_an_inserted_row_is_found(engine, fake_clock):
    ids = _append(engine, fake_clock, 3)
    with session_scope(engine) as session:
        forged = AuditEntry(
            at=fake_clock.now(),
            actor="mallory",
            action="pool.terminate",
            outcome=AuditOutcome.OK,
            prev_hash=audit.GENESIS_HASH,
            hash="f" * 64,
        )
        session.add(forged)
    report = _verify(engine)
    assert (report.ok, report.broken_at) == (False, forged.id)
    assert forged.id > ids[-1]


def test_retention_prunes_old_entries_and_the_rest_still_verifies(engine, fake_clock):
    ids = _append(engine, fake_clock, 6)
    cutoff = fake_clock.now() - timedelta(hours=3)
    with session_scope(engine) as session:
        removed = audit.prune(session, before=cutoff, now=fake_clock.now())
    assert removed == 3
    assert _verify(engine).ok
    _append(engine, fake_clock, 2)
    report = _verify(engine)
    assert report.ok and report.checked == 5
    with read_scope(engine) as session:
        kept = session.exec(select(AuditEntry.id).order_by(col(AuditEntry.id))).all()
    assert kept[0] == ids[3]


def test_pruning_everything_keeps_the_chain_going(engine, fake_clock):
    _append(engine, fake_clock, 2)
    with session_scope(engine) as session:
        assert audit.prune(session, before=fake_clock.now(), now=fake_clock.now()) == 2
        assert audit.prune(session, before=fake_clock.now(), now=fake_clock.now()) == 0
    _append(engine, fake_clock, 1)
    assert _verify(engine).ok


def test_fingerprints_are_stable_and_never_contain_the_key():
    first = audit.fingerprint("secret", "my-admin-key")
    assert first == audit.fingerprint("secret", "my-admin-key")
    assert first != audit.fingerprint("other-secret", "my-admin-key")
    assert "my-admin-key" not in first and len(first) == 64


def test_a_row_replaced_by_a_self_consistent_forgery_breaks_the_next_link(engine, fake_clock):
    ids = _append(engine, fake_clock, 5)
    with read_scope(engine) as session:
        previous = session.get(AuditEntry, ids[1])
    with engine.begin() as connection:
        connection.execute(sa.delete(AuditEntry).where(AuditEntry.id == ids[2]))
    with session_scope(engine) as session:
        forged = AuditEntry(
            id=ids[2],
            at=fake_clock.now(),
            actor="mallory",
            action="pool.size",
            outcome=AuditOutcome.OK,
            prev_hash=previous.hash,
            hash="",
        )
        forged.hash = audit._entry_hash(forged)
        session.add(forged)
    report = _verify(engine)
    assert (report.ok, report.broken_at) == (False, ids[3])
    assert "link" in report.reason


def test_the_oldest_rows_removed_without_a_checkpoint_are_found(engine, fake_clock):
    ids = _append(engine, fake_clock, 4)
    with engine.begin() as connection:
        connection.execute(sa.delete(AuditEntry).where(col(AuditEntry.id) <= ids[1]))
    assert (_verify(engine).ok, _verify(engine).broken_at) == (False, ids[2])


def test_a_forged_checkpoint_is_found_at_the_first_kept_row(engine, fake_clock):
    from core.models import AuditCheckpoint

    ids = _append(engine, fake_clock, 5)
    with session_scope(engine) as session:
        audit.prune(session, before=fake_clock.now() - timedelta(hours=2), now=fake_clock.now())
    with engine.begin() as connection:
        connection.execute(sa.update(AuditCheckpoint).values(last_hash="e" * 64))
    report = _verify(engine)
    assert (report.ok, report.broken_at) == (False, ids[3])


def test_a_pruned_chain_still_finds_later_tampering(engine, fake_clock):
    ids = _append(engine, fake_clock, 6)
    with session_scope(engine) as session:
        audit.prune(session, before=fake_clock.now() - timedelta(hours=3), now=fake_clock.now())
    with engine.begin() as connection:
        connection.execute(
            sa.update(AuditEntry).where(AuditEntry.id == ids[4]).values(details={"n": 99})
        )
    report = _verify(engine)
    assert (report.ok, report.checked, report.broken_at) == (False, 1, ids[4])


def test_retention_keeps_ninety_days_by_default(engine, fake_clock):
    from core.config import Settings
    from core.ops import retention

    assert Settings().retention_days == 90
    with session_scope(engine) as session:
        for days_ago in (91, 89):
            audit.record(
                session,
                at=fake_clock.now() - timedelta(days=days_ago),
                actor="system",
                action=f"x.{days_ago}",
            )
    with session_scope(engine) as session:
        report = retention.apply_retention(session, now=fake_clock.now())
    assert report.removed["auditentry"] == 1
    with read_scope(engine) as session:
        assert [e.action for e in session.exec(select(AuditEntry)).all()] == ["x.89"]
        assert audit.verify_chain(session).ok


def test_a_whole_tail_rewritten_without_the_secret_is_found(engine, fake_clock, monkeypatch):
    """Someone with database access but not AUDIT_HMAC_SECRET re-chains every later row."""
    ids = _append(engine, fake_clock, 5)
    with monkeypatch.context() as forger:
        forger.setenv("AUDIT_HMAC_SECRET", "a-guess-that-is-not-the-secret")
        get_settings.cache_clear()
        with session_scope(engine) as session:
            rows = session.exec(
                select(AuditEntry).where(col(AuditEntry.id) >= ids[2]).order_by(col(AuditEntry.id))
            ).all()
            prev = rows[0].prev_hash
            for row in rows:
                row.details = {"n": -1}
                row.prev_hash = prev
                row.hash = audit._entry_hash(row)
                prev = row.hash
                session.add(row)
    get_settings.cache_clear()
    report = _verify(engine)
    assert not report.ok and report.broken_at == ids[2]
