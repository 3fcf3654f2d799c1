"""The API's request and response bodies (pydantic): what the OpenAPI document publishes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field

from core.models import (
    Asset,
    CreditEntry,
    GenerationJob,
    JobStatus,
    MediaKind,
    Muse,
    MuseVariation,
    Visibility,
)
from core.muses import cards
from core.muses.schema import MuseProfile
from core.studio.compose import MAX_BATCH, StudioRequest
from core.studio.progress import JobProgress

MAX_PROMPT_CHARS = 3000
MAX_SEED = 2**63 - 1
MAX_ID = 2**31 - 1
"""Row ids are 32-bit integers on PostgreSQL: a larger one names nothing."""
RowId = Annotated[int, Path(ge=1, le=MAX_ID, description="A row id.")]


class GenerateIn(BaseModel):
    """What to generate; the same fields, limits and policy as the Studio form."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS)
    negative_prompt: str = Field(default="", max_length=MAX_PROMPT_CHARS)
    model: str = Field(default="", max_length=200)
    preset: str = Field(default="medium", max_length=32)
    kind: MediaKind = MediaKind.IMAGE
    seed: int | None = Field(default=None, ge=0, le=MAX_SEED)
    batch_size: int = Field(default=1, ge=1, le=MAX_BATCH)
    muse_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    variation_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    explicit: bool = False

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
    visibility: Visibility
    rating_count: int
    rating_average: float | None
    """Mean stars (null before the first rating)."""

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
            visibility=asset.visibility,
            rating_count=asset.rating_count,
            rating_average=round(asset.rating_sum / asset.rating_count, 2)
            if asset.rating_count
            else None,
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


Tag = Annotated[str, Field(max_length=32)]


class MuseIn(BaseModel):
    """A muse to create or the whole of its new state: the `profile` and `tags` an exported
    card carries (`GET /v1/muses/{muse_id}` shows the profile's fields).

    The profile is checked by the Muses page's own rules: every field its type and limit,
    unknown fields refused, 18 or older, and every text screened; a refusal is 422 and is
    audited."""

    model_config = ConfigDict(extra="forbid")

    profile: dict[str, Any] = Field(
        description="The muse profile: sections basic (name and age required), body, face, "
        "eyes, hair, lips, nose, skin, fashion, personality, ai, and notes."
    )
    tags: list[Tag] = Field(default_factory=list, max_length=cards.MAX_TAGS)


class VariationOut(BaseModel):
    """An outfit or scenario override of a muse."""

    id: int
    name: str
    overrides: dict[str, str]

    @classmethod
    def of(cls, variation: MuseVariation) -> VariationOut:
        """The body for `variation`."""
        return cls(id=variation.id or 0, name=variation.name, overrides=dict(variation.overrides))


class MuseDetailOut(MuseOut):
    """A muse with its whole profile and its variations."""

    profile: MuseProfile
    variations: list[VariationOut]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def full(
        cls, muse: Muse, profile: MuseProfile, variations: list[MuseVariation]
    ) -> MuseDetailOut:
        """The body for `muse` with its validated `profile` and `variations`."""
        return cls(
            **MuseOut.of(muse).model_dump(),
            profile=profile,
            variations=[VariationOut.of(v) for v in variations],
            created_at=muse.created_at,
            updated_at=muse.updated_at,
        )


class RatingIn(BaseModel):
    """A star rating of a picture."""

    model_config = ConfigDict(extra="forbid")

    stars: int = Field(ge=1, le=5)


class ShareOut(BaseModel):
    """A new share link: `url` opens the picture for anyone holding it, until revoked.

    `token` is the link's value, shown once (only its hash is kept)."""

    token: str
    url: str
    """The web app's share page for this link, under its public address (`PUBLIC_BASE_URL`)."""


class RevokedOut(BaseModel):
    """How many share links were revoked."""

    revoked: int


class ErrorOut(BaseModel):
    """Every refusal: a message for a person, and an id to quote for a server error."""

    error: str
    error_id: str | None = None


class CancelOut(BaseModel):
    """What cancelling did: `cancelled` (it was queued: ended and refunded now), `stopping`
    (it had started: it is interrupted, the GPU time used is charged and the rest refunded;
    follow the job for its end) or `too_late` (it had already ended)."""

    outcome: Literal["cancelled", "stopping", "too_late"]
    cancelled: bool
    """True when the job ended now (queued): kept for clients that read only this."""


class GalleryPageOut(BaseModel):
    """One page of the public gallery and the cursor of the next (null at the end)."""

    items: list[AssetOut]
    next_cursor: str | None
