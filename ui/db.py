"""The pages' way into the database: a read, or one unit of work with the web clock's `now`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlmodel import Session

from core.db import read_scope, session_scope
from core.refusals import audited_refusals
from ui import resources


@contextmanager
def reading() -> Iterator[Session]:
    """A read-only session on the app's engine."""
    with read_scope(resources.engine()) as session:
        yield session


@contextmanager
def writing() -> Iterator[tuple[Session, datetime]]:
    """One unit of work on the app's engine and the web clock's time as it starts.

    Committed when the block ends, rolled back if it raises (`core.db.session_scope`).
    """
    with session_scope(resources.engine()) as session:
        yield session, resources.clock().now()


@contextmanager
def refusals_audited(*, actor: str, target: str, ip: str | None = None) -> Iterator[None]:
    """Audit a content-policy refusal raised inside the block, in its own unit of work (so
    the record survives the refused one), then let it reach the page."""
    with audited_refusals(
        resources.engine(), actor=actor, target=target, clock=resources.clock(), ip=ip
    ):
        yield
