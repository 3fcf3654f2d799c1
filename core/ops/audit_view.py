"""The audit log as the admin page reads it: filters, keyset pages, CSV export."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from core.accounts.inputs import require_plain, row_id
from core.models import AuditEntry, AuditOutcome, User

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class AuditFilter:
    """What the admin narrowed the log to; None means any."""

    actor: str | None = None
    action: str | None = None
    outcome: AuditOutcome | None = None
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class AuditPage:
    """Entries newest first, and the id to continue from (None at the end)."""

    rows: list[AuditEntry]
    next_cursor: int | None


def page_audit(
    session: Session, *, filter: AuditFilter, cursor: int | None = None, limit: int = 50
) -> AuditPage:
    """One page of matching entries, keyset-paged by id (newest first)."""
    require_plain({"actor": filter.actor, "action": filter.action, "target": filter.target})
    query = select(AuditEntry)
    if filter.actor:
        query = query.where(col(AuditEntry.actor).contains(filter.actor, autoescape=True))
    if filter.action:
        query = query.where(col(AuditEntry.action).startswith(filter.action, autoescape=True))
    if filter.outcome is not None:
        query = query.where(col(AuditEntry.outcome) == filter.outcome)
    if filter.target:
        query = query.where(col(AuditEntry.target).contains(filter.target, autoescape=True))
    if filter.since is not None:
        query = query.where(col(AuditEntry.at) >= filter.since)
    if filter.until is not None:
        query = query.where(col(AuditEntry.at) <= filter.until)
    if cursor is not None:
        query = query.where(col(AuditEntry.id) < cursor)
    rows = list(session.exec(query.order_by(col(AuditEntry.id).desc()).limit(limit + 1)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return AuditPage(rows, rows[-1].id if more and rows else None)


def distinct_actions(session: Session) -> list[str]:
    """Every action name in the log, sorted."""
    return sorted(session.exec(select(AuditEntry.action).distinct()).all())


def _cell(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    # A cell starting like a formula would run in a spreadsheet: make it text.
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def to_csv(rows: Sequence[AuditEntry]) -> bytes:
    """The rows as CSV, safe to open in a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "at", "actor", "action", "target", "outcome", "ip", "details"])
    for row in rows:
        writer.writerow(
            [row.id, row.at.isoformat()]
            + [
                _cell(value or "")
                for value in (
                    row.actor,
                    row.action,
                    row.target,
                    str(row.outcome),
                    row.ip,
                    row.details,
                )
            ]
        )
    return out.getvalue().encode()


def actor_names(session: Session, actors: Sequence[str]) -> dict[str, str]:
    """A readable name for each actor, in one form: `user:<id>` (the id older entries name)
    becomes `user:<username>`, like the entries that name the user; other actors stay as
    they are. The stored entries are hash-chained and never rewritten: this is display only.
    """
    ids_of = {a: row_id(a.removeprefix("user:")) for a in actors if a.startswith("user:")}
    ids = {found for found in ids_of.values() if found is not None}
    usernames = (
        dict(session.exec(select(User.id, User.username).where(col(User.id).in_(ids))).all())
        if ids
        else {}
    )
    names: dict[str, str] = {}
    for actor in actors:
        found = ids_of.get(actor)
        known = usernames.get(found) if found is not None else None
        names[actor] = f"user:{known}" if known else actor
    return names
