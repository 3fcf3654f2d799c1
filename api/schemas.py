"""The API's request and response bodies (pydantic): what the OpenAPI document publishes."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    field_validator,
    model_validator,
)
from sqlmodel import SQLModel

from core.accounts.inputs import MAX_ROW_ID
from core.comfy import tools as comfy_tools
from core.comfy.catalogue import MAX_SIDE, MIN_SIDE
from core.comfy.tools import FaceFix, Hires, Lora, Tools
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
from core.studio.compose import MAX_BATCH, MAX_SEED, StudioRequest
from core.studio.progress import JobProgress
from core.studio.sources import MAX_MASK_BYTES

MAX_PROMPT_CHARS = 3000
MAX_ID = MAX_ROW_ID
"""Row ids are 32-bit integers on PostgreSQL: a larger one names nothing."""
RowId = Annotated[int, Path(ge=1, le=MAX_ID, description="A row id.")]


Side = Annotated[int, Field(ge=MIN_SIDE, le=MAX_SIDE, multiple_of=8)]
Mode = Literal["txt2img", "img2img", "inpaint", "upscale", "facefix", "img2video"]
VideoFormat = Literal["mp4", "webp"]
InpaintMethod = Literal["noise_mask", "vae_inpaint"]
LatentUpscaleMethod = Literal["nearest-exact", "bilinear", "area", "bicubic", "bislerp"]
MAX_MASK_BASE64 = (MAX_MASK_BYTES + 2) // 3 * 4


def _columns(row: SQLModel, body: type[BaseModel], **computed: Any) -> dict[str, Any]:
    """The fields of `body`, read from `row`'s attributes of the same names, with `computed`
    (the fields that are not a plain column) over them: a response copies each column once."""
    copied = {name: getattr(row, name) for name in body.model_fields if name not in computed}
    return copied | computed


class LoraIn(BaseModel):
    """A LoRA of the checkpoint's family (see the Models catalogue) at a weight."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    weight: float = Field(
        default=1.0,
        ge=-comfy_tools.MAX_LORA_WEIGHT,
        le=comfy_tools.MAX_LORA_WEIGHT,
        allow_inf_nan=False,
    )


class HiresIn(BaseModel):
    """A hires fix: enlarge the first pass by `scale` (in latent space, or with the upscale
    model `upscaler`), then a second pass of `steps` at `denoise`."""

    model_config = ConfigDict(extra="forbid")

    scale: float = Field(
        default=1.5, ge=comfy_tools.HIRES_SCALE[0], le=comfy_tools.HIRES_SCALE[1],
        allow_inf_nan=False,
    )  # fmt: skip
    denoise: float = Field(default=0.4, ge=0.05, le=1.0, allow_inf_nan=False)
    steps: int = Field(default=15, ge=1, le=comfy_tools.HIRES_MAX_STEPS)
    upscaler: str | None = Field(default=None, min_length=1, max_length=200)
    method: LatentUpscaleMethod = "nearest-exact"


class FaceFixIn(BaseModel):
    """A face fix: each face detected above `confidence` sampled again at `denoise` for
    `steps` (default: the preset's) and pasted back (the Impact Pack's FaceDetailer)."""

    model_config = ConfigDict(extra="forbid")

    denoise: float = Field(
        default=0.4, ge=comfy_tools.FACE_FIX_DENOISE[0], le=comfy_tools.FACE_FIX_DENOISE[1],
        allow_inf_nan=False,
    )  # fmt: skip
    confidence: float = Field(default=0.5, ge=0.05, le=1.0, allow_inf_nan=False)
    steps: int | None = Field(default=None, ge=1, le=comfy_tools.FACE_FIX_MAX_STEPS)


