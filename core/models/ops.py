"""Operational tables: the audit chain and the scheduler's leader lock."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from core.models.enums import AuditOutcome
from core.models.types import UTCDateTime, json_column, text_enum, utcnow


class AuditEntry(SQLModel, table=True):
    """One append-only audit record, chained to the previous one by `prev_hash`."""

    __table_args__ = (
        sa.Index("ix_audit_at_id", "at", "id"),
        sa.Index("ix_audit_action_at", "action", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime)
    actor: str = Field(max_length=128, index=True)
    actor_fingerprint: str | None = Field(default=None, max_length=64)
    ip: str | None = Field(default=None, max_length=64)
    action: str = Field(max_length=64)
    target: str | None = Field(default=None, max_length=128)
    outcome: AuditOutcome = Field(sa_type=text_enum(AuditOutcome))
    details: dict[str, Any] = Field(default_factory=dict, sa_type=json_column())
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, unique=True)


class AuditCheckpoint(SQLModel, table=True):
    """What retention removed: the last pruned id and hash, so the chain still verifies."""

    id: int | None = Field(default=None, primary_key=True)
    pruned_through_id: int
    last_hash: str = Field(max_length=64)
    pruned_count: int
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SchedulerLock(SQLModel, table=True):
    """The leader lease. `epoch` grows on every takeover and fences a stale leader."""

    name: str = Field(primary_key=True, max_length=32)
    holder: str = Field(max_length=128)
    epoch: int = 0
    expires_at: datetime = Field(sa_type=UTCDateTime)
    renewed_at: datetime = Field(sa_type=UTCDateTime)
