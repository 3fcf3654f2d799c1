"""Database backups: SQLite through its online backup API, PostgreSQL through pg_dump.

Media files are content-addressed and never change once written, so `rsync -a` of the media
root beside these database backups is a complete, consistent backup.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from core.errors import ConfigError


def _stamp(now: datetime) -> str:
    return now.strftime("%Y%m%dT%H%M%SZ")


def backup(database_url: str, backup_dir: Path, *, now: datetime, keep: int = 14) -> Path:
    """Write a consistent backup, keep the newest `keep`, return the new file."""
    backup_dir.mkdir(parents=True, exist_ok=True)
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        target = backup_dir / f"aikings-{_stamp(now)}.sqlite3"
        source = sqlite3.connect(str(url.database))
        try:
            with sqlite3.connect(str(target)) as copy:
                source.backup(copy)  # consistent even while web and scheduler write (WAL)
        finally:
            source.close()
        pattern = "aikings-*.sqlite3"
    else:
        if shutil.which("pg_dump") is None:
            raise ConfigError("pg_dump is not installed; it is needed to back up PostgreSQL")
        target = backup_dir / f"aikings-{_stamp(now)}.pgdump"
        plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
        subprocess.run(
            ["pg_dump", "--format=custom", "--file", str(target), plain],
            check=True,
            capture_output=True,
            timeout=3600,
        )
        pattern = "aikings-*.pgdump"
    for old in sorted(backup_dir.glob(pattern))[:-keep]:
        old.unlink()
    return target


def verify_backup(path: Path) -> bool:
    """A SQLite backup passes `integrity_check` and carries its schema version."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        ok = db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        version = db.execute("SELECT version_num FROM alembic_version").fetchone()
    return ok and version is not None


def restore(backup_file: Path, database_path: Path) -> None:
    """Restore a SQLite backup to `database_path` (stop web and scheduler first)."""
    if not verify_backup(backup_file):
        raise ConfigError(f"{backup_file} does not pass the integrity check")
    with sqlite3.connect(str(backup_file)) as source, sqlite3.connect(str(database_path)) as dest:
        source.backup(dest)


def restore_database(database_url: str, backup_file: Path) -> None:
    """Replace the database `database_url` names with `backup_file` (stop web and scheduler first).

    A `.sqlite3` file is checked and copied page by page through SQLite's backup API; a
    `.pgdump` file is loaded with `pg_restore --clean --if-exists` into the same database.
    """
    if not backup_file.is_file():
        raise ConfigError(f"no backup file at {backup_file}")
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if backup_file.suffix != ".sqlite3":
            raise ConfigError("a SQLite database is restored from a .sqlite3 backup")
        restore(backup_file, Path(str(url.database)))
        return
    if backup_file.suffix != ".pgdump":
        raise ConfigError("a PostgreSQL database is restored from a .pgdump backup")
    if shutil.which("pg_restore") is None:
        raise ConfigError("pg_restore is not installed; it is needed to restore PostgreSQL")
    plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
    subprocess.run(
        ["pg_restore", "--clean", "--if-exists", "--no-owner", "--dbname", plain, str(backup_file)],
        check=True,
        capture_output=True,
        timeout=3600,
    )
