"""What a user asks the studio for: the request composed from the form, validated, and re-run.

With a muse, the form's text is a scene: `compose` turns it into the muse's prompts, adds the
muse's reference images when asked, and takes the muse's IP-Adapter weight.
"""

from __future__ import annotations

import base64
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from sqlmodel import Session

from core.accounts.inputs import require_int, require_plain
from core.comfy.presets import Presets
from core.comfy.tools import Tools, validate_tools, validate_video_tools
from core.comfy.workflows import offered_models
from core.errors import ValidationFailed
from core.gallery.taxonomy import normalize_tags
from core.models import GenerationJob, MediaKind
from core.muses import service as muses

MAX_BATCH = 8
MAX_SEED = 2**48  # what the form offers; ComfyUI's seeds are 64-bit
DEFAULT_REFERENCE_WEIGHT = 0.8


@dataclass(frozen=True)
class Written:
    """What the Studio form held before a muse composed it: the scene, the form's own negative
    prompt and uploaded references, and whether the muse's references were asked for. A job
    keeps it, so a remix puts the scene (not the composed prompt) back in the form."""

    prompt: str
    negative_prompt: str = ""
    reference_images: tuple[str, ...] = ()
    muse_references: bool = False

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict that `from_json` reads back."""
        return {**asdict(self), "reference_images": list(self.reference_images)}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Written | None:
        """What `to_json` wrote; None for a job composed without a muse (or before remix)."""
        if not data:
            return None
        return cls(
            prompt=str(data.get("prompt", "")),
            negative_prompt=str(data.get("negative_prompt", "")),
            reference_images=tuple(data.get("reference_images", ())),
            muse_references=bool(data.get("muse_references")),
        )


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
    reference_preset: str = ""
    """An IP-Adapter preset of the presets file ("" for its default)."""
    tools: Tools = field(default_factory=Tools)
    """The creative tools; `tools.source` is a media sha256 (the user's own picture or
    consented upload), `tools.mask` unused: the mask travels as `mask_png`."""
    mask_png: bytes | None = None
    """The inpaint mask as a single-channel PNG (white = repaint), from `core.studio.sources`."""
    category: str | None = None  # the gallery category and tags the outputs are filed under
    tags: tuple[str, ...] = ()
    written: Written | None = None
    """What the form held when a muse composed this request (None: the form is the request)."""
    variation_of: int | None = None
    """The job this one is a "more like this" variation of (its seed is a neighbour's)."""

    def __post_init__(self) -> None:
        # One image guides once: the same upload added twice is one reference, in order.
        object.__setattr__(self, "reference_images", tuple(dict.fromkeys(self.reference_images)))
        object.__setattr__(self, "tags", tuple(normalize_tags(self.tags)))
        category = normalize_tags([self.category or ""])
        object.__setattr__(self, "category", category[0] if category else None)


def compose(
    session: Session,
    form: StudioRequest,
    *,
    user_id: int,
    use_muse_references: bool = False,
    muse_reference_settings: bool = True,
) -> StudioRequest:
    """The request to submit for what the Studio form holds.

    Without a muse (or before a scene is written) that is the form itself. With one, the scene
    is composed with the muse (and variation) into the prompts and kept in `written`, the form's
    negative prompt follows the muse's, the muse's reference images join the uploaded ones
    when `use_muse_references`, and the muse's IP-Adapter weight and preset apply when
    `muse_reference_settings` (the Studio passes False: its own controls start from the
    muse's values and the user may change them). Raises the CoreError the page shows for a
    muse or variation the user cannot use.
    """
    if form.muse_id is None or not form.prompt.strip():
        return form
    composed = muses.prompt_for(
        session,
        owner_id=user_id,
        muse_id=form.muse_id,
        scene=form.prompt,
        variation_id=form.variation_id,
    )
    references = form.reference_images
    if use_muse_references:
        attached = muses.references(session, owner_id=user_id, muse_id=form.muse_id)
        references = (*references, *(ref.sha256 for ref in attached))
    ai = muses.profile_of(muses.get_muse(session, owner_id=user_id, muse_id=form.muse_id)).ai
    composed_form = replace(
        form,
        prompt=composed.positive,
        negative_prompt=", ".join(p for p in (composed.negative, form.negative_prompt) if p),
        reference_images=references,
        written=Written(
            prompt=form.prompt,
            negative_prompt=form.negative_prompt,
            reference_images=form.reference_images,
            muse_references=use_muse_references,
        ),
    )
    if not muse_reference_settings:
        return composed_form
    return replace(
        composed_form,
        reference_weight=ai.reference_weight,
        reference_preset=ai.reference_preset or form.reference_preset,
    )


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
        reference_preset=str(job.request.get("reference_preset") or ""),
        tools=Tools.from_json(job.request.get("tools")),
        mask_png=mask_of(job),
        category=job.request.get("category"),
        tags=tuple(job.request.get("tags", ())),
        written=Written.from_json(job.request.get("written")),
        variation_of=job.variation_of,
    )


