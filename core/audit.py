"""The append-only audit log: HMAC actor fingerprints and a keyed hash chain that shows tampering.

Each entry's `hash` is an HMAC-SHA256, under a key derived from `AUDIT_HMAC_SECRET`, of its
content and the previous entry's hash, so editing, deleting or inserting a row breaks the chain
at that row, and someone who can write to the database but does not hold the secret cannot
forge a consistent replacement. Retention removes old rows but records the last removed hash
in an `AuditCheckpoint`, so what remains still verifies. (Cutting off the newest entries is
not detectable from the table alone; the daily backups keep a copy of the head.)

Every entry carries the client's IP when one is known: the edge that serves a request (a
Streamlit script run, an API request) sets it once with `set_request_ip`, after resolving
trusted proxies (`core.proxies`), and every `record` in that context uses it, so no audited
action has to pass it along.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from contextvars import ContextVar, Token
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from core.config import get_settings
from core.models import AuditCheckpoint, AuditEntry, AuditOutcome

GENESIS_HASH = "0" * 64
_PG_CHAIN_LOCK = 7_351_001  # advisory lock id serialising appends on PostgreSQL
_request_ip: ContextVar[str | None] = ContextVar("aikings_request_ip", default=None)


def set_request_ip(ip: str | None) -> Token[str | None]:
    """Make `ip` the client address of what this context serves (a thread's Streamlit run,
    an API request's task and the threads it starts): `record` stores it on every entry
    that names no `ip` itself. Returns the token that `reset_request_ip` undoes it with."""
    return _request_ip.set(ip)


def reset_request_ip(token: Token[str | None]) -> None:
    """Undo `set_request_ip` (at the end of a request)."""
    _request_ip.reset(token)


def request_ip() -> str | None:
    """The client address set for this context, if any."""
    return _request_ip.get()


def fingerprint(secret: str, key: str) -> str:
    """HMAC-SHA256 of `key` under `secret`: identifies a key in the log without revealing it."""
    return hmac.new(secret.encode(), key.encode(), hashlib.sha256).hexdigest()


def _chain_key() -> bytes:
    """The chain's HMAC key: derived from the audit secret, distinct from fingerprint keys."""
    secret = get_settings().audit_hmac_secret.get_secret_value()
    return hmac.new(secret.encode(), b"aikings-audit-chain-v1", hashlib.sha256).digest()


def _entry_hash(entry: AuditEntry) -> str:
    content = {
        "at": entry.at.isoformat(),
        "actor": entry.actor,
        "actor_fingerprint": entry.actor_fingerprint,
        "ip": entry.ip,
        "action": entry.action,
        "target": entry.target,
        "outcome": AuditOutcome(entry.outcome).value,
        "details": entry.details,
        "prev_hash": entry.prev_hash,
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hmac.new(_chain_key(), canonical.encode(), hashlib.sha256).hexdigest()


def _chain_head(session: Session) -> str:
    last = session.exec(select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(1)).first()
    if last is not None:
        return last.hash
    checkpoint = session.exec(
        select(AuditCheckpoint).order_by(col(AuditCheckpoint.id).desc()).limit(1)
    ).first()
    return checkpoint.last_hash if checkpoint else GENESIS_HASH


def record(
    session: Session,
    *,
    at: datetime,
    actor: str,
    action: str,
    outcome: AuditOutcome = AuditOutcome.OK,
    target: str | None = None,
    details: dict[str, Any] | None = None,
    actor_fingerprint: str | None = None,
    ip: str | None = None,
) -> AuditEntry:
    """Append one entry to the chain (flushed, not committed: it joins the caller's unit of work).

    Without `ip`, the entry takes the request's client address (`set_request_ip`), if any.

    Appends are serialised: SQLite's write transactions already are (BEGIN IMMEDIATE), and on
    PostgreSQL a transaction-scoped advisory lock keeps two appends from sharing a parent.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": _PG_CHAIN_LOCK})
    ip = ip if ip is not None else _request_ip.get()
    entry = AuditEntry(
        at=at,
        actor=actor,
        actor_fingerprint=actor_fingerprint,
        ip=ip[:64] if ip else None,
        action=action,
        target=target,
        outcome=outcome,
        details=json.loads(json.dumps(details or {}, default=str)),
        prev_hash=_chain_head(session),
        hash="",
    )
    entry.hash = _entry_hash(entry)
    session.add(entry)
    session.flush()
    return entry


def by_user(
    session: Session,
    user: int | str,
    action: str,
    target: str,
    *,
    at: datetime,
    details: dict[str, Any] | None = None,
    ip: str | None = None,
) -> AuditEntry:
    """`record` that `user` (a user id, or a username where the id is not known yet) did
    `action` to `target`: actor `user:<user>`, outcome OK."""
    return record(
        session, at=at, actor=f"user:{user}", action=action, target=target, details=details, ip=ip
    )


@dataclass(frozen=True)
class ChainReport:
    """The result of verifying the chain: `broken_at` is the first bad entry id, if any."""

    ok: bool
    checked: int
    broken_at: int | None = None
    reason: str | None = None


def verify_chain(session: Session, *, batch_size: int = 1000) -> ChainReport:
    """Recompute every hash from the oldest kept entry; report the first entry that disagrees."""
    checkpoint = session.exec(
        select(AuditCheckpoint).order_by(col(AuditCheckpoint.id).desc()).limit(1)
    ).first()
    expected_prev = checkpoint.last_hash if checkpoint else GENESIS_HASH
    checked, after_id = 0, checkpoint.pruned_through_id if checkpoint else 0
    while True:
        rows = session.exec(
            select(AuditEntry)
            .where(col(AuditEntry.id) > after_id)
            .order_by(col(AuditEntry.id))
            .limit(batch_size)
        ).all()
        if not rows:
            return ChainReport(ok=True, checked=checked)
        for entry in rows:
            if entry.prev_hash != expected_prev:
                return ChainReport(False, checked, entry.id, "link to the previous entry broken")
            if _entry_hash(entry) != entry.hash:
                return ChainReport(False, checked, entry.id, "content does not match its hash")
            expected_prev, after_id = entry.hash, entry.id or after_id
            checked += 1


def prune(session: Session, *, before: datetime, now: datetime) -> int:
    """Delete entries older than `before`, keeping the chain verifiable; return how many.

    Only a contiguous prefix of the chain is removed, and the last removed hash is stored in
    an AuditCheckpoint that `verify_chain` starts from.
    """
    first_kept = session.exec(
        select(AuditEntry).where(AuditEntry.at >= before).order_by(col(AuditEntry.id)).limit(1)
    ).first()
    bound = sa.true() if first_kept is None else col(AuditEntry.id) < first_kept.id
    last_removed = session.exec(
        select(AuditEntry).where(bound).order_by(col(AuditEntry.id).desc()).limit(1)
    ).first()
    if last_removed is None:
        return 0
    count = session.exec(select(sa.func.count()).select_from(AuditEntry).where(bound)).one()
    session.add(
        AuditCheckpoint(
            pruned_through_id=last_removed.id or 0,
            last_hash=last_removed.hash,
            pruned_count=count,
            at=now,
        )
    )
    session.execute(sa.delete(AuditEntry).where(bound))
    session.flush()
    return int(count)