class ToolsIn(BaseModel):
    """The Studio's creative tools. img2img, inpaint, upscale and facefix (the face fix
    alone, with `face_fix`'s settings) work on `source_asset_id`,
    one of the token owner's own pictures (any mode); inpaint repaints where `mask_png` (a
    base64 PNG, JPEG or WebP of the picture's size, white or opaque = repaint) covers it.
    For `kind` video: mode txt2img (from the prompt) or img2video (animating
    `source_asset_id`), `length` (4n+1 frames), `fps` and `video_format` (H.264 MP4 or an
    animated WebP); the image tools stay at their defaults.
    Every value is checked as the Studio checks it, against ComfyUI's own lists and ranges."""

    model_config = ConfigDict(extra="forbid")

    mode: Mode = "txt2img"
    width: Side | None = None
    height: Side | None = None
    loras: list[LoraIn] = Field(default_factory=list, max_length=comfy_tools.MAX_LORAS)
    steps: int | None = Field(default=None, ge=1, le=comfy_tools.MAX_STEPS)
    cfg: float | None = Field(default=None, ge=0, le=comfy_tools.MAX_CFG, allow_inf_nan=False)
    sampler: str | None = Field(
        default=None, max_length=64, json_schema_extra={"enum": list(comfy_tools.SAMPLERS)}
    )
    scheduler: str | None = Field(
        default=None, max_length=64, json_schema_extra={"enum": list(comfy_tools.SCHEDULERS)}
    )
    clip_skip: int | None = Field(default=None, ge=1, le=24)
    source_asset_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    mask_png: str | None = Field(default=None, min_length=4, max_length=MAX_MASK_BASE64)
    denoise: float = Field(default=0.6, ge=0.05, le=1.0, allow_inf_nan=False)
    mask_grow: int = Field(default=6, ge=0, le=comfy_tools.MAX_GROW)
    mask_feather: int = Field(default=0, ge=0, le=comfy_tools.MAX_FEATHER)
    inpaint_method: InpaintMethod = "noise_mask"
    hires: HiresIn | None = None
    face_fix: FaceFixIn | None = None
    upscaler: str | None = Field(default=None, min_length=1, max_length=200)
    upscale_by: float | None = Field(default=None, ge=1.0, le=8.0, allow_inf_nan=False)
    length: StrictInt | None = Field(default=None, ge=5, le=comfy_tools.MAX_VIDEO_LENGTH)
    fps: float | None = Field(default=None, ge=1.0, le=60.0, allow_inf_nan=False)
    video_format: VideoFormat = "mp4"

    @field_validator("mask_png")
    @classmethod
    def _is_base64(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise ValueError("mask_png must be base64 (a PNG, JPEG or WebP)") from None
        return value

    @model_validator(mode="after")
    def _mask_is_for_inpaint(self) -> ToolsIn:
        if self.mask_png is not None and self.mode != "inpaint":
            raise ValueError("mask_png is for mode inpaint only")
        return self

    def mask_bytes(self) -> bytes | None:
        """The uploaded mask's bytes, if one was sent."""
        return base64.b64decode(self.mask_png) if self.mask_png else None

    def to_tools(self) -> Tools:
        """The core tools (without their source: the route looks the picture up)."""
        hires = self.hires
        return Tools(
            mode=self.mode,
            width=self.width,
            height=self.height,
            loras=tuple(Lora(lora.name, lora.weight) for lora in self.loras),
            steps=self.steps,
            cfg=self.cfg,
            sampler_name=self.sampler,
            scheduler=self.scheduler,
            clip_skip=self.clip_skip,
            denoise=self.denoise,
            mask_grow=self.mask_grow,
            mask_feather=self.mask_feather,
            inpaint_method=self.inpaint_method,
            hires=None
            if hires is None
            else Hires(hires.scale, hires.denoise, hires.steps, hires.upscaler, hires.method),
            face_fix=None
            if self.face_fix is None
            else FaceFix(self.face_fix.denoise, self.face_fix.confidence, self.face_fix.steps),
            upscaler=self.upscaler,
            upscale_by=self.upscale_by,
            length=self.length,
            fps=self.fps,
            video_format=self.video_format,
        )


class GenerateIn(BaseModel):
    """What to generate; the same fields, limits and policy as the Studio form. The prompt
    is needed except for a standalone upscale. Numbers and flags are strict: "2" or true is
    not a batch size, 1 is not a flag."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(default="", max_length=MAX_PROMPT_CHARS)
    negative_prompt: str = Field(default="", max_length=MAX_PROMPT_CHARS)
    model: str = Field(default="", max_length=200)
    preset: str = Field(default="medium", max_length=32)
    kind: MediaKind = MediaKind.IMAGE
    seed: StrictInt | None = Field(default=None, ge=0, le=MAX_SEED)
    batch_size: StrictInt = Field(default=1, ge=1, le=MAX_BATCH)
    muse_id: StrictInt | None = Field(default=None, ge=1, le=MAX_ID)
    variation_id: StrictInt | None = Field(default=None, ge=1, le=MAX_ID)
    explicit: StrictBool = False
    tools: ToolsIn | None = None

    def to_request(self) -> StudioRequest:
        """The core request these fields describe (a source picture not yet looked up)."""
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
            tools=self.tools.to_tools() if self.tools else Tools(),
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
        outlook = progress.outlook if progress else None
        return cls(
            **_columns(
                job,
                cls,
                id=job.id or 0,
                queue_position=progress.queue_position if progress else None,
                start_in_seconds=outlook.start_in_s if outlook else None,
            )
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
        average = round(asset.rating_sum / asset.rating_count, 2) if asset.rating_count else None
        return cls(
            **_columns(
                asset,
                cls,
                id=asset.id or 0,
                content_url=f"/v1/assets/{asset.id}/content",
                rating_average=average,
            )
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
        return cls(**_columns(entry, cls, id=entry.id or 0, kind=entry.kind.value))


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
