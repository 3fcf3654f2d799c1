"""Generation jobs: what a user asked for, where it ran, what it cost."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from core.models.enums import JobStatus, MediaKind
from core.models.types import Money, UTCDateTime, json_column, text_enum, utcnow


class GenerationJob(SQLModel, table=True):
    """One generation request and its progress; the page polls this row."""

    __table_args__ = (
        sa.Index("ix_job_status_created", "status", "created_at"),
        sa.Index("ix_job_user_created", "user_id", "created_at"),
        # The adaptive pool policy reads recent submission times across all users.
        sa.Index("ix_job_created", "created_at"),
        # A repeated submit (double-click, retried request) finds the user's first job.
        sa.Index("ux_job_user_idempotency", "user_id", "idempotency_key", unique=True),
        # Estimates: the newest successes of one preset, model and kind (median_duration_s).
        sa.Index("ix_job_estimate", "status", "preset", "model", "kind", "finished_at"),
        # The fair queue counts queued users' jobs in flight; a user's history by newest id.
        sa.Index("ix_job_status_user", "status", "user_id"),
        sa.Index("ix_job_user_id", "user_id", "id"),
        # A worker process renews the heartbeat of the jobs it runs.
        sa.Index("ix_job_worker_status", "worker_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id")
    muse_id: int | None = Field(default=None, foreign_key="muse.id", index=True)
    variation_id: int | None = Field(default=None, foreign_key="musevariation.id")
    variation_of: int | None = Field(default=None, foreign_key="generationjob.id", index=True)
    """The job this one is a "more like this" variation of; its siblings share it."""
    status: JobStatus = Field(default=JobStatus.QUEUED, sa_type=text_enum(JobStatus))
    kind: MediaKind = Field(default=MediaKind.IMAGE, sa_type=text_enum(MediaKind))
    prompt: str = Field(sa_type=sa.Text)
    negative_prompt: str = Field(default="", sa_type=sa.Text)
    model: str = Field(max_length=200)
    preset: str = Field(max_length=32)
    seed: int = Field(sa_type=sa.BigInteger)
    batch_size: int = 1
    request: dict[str, Any] = Field(default_factory=dict, sa_type=json_column())
    instance_id: int | None = Field(default=None, foreign_key="gpuinstance.id", index=True)
    comfy_prompt_id: str | None = Field(default=None, max_length=64)
    step: int = 0
    total_steps: int = 0
    preview: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    """The sampler's latest preview frame while the job runs; cleared when it ends."""
    preview_mime: str | None = Field(default=None, max_length=32)
    attempts: int = 0
    idempotency_key: str | None = Field(default=None, max_length=64)
    """Chosen by the submitting form, once per intent: a second submit with it is the same job."""
    error: str | None = Field(default=None, max_length=2000)
    # Why a job that had started is back in the queue, in words the user reads (None otherwise).
    requeue_note: str | None = Field(default=None, max_length=500)
    cancel_requested_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    """When the user asked to stop the job after it had left the queue: its worker interrupts
    the run, charges the GPU time used and refunds the rest."""
    worker_id: str | None = Field(default=None, max_length=120)
    """The worker process (`host:pid`) that claimed the job; None when the leader's own
    dispatcher did (SQLite, or PostgreSQL without worker processes)."""
    heartbeat_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    """When the job's worker process last said it still runs it; stale -> the leader recovers it."""
    estimated_credits: int = 0
    charged_credits: int | None = None
    cost_usd: Decimal | None = Field(default=None, sa_type=Money)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
