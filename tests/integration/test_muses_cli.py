"""`aikings-muses`: the command-line path applies the same 18+ and policy checks."""

import io
import json

import pytest
from sqlmodel import select

from cli import muses as cli
from core.db import read_scope, session_scope
from core.models import AuditEntry, Muse, User
from tests.integration.conftest import ADMIN_KEY

CARD = {
    "format": "aikings.muse",
    "version": 1,
    "profile": {"basic": {"name": "Ava", "age": 30}},
    "tags": [],
    "variations": [],
}


def run(args, key=ADMIN_KEY):
    out = io.StringIO()
    return cli.main(args, stdin=io.StringIO(key + "\n"), stdout=out), out.getvalue()


def write(tmp_path, name, card):
    path = tmp_path / name
    path.write_text(json.dumps(card), encoding="utf-8")
    return path


def muses(engine):
    with read_scope(engine) as session:
        return session.exec(select(Muse)).all()


def test_import_creates_the_muse_and_export_prints_its_card(cli_db, tmp_path):
    engine, owner = cli_db
    status, out = run(["import", "--owner", "ava_owner", str(write(tmp_path, "a.json", CARD))])
    assert status == 0 and "imported muse" in out
    (muse,) = muses(engine)
    assert (muse.owner_id, muse.age) == (owner.id, 30)
    status, out = run(["export", "--owner", "ava_owner", str(muse.id)])
    assert status == 0 and json.loads(out)["profile"]["basic"]["age"] == 30


@pytest.mark.parametrize(
    ("age", "message"), [(17, "18 or older"), ("18 ", "18 or older"), (None, "18 or older")]
)
def test_underage_or_malformed_ages_are_refused_on_the_cli(cli_db, tmp_path, capsys, age, message):
    engine, _ = cli_db
    card = json.loads(json.dumps(CARD))
    card["profile"]["basic"]["age"] = age
    status, _ = run(["import", "--owner", "ava_owner", str(write(tmp_path, "a.json", card))])
    assert status == 2 and message in capsys.readouterr().err
    assert muses(engine) == []


def test_a_policy_refusal_on_the_cli_is_audited_and_writes_nothing(cli_db, tmp_path, capsys):
    engine, _ = cli_db
    card = json.loads(json.dumps(CARD))
    card["profile"]["notes"] = "dressed as a schoolgirl"
    card["profile"]["ai"] = {"nsfw": True}
    status, _ = run(["import", "--owner", "ava_owner", str(write(tmp_path, "a.json", card))])
    assert status == 2 and "notes" in capsys.readouterr().err
    assert muses(engine) == []
    with read_scope(engine) as session:
        entry = session.exec(select(AuditEntry)).all()[-1]
    assert (entry.action, entry.actor, entry.target) == (
        "policy.refused",
        "admin-key",
        "cli.muse.import",
    )


def test_the_cli_needs_the_admin_key_and_an_existing_owner(cli_db, tmp_path, capsys):
    engine, _ = cli_db
    path = write(tmp_path, "a.json", CARD)
    assert run(["import", "--owner", "ava_owner", str(path)], key="wrong")[0] == 2
    assert run(["import", "--owner", "nobody", str(path)])[0] == 2
    assert run(["import", "--owner", "ava_owner", str(tmp_path / "missing.json")])[0] == 2
    assert "cannot read missing.json" in capsys.readouterr().err
    assert muses(engine) == []
    with session_scope(engine) as session:
        assert session.exec(select(User)).one().username == "ava_owner"


def test_a_second_import_of_a_name_is_refused_unless_as_copy(cli_db, tmp_path, capsys):
    engine, _owner = cli_db
    card = str(write(tmp_path, "a.json", CARD))
    assert run(["import", "--owner", "ava_owner", card])[0] == 0
    assert run(["import", "--owner", "ava_owner", card])[0] == 2
    assert "already have a muse named 'Ava'" in capsys.readouterr().err
    assert run(["import", "--owner", "ava_owner", "--as-copy", card])[0] == 0
    assert sorted(m.name for m in muses(engine)) == ["Ava", "Ava (copy 2)"]
