"""The operator CLI migrates and downgrades the schema (`aikings migrate|downgrade`)."""

import sqlalchemy as sa

from cli.ops import main
from core.db import make_engine


def test_migrate_then_downgrade_through_the_cli(monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    assert main(["migrate"]) == 0
    engine = make_engine(url)
    assert "gpuinstance" in sa.inspect(engine).get_table_names()
    assert main(["downgrade", "base"]) == 0
    assert "gpuinstance" not in sa.inspect(engine).get_table_names()
    engine.dispose()


def test_a_bad_configuration_is_reported_with_exit_status_2(monkeypatch, capsys):
    monkeypatch.setenv("POOL_IDLE_TIMEOUT_S", "never")
    assert main(["migrate"]) == 2
    assert "POOL_IDLE_TIMEOUT_S" in capsys.readouterr().err
