"""The SQL statements an engine sends, captured as the code really issues them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine


@contextmanager
def statements_sent(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """Every statement `engine` sends inside the block, in order, with its parameters: the
    list grows as they are sent, and stops growing when the block ends."""
    seen: list[tuple[str, Any]] = []

    def capture(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool
    ) -> None:
        seen.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", capture)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", capture)


def flat(statement: str) -> str:
    """`statement` with its whitespace runs made single spaces (easy to compare)."""
    return " ".join(statement.split())


LOCKS_A_USER = re.compile(r'SELECT "?user"?\.id FROM "?user"? WHERE')
"""A `flat` statement that locks a user's row (`core.locks`), as SQLite and PostgreSQL see it."""
