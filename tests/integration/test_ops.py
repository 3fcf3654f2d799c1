"""Backups, retention and the audit view (metrics: test_metrics_http.py)."""

import csv
import io
import os
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from core import audit
from core.db import read_scope, session_scope
from core.errors import ConfigError
from core.models import AssetView, AuditEntry, AuditOutcome, GenerationJob, JobStatus, UsageEvent
from core.ops import audit_view, backup, retention
from testing.factories import make_job, make_user
from tests.conftest import PG_URL_ENV

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


def test_sqlite_backup_is_consistent_verified_restorable_and_rotated(sqlite_engine, tmp_path):
    make_user(sqlite_engine, username="kept")
    url = sqlite_engine.url.render_as_string(hide_password=False)
    paths = [
        backup.backup(url, tmp_path / "b", now=NOW + timedelta(seconds=i), keep=2) for i in range(3)
    ]
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == sorted(p.name for p in paths[1:])
    assert backup.verify_backup(paths[-1])
    backup.restore(paths[-1], tmp_path / "restored.db")
    with sqlite3.connect(tmp_path / "restored.db") as db:
        assert db.execute("select username from user").fetchall() == [("kept",)]
    (tmp_path / "bad.sqlite3").write_bytes(b"not a database at all" * 100)
    with pytest.raises(Exception):  # noqa: B017 - sqlite3 says "file is not a database"
        backup.restore(tmp_path / "bad.sqlite3", tmp_path / "x.db")


@pytest.mark.skipif(
    PG_URL_ENV not in os.environ or shutil.which("pg_dump") is None,
    reason="needs TEST_DATABASE_URL (PostgreSQL) and pg_dump; CI has both",
)
def test_postgres_backup_with_pg_dump(pg_engine, tmp_path):
    path = backup.backup(pg_engine.url.render_as_string(hide_password=False), tmp_path, now=NOW)
    assert path.suffix == ".pgdump" and path.read_bytes()[:5] == b"PGDMP"


def test_postgres_backup_without_pg_dump_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(backup.shutil, "which", lambda _name: None)
    with pytest.raises(ConfigError, match="pg_dump"):
        backup.backup("postgresql://u@127.0.0.1/db", tmp_path, now=NOW)


def test_retention_removes_old_telemetry_and_keeps_money(engine):
    user = make_user(engine)
    old, new = NOW - timedelta(days=120), NOW - timedelta(days=5)
    failed_old = make_job(engine, user, status=JobStatus.FAILED, created_at=old)
    make_job(engine, user, status=JobStatus.SUCCEEDED, created_at=old)
    with session_scope(engine) as session:
        session.add(UsageEvent(at=old, pool="default", kind="gpu_accrual"))
        session.add(UsageEvent(at=new, pool="default", kind="gpu_accrual"))
        audit.record(session, at=old, actor="a", action="x.old", outcome=AuditOutcome.OK)
        audit.record(session, at=new, actor="a", action="x.new", outcome=AuditOutcome.OK)
    with session_scope(engine) as session:
        report = retention.apply_retention(session, now=NOW, days=90)
    assert report.removed["usageevent"] == 1 and report.removed["generationjob"] == 1
    with read_scope(engine) as session:
        remaining = {j.id for j in session.exec(select(GenerationJob)).all()}
        assert failed_old.id not in remaining and len(remaining) == 1
        assert [e.action for e in session.exec(select(AuditEntry)).all()][-1] == "x.new"
        assert audit.verify_chain(session).ok
        assert session.exec(select(AssetView)).all() == []


def test_audit_view_filters_pages_and_exports_safely(engine):
    with session_scope(engine) as session:
        for n in range(7):
            audit.record(
                session,
                at=NOW + timedelta(minutes=n),
                actor=f"user:{n % 2}",
                action="pool.size" if n % 3 else "login.failed",
                outcome=AuditOutcome.OK if n % 3 else AuditOutcome.DENIED,
                target="=HYPERLINK(1)",
                details={"n": n},
            )
    flt = audit_view.AuditFilter(action="pool.")
    with read_scope(engine) as session:
        first = audit_view.page_audit(session, filter=flt, limit=3)
        second = audit_view.page_audit(session, filter=flt, cursor=first.next_cursor, limit=3)
        denied = audit_view.page_audit(
            session,
            filter=audit_view.AuditFilter(
                outcome=AuditOutcome.DENIED,
                actor="user:0",
                since=NOW,
                until=NOW + timedelta(hours=1),
            ),
        )
        actions = audit_view.distinct_actions(session)
    assert len(first.rows) == 3 and len(second.rows) == 1 and second.next_cursor is None
    assert [r.action for r in denied.rows] == ["login.failed", "login.failed"]
    assert actions == ["login.failed", "pool.size"]
    rows = list(csv.reader(io.StringIO(audit_view.to_csv(first.rows).decode())))
    assert rows[0][0] == "id" and rows[1][4] == "'=HYPERLINK(1)"
