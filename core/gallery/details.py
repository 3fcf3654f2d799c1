"""How a picture was made, as the picture viewer shows it: model, preset, seed, settings, and
the prompt for its owner."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from core.comfy.presets import Presets
from core.errors import ValidationFailed
from core.models import Asset, GenerationJob


@dataclass(frozen=True)
class MadeWith:
    """What a viewer may know of an asset's generation; the prompts are None for anyone but
    the owner (a prompt can describe a private muse)."""

    model: str
    preset: str
    seed: int
    settings: dict[str, str]
    prompt: str | None
    negative_prompt: str | None


def made_with(
    session: Session, *, viewer_id: int | None, asset: Asset, presets: Presets
) -> MadeWith | None:
    """How the (already visible) `asset` was generated, or None for an upload or a picture
    whose job is gone. Settings are the job's preset's (steps, sampler, CFG, size, frames),
    empty if the preset was since removed from the file."""
    job = session.get(GenerationJob, asset.job_id) if asset.job_id is not None else None
    if job is None:
        return None
    owner = viewer_id is not None and viewer_id == asset.owner_id
    return MadeWith(
        model=job.model,
        preset=job.preset,
        seed=job.seed,
        settings=_settings(presets, job),
        prompt=job.prompt if owner else None,
        negative_prompt=(job.negative_prompt or None) if owner else None,
    )


def _settings(presets: Presets, job: GenerationJob) -> dict[str, str]:
    try:
        preset = presets.preset(job.preset, job.kind.value)
    except ValidationFailed:
        return {}
    settings = {
        "Steps": str(preset.steps),
        "Sampler": f"{preset.sampler_name} ({preset.scheduler})",
        "CFG scale": f"{preset.cfg:g}",
        "Size": f"{preset.width}×{preset.height}",
    }
    if preset.fps is not None:
        settings["Frames"] = f"{preset.length} at {preset.fps:g} fps"
    return settings
