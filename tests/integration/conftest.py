"""Fixtures of the integration tests that more than one module uses."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from core.config import get_settings
from core.db import make_engine, migrate
from core.models import User
from testing.factories import make_user

ADMIN_KEY = "a-test-admin-key"
"""The admin key `cli_db` sets; the command-line programs ask for it on stdin."""


@pytest.fixture
def cli_db(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Engine, User]]:
    """The database a command-line program opens (the settings' own), migrated, with the
    admin key `ADMIN_KEY` set; and its one user, `ava_owner`."""
    monkeypatch.setenv("ADMIN_API_KEY", ADMIN_KEY)
    get_settings.cache_clear()
    url = get_settings().database_url
    migrate(url)
    engine = make_engine(url)
    owner = make_user(engine, username="ava_owner")
    yield engine, owner
    engine.dispose()
    get_settings.cache_clear()
