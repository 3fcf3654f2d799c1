"""The warm pool: its configuration, its instances, their leases and what they cost."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from core.models.enums import InstanceState
from core.models.types import Money, UTCDateTime, json_column, text_enum, utcnow


class PoolConfig(SQLModel, table=True):
    """Operator-controlled settings of one pool; seeded from Settings on first start."""

    name: str = Field(primary_key=True, max_length=32)
    desired_size: int = Field(default=0, ge=0)
    max_instances: int = Field(default=4, ge=0)
    idle_timeout_s: int = 900
    lease_max_s: int = 1800
    boot_timeout_s: int = 900
    safe_mode: bool = False
    safe_mode_reason: str | None = Field(default=None, max_length=200)
    min_vram_gb: int = 16
    max_price_per_hour_usd: Decimal = Field(default=Decimal("1.00"), sa_type=Money)
    gpu_names: list[str] = Field(default_factory=list, sa_type=json_column())
    min_reliability: float = 0.98
    image: str = Field(default="vastai/comfy:latest", max_length=300)
    disk_gb: int = 40
    min_inet_down_mbps: int = 0
    """Vast's measured download speed (Mbit/s) an offer must have; 0 takes any."""
    daily_budget_usd: Decimal = Field(default=Decimal("25"), sa_type=Money)
    monthly_budget_usd: Decimal = Field(default=Decimal("300"), sa_type=Money)
    last_demand_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    prewarm_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    adaptive: bool = True
    """Learn the demand pattern: advised idle timeout and prewarm (core.pool.adaptive)."""
    wait_value_per_hour_usd: Decimal = Field(default=Decimal("3.00"), sa_type=Money)
    """What an hour of a user waiting for a cold GPU is worth, weighed against idle GPU cost."""
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class GpuInstance(SQLModel, table=True):
    """Our claim about one rented GPU. The row (and its label) exists before the rental call."""

    __table_args__ = (sa.Index("ix_gpuinstance_pool_state", "pool", "state"),)

    id: int | None = Field(default=None, primary_key=True)
    pool: str = Field(max_length=32)
    label: str = Field(max_length=128, unique=True)
    state: InstanceState = Field(default=InstanceState.REQUESTED, sa_type=text_enum(InstanceState))
    provider_id: str | None = Field(default=None, max_length=64, index=True)
    offer_id: str | None = Field(default=None, max_length=64)
    machine_id: str | None = Field(default=None, max_length=64)
    gpu_name: str | None = Field(default=None, max_length=64)
    num_gpus: int = 1
    price_per_hour_usd: Decimal = Field(default=Decimal(0), sa_type=Money)
    comfy_url: str | None = Field(default=None, max_length=300)
    comfy_token_nonce: str | None = Field(default=None, max_length=64)
    """Random, set with the row: the instance's ComfyUI token is an HMAC of it under the
    deployment secret (core.pool.launch), so the database never holds the token itself."""
    status_message: str | None = Field(default=None, max_length=500)
    health_reason: str | None = Field(default=None, max_length=500)
    models_pending: list[str] = Field(default_factory=list, sa_type=json_column())
    """Downloads (`folder/file`) its start script has still to fetch: a job needing one of
    them waits for an instance that has it (empty: every model is in place)."""
    cost_accrued_usd: Decimal = Field(default=Decimal(0), sa_type=Money)
    accrued_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    terminate_reason: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    ready_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    terminate_requested_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    terminated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    create_sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    """Committed just before each create call: a requested row without it was never sent
    (a crash between the row and the call), so no instance can exist under its label."""


class Lease(SQLModel, table=True):
    """A job's hold on an instance; at most one open lease per instance and per job."""

    __table_args__ = (
        sa.Index(
            "uq_lease_open_instance",
            "instance_id",
            unique=True,
            sqlite_where=sa.text("released_at IS NULL"),
            postgresql_where=sa.text("released_at IS NULL"),
        ),
        sa.Index(
            "uq_lease_open_job",
            "job_id",
            unique=True,
            sqlite_where=sa.text("released_at IS NULL"),
            postgresql_where=sa.text("released_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    instance_id: int = Field(foreign_key="gpuinstance.id")
    job_id: int = Field(foreign_key="generationjob.id")
    acquired_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)
    released_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    outcome: str | None = Field(default=None, max_length=32)


class UsageEvent(SQLModel, table=True):
    """Something the pool did or spent, for charts and cost reconciliation."""

    __table_args__ = (sa.Index("ix_usageevent_kind_at", "kind", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime, index=True)
    pool: str = Field(max_length=32)
    kind: str = Field(max_length=48)
    instance_id: int | None = Field(default=None, foreign_key="gpuinstance.id")
    job_id: int | None = Field(default=None, foreign_key="generationjob.id")
    cost_usd: Decimal = Field(default=Decimal(0), sa_type=Money)
    duration_s: float | None = None
    details: dict[str, Any] = Field(default_factory=dict, sa_type=json_column())


class BadMachine(SQLModel, table=True):
    """A provider machine that failed to boot; avoided until `until`."""

    pool: str = Field(primary_key=True, max_length=32)
    machine_id: str = Field(primary_key=True, max_length=64)
    reason: str = Field(max_length=200)
    until: datetime = Field(sa_type=UTCDateTime)


class BillCheck(SQLModel, table=True):
    """One instance's accrued cost on one UTC day beside what the provider billed for it.

    Written by the daily reconciliation (`core.pool.billing`), re-written when a day is
    checked again; a row with no `instance_id` is a charge under our label prefix that no row
    of ours claims (a leak, if its label is ours).
    """

    __table_args__ = (
        sa.UniqueConstraint("pool", "day", "provider_id", name="uq_billcheck_pool_day_provider"),
    )

    id: int | None = Field(default=None, primary_key=True)
    pool: str = Field(max_length=32)
    day: date = Field(index=True)
    provider_id: str = Field(max_length=64)
    instance_id: int | None = Field(default=None, foreign_key="gpuinstance.id")
    label: str | None = Field(default=None, max_length=128)
    accrued_usd: Decimal = Field(default=Decimal(0), sa_type=Money)
    billed_usd: Decimal = Field(default=Decimal(0), sa_type=Money)
    checked_at: datetime = Field(sa_type=UTCDateTime)


class PoolSpendDay(SQLModel, table=True):
    """One pool's spend on one UTC day as running sums, so budgets never sum history.

    `accrued_usd` grows with every accrual (`core.pool.costs.accrue`); once the day is checked
    against the provider's bill (`core.pool.billing.record_day`), `billed_usd` and the accrual
    that check compared it with are set, and budgets count the day at its billed figure.
    """

    pool: str = Field(primary_key=True, max_length=32)
    day: date = Field(primary_key=True)
    accrued_usd: Decimal = Field(default=Decimal(0), sa_type=Money)
    checked_accrued_usd: Decimal | None = Field(default=None, sa_type=Money)
    billed_usd: Decimal | None = Field(default=None, sa_type=Money)