def model_of(request: StudioRequest, presets: Presets) -> str:
    """The model file `request` runs on: the one it names, else the default of its kind
    (for an animated still, the image-to-video model)."""
    if request.model:
        return request.model
    offered = offered_models(presets, request.kind.value, request.tools.mode)
    if request.kind is MediaKind.VIDEO and request.tools.mode == "img2video" and offered:
        return offered[0]
    return presets.default_model(request.kind)


def scene_of(job: GenerationJob) -> str:
    """What the user wrote for `job`: a muse job's scene (not the prompt composed from it,
    so a remix composes the muse again), else its prompt."""
    written = Written.from_json(job.request.get("written"))
    return written.prompt if job.muse_id is not None and written is not None else job.prompt


def mask_of(job: GenerationJob) -> bytes | None:
    """The inpaint mask `job` was submitted with, if any."""
    encoded = job.request.get("mask_png")
    return base64.b64decode(encoded) if encoded else None


def graph_tools(request: StudioRequest) -> Tools:
    """The tools as the graph sees them: a mask is named when the request carries one."""
    return replace(request.tools, mask="mask.png" if request.mask_png else None)


def validate(request: StudioRequest, presets: Presets) -> None:
    """Refuse a malformed request with a message fit to show (before any policy or money):
    the prompt (not needed to upscale), batch, preset, model, references and every tool
    (a LoRA of another family, an unknown model, an oversized size, a missing mask...)."""
    require_plain(
        {"prompt": request.prompt, "negative prompt": request.negative_prompt}, multiline=True
    )
    upscaling = request.tools.mode == "upscale"
    if not upscaling and not request.prompt.strip():
        raise ValidationFailed("Write a prompt first.")
    if request.seed is not None:
        require_int(request.seed, field="seed", low=0, high=MAX_SEED)
    require_int(request.batch_size, field="batch size", low=1, high=MAX_BATCH)
    if not 1 <= request.batch_size <= MAX_BATCH:
        raise ValidationFailed(f"Batch size must be between 1 and {MAX_BATCH}.")
    presets.preset(request.preset, request.kind)  # raises ValidationFailed for an unknown one
    offered = offered_models(presets, request.kind.value, request.tools.mode)
    if request.model and request.model not in offered:
        raise ValidationFailed(f"Unknown model {request.model!r}.")
    if request.reference_images and request.kind is MediaKind.VIDEO:
        raise ValidationFailed("Reference images work with image generation only.")
    if request.kind is MediaKind.VIDEO:
        if request.mask_png:
            raise ValidationFailed("LoRAs, sizes and image tools work with image generation only.")
        validate_video_tools(request.tools)
        if not offered:
            raise ValidationFailed("Image-to-video is not offered here.")
        return
    if request.reference_images and upscaling:
        raise ValidationFailed("Reference images do not apply to an upscale.")
    presets.reference_preset(request.reference_preset)  # ValidationFailed for an unknown one
    validate_tools(
        graph_tools(request),
        checkpoint=request.model or presets.default_model(request.kind),
        catalogue=presets.catalogue,
    )
