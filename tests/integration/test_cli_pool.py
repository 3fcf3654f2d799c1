"""Operator commands: authenticated by the admin key, audited by its fingerprint only."""

import io

import pytest
import sqlalchemy as sa
from sqlmodel import select

from cli.ops import main
from core import audit
from core.db import make_engine, read_scope
from core.models import AuditEntry, AuditOutcome, GpuInstance, InstanceState, PoolConfig
from testing.factories import make_instance

KEY = "correct-horse-admin-key"


@pytest.fixture
def cli_db(monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("ADMIN_API_KEY", KEY)
    assert main(["migrate"]) == 0
    engine = make_engine(url)
    yield engine
    engine.dispose()


def run(*argv, key=KEY):
    out = io.StringIO()
    status = main(list(argv), stdin=io.StringIO(key + "\n"), stdout=out)
    return status, out.getvalue()


def test_size_safe_mode_budget_and_prewarm_change_the_pool_and_are_audited(cli_db):
    assert run("pool", "size", "2")[0] == 0
    assert run("pool", "safe-mode", "on", "--reason", "maintenance")[0] == 0
    assert run("pool", "budget", "--daily", "7.5", "--monthly", "90")[0] == 0
    assert run("pool", "prewarm", "--minutes", "20")[0] == 0
    with read_scope(cli_db) as session:
        config = session.get(PoolConfig, "default")
        entries = session.exec(select(AuditEntry).order_by(AuditEntry.id)).all()
        assert audit.verify_chain(session).ok
    assert config.desired_size == 2
    assert config.safe_mode and config.safe_mode_reason == "maintenance"
    assert str(config.daily_budget_usd) == "7.5" and config.monthly_budget_usd == 90
    assert config.prewarm_until is not None
    assert [e.action for e in entries] == [
        "pool.size",
        "pool.safe_mode_on",
        "pool.budget",
        "pool.prewarm",
    ]
    expected = audit.fingerprint("dev-audit-secret-change-me", KEY)
    assert {e.actor_fingerprint for e in entries} == {expected}


def test_status_lists_instances_and_spend(cli_db):
    make_instance(
        cli_db, state=InstanceState.READY, gpu_name="RTX 4090", comfy_url="http://10.0.0.1:8188"
    )
    status, text = run("pool", "status")
    assert status == 0
    assert "pool default: desired 0" in text
    assert "ready" in text and "RTX 4090" in text and "http://10.0.0.1:8188" in text


def test_terminate_marks_instances_for_the_next_tick(cli_db):
    one = make_instance(cli_db, state=InstanceState.READY)
    make_instance(cli_db, state=InstanceState.BOOTING)
    assert run("pool", "terminate", str(one.id)) == (
        0,
        "1 instance(s) will be destroyed at the next tick\n",
    )
    assert run("pool", "terminate", "all")[1].startswith("2 instance(s)")
    with read_scope(cli_db) as session:
        rows = session.exec(select(GpuInstance)).all()
    assert all(r.terminate_requested_at is not None for r in rows)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["pool", "size", "99"], "desired size must be between"),
        (["pool", "terminate", "abc"], "instance id must be a number"),
        (["pool", "terminate", "12345"], "no live instance 12345"),
        (["pool", "prewarm", "--minutes", "0"], "prewarm must be between"),
        (["pool", "budget", "--daily", "-1"], "cannot be negative"),
    ],
)
def test_bad_requests_are_refused_with_a_message(cli_db, capsys, argv, message):
    assert run(*argv)[0] == 2
    assert message in capsys.readouterr().err


def test_a_wrong_key_is_refused_and_audited_without_the_key(cli_db, capsys):
    assert run("pool", "size", "1", key="guess-123")[0] == 2
    assert "admin key is wrong" in capsys.readouterr().err
    with read_scope(cli_db) as session:
        entry = session.exec(select(AuditEntry)).one()
        config = session.get(PoolConfig, "default")
    assert entry.outcome is AuditOutcome.DENIED
    assert entry.actor_fingerprint == audit.fingerprint("dev-audit-secret-change-me", "guess-123")
    assert config is None  # nothing happened
    with cli_db.connect() as connection:
        dump = "\n".join(str(r) for r in connection.execute(sa.text("SELECT * FROM auditentry")))
    assert "guess-123" not in dump and KEY not in dump


def test_pool_commands_are_refused_when_no_admin_key_is_configured(cli_db, monkeypatch, capsys):
    monkeypatch.delenv("ADMIN_API_KEY")
    from core.config import get_settings

    get_settings.cache_clear()
    assert run("pool", "status")[0] == 2
    assert "ADMIN_API_KEY is not configured" in capsys.readouterr().err


def test_user_role_makes_the_first_admin_and_is_audited(cli_db):
    from testing.factories import make_user

    make_user(cli_db, username="ava")
    assert run("user", "role", "ava", "admin") == (0, "ava is now admin\n")
    assert run("user", "role", "nobody", "admin")[0] == 2
    assert run("user", "role", "ava", "admin", key="wrong")[0] == 2
    with read_scope(cli_db) as session:
        entry = session.exec(select(AuditEntry).where(AuditEntry.action == "account.role")).one()
    assert entry.details == {"role": "admin"} and entry.actor_fingerprint


def test_backup_retention_and_audit_verify(cli_db, tmp_path, monkeypatch):
    monkeypatch.setenv("BACKUP_DIR", str(tmp_path / "backups"))
    status, out = run("backup")
    assert status == 0 and out.strip().endswith(".sqlite3")
    status, out = run("retention", "--days", "30")
    assert status == 0 and "auditentry: 0" in out
    assert run("audit", "verify") == (0, "audit chain ok: 0 entries\n")
    run("pool", "size", "1")
    with cli_db.begin() as connection:
        connection.execute(sa.text("UPDATE auditentry SET actor = 'someone else'"))
    status, out = run("audit", "verify")
    assert status == 1 and "BROKEN at entry 1" in out


def test_an_attempt_without_a_configured_key_is_audited_too(cli_db, monkeypatch):
    monkeypatch.delenv("ADMIN_API_KEY")
    from core.config import get_settings

    get_settings.cache_clear()
    assert run("pool", "size", "1", key="anything")[0] == 2
    with read_scope(cli_db) as session:
        entry = session.exec(select(AuditEntry)).one()
    assert (entry.action, entry.outcome) == ("auth.admin_key", AuditOutcome.DENIED)
    assert entry.details == {"configured": False} and entry.actor_fingerprint


def test_the_raw_key_never_reaches_the_logs_or_the_database(cli_db, capsys, monkeypatch):
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    from core.config import get_settings

    get_settings.cache_clear()
    run("pool", "status")
    run("pool", "size", "1", key="wrong-key-7777")
    run("pool", "safe-mode", "on", "--reason", "test")
    logs = capsys.readouterr().err  # the CLI logs to stderr
    with cli_db.connect() as connection:
        dump = "\n".join(
            str(row)
            for table in ("auditentry", "poolconfig")
            for row in connection.execute(sa.text(f"SELECT * FROM {table}"))
        )
    assert "admin key is wrong" in logs
    for secret in (KEY, "wrong-key-7777"):
        assert secret not in logs and secret not in dump
    assert dump.count(audit.fingerprint("dev-audit-secret-change-me", KEY)) == 2
