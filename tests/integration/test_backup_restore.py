"""Backup and restore through the operator's commands, on every backend; pool-state export."""

import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from cli.ops import main
from core import audit
from core.db import read_scope, session_scope
from core.models import AuditEntry, GpuInstance, InstanceState, User
from core.ops import snapshot
from testing.factories import make_instance, make_pool, make_user

NOW = datetime(2026, 5, 2, 3, 17, tzinfo=UTC)


def _cli(*argv):
    out = io.StringIO()
    return main(list(argv), stdin=io.StringIO(""), stdout=out), out.getvalue()


@pytest.fixture
def ops_db(engine, monkeypatch, tmp_path):
    """The CLI pointed at this test's database, backups into a temporary folder."""
    monkeypatch.setenv("DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("BACKUP_DIR", str(tmp_path / "backups"))
    from core.config import get_settings

    get_settings.cache_clear()
    return engine


def _usernames(engine):
    with read_scope(engine) as session:
        return sorted(u.username for u in session.exec(select(User)).all())


def test_backup_then_restore_brings_back_exactly_what_was_saved(ops_db, capsys):
    make_user(ops_db, username="before")
    with session_scope(ops_db) as session:
        audit.record(session, at=NOW, actor="system", action="pool.size")
    status, out = _cli("backup")
    assert status == 0
    saved = out.strip()
    make_user(ops_db, username="after")  # written after the backup: lost by the restore
    with session_scope(ops_db) as session:
        audit.record(session, at=NOW, actor="system", action="pool.prewarm")

    assert _cli("restore", saved)[0] == 2  # not confirmed
    assert "--yes" in capsys.readouterr().err
    assert _usernames(ops_db) == ["after", "before"]

    ops_db.dispose()  # nothing may hold the database while it is replaced
    status, out = _cli("restore", saved, "--yes")
    assert status == 0, capsys.readouterr().err
    assert _usernames(ops_db) == ["before"]
    with read_scope(ops_db) as session:
        actions = [e.action for e in session.exec(select(AuditEntry)).all()]
        assert audit.verify_chain(session).ok
    assert actions == ["pool.size", "ops.restore"]  # the restore itself is on the record
    assert _cli("audit", "verify")[0] == 0


def test_restore_refuses_a_missing_or_mismatched_file(ops_db, tmp_path, capsys):
    assert _cli("restore", str(tmp_path / "nope.sqlite3"), "--yes")[0] == 2
    assert "no backup file" in capsys.readouterr().err
    wrong = tmp_path / "aikings-x.txt"
    wrong.write_text("not a backup")
    assert _cli("restore", str(wrong), "--yes")[0] == 2
    assert "restored from a ." in capsys.readouterr().err
    assert _usernames(ops_db) == []


def test_pool_state_export_lists_live_instances_and_keeps_the_newest(engine, tmp_path):
    make_pool(engine, desired_size=1)
    live = make_instance(engine, state=InstanceState.READY, provider_id="v9", gpu_name="A100")
    make_instance(engine, state=InstanceState.TERMINATED, provider_id="v8")
    paths = []
    for day in range(4):
        with read_scope(engine) as session:
            paths.append(
                snapshot.export_pool_state(
                    session,
                    pool="default",
                    now=NOW + timedelta(days=day),
                    directory=tmp_path,
                    keep=2,
                )
            )
    assert sorted(tmp_path.glob("pool-*.json")) == paths[2:]
    document = json.loads(paths[-1].read_text())
    assert document["config"]["desired_size"] == 1
    assert [(i["id"], i["gpu_name"], i["state"]) for i in document["instances"]] == [
        (live.id, "A100", "ready")
    ]
    assert document["exported_at"] == (NOW + timedelta(days=3)).isoformat()
    with read_scope(engine) as session:
        assert len(session.exec(select(GpuInstance)).all()) == 2  # an export changes nothing
