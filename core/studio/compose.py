"""What a user asks the studio for: the request, its validation, and the request of a past job."""

from __future__ import annotations

from dataclasses import dataclass

from core.comfy.presets import Presets
from core.errors import ValidationFailed
from core.models import GenerationJob, MediaKind

MAX_BATCH = 8
DEFAULT_REFERENCE_WEIGHT = 0.8


@dataclass(frozen=True)
class StudioRequest:
    """What a user asks the studio for."""

    prompt: str
    negative_prompt: str = ""
    model: str = ""
    preset: str = "medium"
    kind: MediaKind = MediaKind.IMAGE
    seed: int | None = None
    batch_size: int = 1
    muse_id: int | None = None
    variation_id: int | None = None
    nsfw: bool = False
    reference_images: tuple[str, ...] = ()
    reference_weight: float = DEFAULT_REFERENCE_WEIGHT


def request_of(job: GenerationJob) -> StudioRequest:
    """The request that made `job`, seed included: submitting it again re-runs the job."""
    return StudioRequest(
        prompt=job.prompt,
        negative_prompt=job.negative_prompt,
        model=job.model,
        preset=job.preset,
        kind=job.kind,
        seed=job.seed,
        batch_size=job.batch_size,
        muse_id=job.muse_id,
        variation_id=job.variation_id,
        nsfw=bool(job.request.get("nsfw")),
        reference_images=tuple(job.request.get("reference_images", ())),
        reference_weight=float(job.request.get("reference_weight", DEFAULT_REFERENCE_WEIGHT)),
    )


def validate(request: StudioRequest, presets: Presets) -> None:
    """Refuse a malformed request with a message fit to show (before any policy or money)."""
    if not request.prompt.strip():
        raise ValidationFailed("Write a prompt first.")
    if not 1 <= request.batch_size <= MAX_BATCH:
        raise ValidationFailed(f"Batch size must be between 1 and {MAX_BATCH}.")
    presets.preset(request.preset, request.kind)  # raises ValidationFailed for an unknown one
    if request.model and request.model not in presets.models(request.kind):
        raise ValidationFailed(f"Unknown model {request.model!r}.")
    if request.reference_images and request.kind is MediaKind.VIDEO:
        raise ValidationFailed("Reference images work with image generation only.")
