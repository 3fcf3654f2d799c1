"""Alembic environment: migrates the database named by the caller or by DATABASE_URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from core.config import get_settings
from core.db import make_engine, normalize_url
from core.gallery.search import is_modelled
from core.models import metadata

config = context.config


def _database_url() -> str:
    url = config.attributes.get("database_url")
    return str(url) if url else normalize_url(get_settings().database_url)


def run_migrations_offline() -> None:
    """Emit SQL to stdout instead of running it."""
    context.configure(
        url=_database_url(),
        target_metadata=metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run migrations on a live connection (batch mode so SQLite can alter tables)."""
    engine = make_engine(_database_url())
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch mode rebuilds a table (copy, drop, rename); with foreign keys enforced the
            # drop fails once other rows point at it, so they are checked at the end instead.
            connection.connection.driver_connection.execute("PRAGMA foreign_keys = OFF")
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=True,
            compare_type=True,
            include_name=is_modelled,
        )
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:
                _refuse_dangling_references(connection)
    engine.dispose()


def _refuse_dangling_references(connection: Connection) -> None:
    """Raise (rolling the migration back) if a rebuilt table left a foreign key dangling."""
    dangling = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if dangling:
        raise RuntimeError(f"migration left rows pointing at nothing: {dangling[:5]}")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
