"""The API's request and response bodies (pydantic): what the OpenAPI document publishes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from core.models import Asset, CreditEntry, GenerationJob, JobStatus, MediaKind, Muse
from core.studio.compose import MAX_BATCH, MAX_SEED, StudioRequest
from core.studio.progress import JobProgress

MAX_PROMPT_CHARS = 3000
MAX_ID = 2**31 - 1
"""Row ids are 32-bit integers on PostgreSQL: a larger one names nothing."""
RowId = Annotated[int, Path(ge=1, le=MAX_ID, description="A row id.")]


class GenerateIn(BaseModel):
    """What to generate; the same fields, limits and policy as the Studio form.

    Numbers and flags are strict: "2" or true is not a batch size, 1 is not a flag."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS)
    negative_prompt: str = Field(default="", max_length=MAX_PROMPT_CHARS)
    model: str = Field(default="", max_length=200)
    preset: str = Field(default="medium", max_length=32)
    kind: MediaKind = MediaKind.IMAGE
    seed: StrictInt | None = Field(default=None, ge=0, le=MAX_SEED)
    batch_size: StrictInt = Field(default=1, ge=1, le=MAX_BATCH)
    muse_id: StrictInt | None = Field(default=None, ge=1, le=MAX_ID)
    variation_id: StrictInt | None = Field(default=None, ge=1, le=MAX_ID)
    explicit: StrictBool = False

    def to_request(self) -> StudioRequest:
        """The core request these fields describe."""
        return StudioRequest(
            prompt=self.prompt,
            negative_prompt=self.negative_prompt,
            model=self.model,
            preset=self.preset,
            kind=self.kind,
            seed=self.seed,
            batch_size=self.batch_size,
            muse_id=self.muse_id,
            variation_id=self.variation_id,
            nsfw=self.explicit,
        )


class EstimateOut(BaseModel):
    """What a request should cost and how long it should take."""

    credits: int
    credits_held: int
    gpu_seconds: float
    wait_seconds: float | None
    """Until the result (null in safe mode: no GPU will be rented)."""
    meets: str
    """What the job meets now: warm, booting, cold, queued or safe_mode."""
    reason: str


class JobOut(BaseModel):
    """A job as its owner sees it."""

    id: int
    status: JobStatus
    kind: MediaKind
    prompt: str
    model: str
    preset: str
    seed: int
    batch_size: int
    step: int
    total_steps: int
    queue_position: int | None = None
    start_in_seconds: float | None = None
    estimated_credits: int
    charged_credits: int | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, job: GenerationJob, progress: JobProgress | None = None) -> JobOut:
        """The body for `job`, with its queue place and boot wait when `progress` is given."""
        return cls(
            id=job.id or 0,
            status=job.status,
            kind=job.kind,
            prompt=job.prompt,
            model=job.model,
            preset=job.preset,
            seed=job.seed,
            batch_size=job.batch_size,
            step=job.step,
            total_steps=job.total_steps,
            queue_position=progress.queue_position if progress else None,
            start_in_seconds=progress.outlook.start_in_s if progress and progress.outlook else None,
            estimated_credits=job.estimated_credits,
            charged_credits=job.charged_credits,
            error=job.error,
            created_at=job.created_at,
            finished_at=job.finished_at,
        )


class AssetOut(BaseModel):
    """A stored picture or clip; `content_url` downloads it with the same token."""

    id: int
    kind: MediaKind
    mime: str
    width: int
    height: int
    size_bytes: int
    title: str
    job_id: int | None
    created_at: datetime
    content_url: str

    @classmethod
    def of(cls, asset: Asset) -> AssetOut:
        """The body for `asset`."""
        return cls(
            id=asset.id or 0,
            kind=asset.kind,
            mime=asset.mime,
            width=asset.width,
            height=asset.height,
            size_bytes=asset.size_bytes,
            title=asset.title,
            job_id=asset.job_id,
            created_at=asset.created_at,
            content_url=f"/v1/assets/{asset.id}/content",
        )


class AccountOut(BaseModel):
    """The token owner's account."""

    username: str
    display_name: str
    role: str
    balance: int
    scopes: list[str]


class LedgerLineOut(BaseModel):
    """One line of the credit ledger."""

    id: int
    kind: str
    credits: int
    job_id: int | None
    note: str
    created_at: datetime

    @classmethod
    def of(cls, entry: CreditEntry) -> LedgerLineOut:
        """The body for `entry`."""
        return cls(
            id=entry.id or 0,
            kind=entry.kind.value,
            credits=entry.credits,
            job_id=entry.job_id,
            note=entry.note,
            created_at=entry.created_at,
        )


class MuseOut(BaseModel):
    """A muse in a list."""

    id: int
    name: str
    tags: list[str]
    explicit: bool

    @classmethod
    def of(cls, muse: Muse) -> MuseOut:
        """The body for `muse`."""
        return cls(id=muse.id or 0, name=muse.name, tags=list(muse.tags), explicit=muse.nsfw)


class ErrorOut(BaseModel):
    """Every refusal: a message for a person, and an id to quote for a server error."""

    error: str
    error_id: str | None = None


class CancelOut(BaseModel):
    """Whether the job was cancelled (and refunded), or was too far along."""

    cancelled: bool


class GalleryPageOut(BaseModel):
    """One page of the public gallery and the cursor of the next (null at the end)."""

    items: list[AssetOut]
    next_cursor: str | None
