"""The pages' way into the database: a read, or one unit of work with the web clock's `now`;
and the pages' one error frame, a core refusal shown where the page asks (`shown`, `attempt`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Protocol, TypeVar

import streamlit as st
from sqlmodel import Session

from core.db import read_scope, session_scope
from core.errors import CoreError
from core.refusals import audited_refusals
from ui import resources

T = TypeVar("T")


class Alerts(Protocol):
    """Where a refusal is shown: the page (`st`) or one of its containers."""

    def error(self, body: str) -> object:
        """Show `body` as an error."""
        ...


@dataclass(frozen=True)
class Done(Generic[T]):
    """A call that went through, with what it returned (a refusal gives None instead)."""

    value: T


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


def shown(
    call: Callable[[], T], *, alerts: Alerts | None = None, say: str = "{}"
) -> Done[T] | None:
    """`call()`'s result as `Done`; a `CoreError` it raises is shown as an error in `alerts`
    (the page when None), worded by `say` (its `{}` the error's message), and None returned.
    Any other error reaches the page's boundary (`ui.errors`)."""
    try:
        return Done(call())
    except CoreError as exc:
        (alerts or st).error(say.format(exc))
        return None


def attempt(
    action: Callable[[Session, datetime], T],
    *,
    alerts: Alerts | None = None,
    say: str = "{}",
    audited: tuple[str, str] | None = None,
) -> Done[T] | None:
    """Run `action(session, now)` as one unit of work (`writing`): `Done` with its result once
    committed; a `CoreError` it raises rolls the unit back, is shown in `alerts` (the page when
    None, worded by `say` as in `shown`) and gives None. With `audited` (actor, target), a
    content-policy refusal is also audited in its own unit of work (`refusals_audited`)."""

    actor, target = audited or (None, "")
    return shown(lambda: written(action, actor=actor, target=target), alerts=alerts, say=say)


def written(
    action: Callable[[Session, datetime], T], *, actor: str | None = None, target: str = ""
) -> T:
    """What `action(session, now)` returns, run as one unit of work (`writing`); what it
    raises rolls the unit back and is raised. With an `actor`, a content-policy refusal is
    audited first under `target`, in its own unit of work (`refusals_audited`)."""
    if actor is None:
        with writing() as (session, now):
            return action(session, now)
    with refusals_audited(actor=actor, target=target), writing() as (session, now):
        return action(session, now)


def attempt_read(
    action: Callable[[Session], T], *, alerts: Alerts | None = None, say: str = "{}"
) -> Done[T] | None:
    """`action(session)` on a read-only session (`reading`): `Done` with its result, or, when
    it raises a `CoreError`, the error shown in `alerts` (worded by `say`) and None."""

    def read() -> T:
        with reading() as session:
            return action(session)

    return shown(read, alerts=alerts, say=say)
