"""How a picture was made, as the picture viewer shows it: model, preset, seed, settings and
prompts, for its owner and, when the owner allowed it, for other viewers."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from core.comfy.presets import Presets
from core.comfy.tools import Tools, tuned
from core.errors import ValidationFailed
from core.models import Asset, GenerationJob


@dataclass(frozen=True)
class MadeWith:
    """What a viewer may know of an asset's generation (a prompt can describe a private muse:
    others see it only when the owner let them)."""

    model: str
    preset: str
    seed: int
    settings: dict[str, str]
    prompt: str
    negative_prompt: str | None


def recipe_visible(asset: Asset, viewer_id: int | None) -> bool:
    """Whether `viewer_id` may see how the (already visible) `asset` was made and remix it:
    its owner always, anyone else only when the owner allowed it."""
    return (viewer_id is not None and viewer_id == asset.owner_id) or asset.recipe_public


def made_with(
    session: Session, *, viewer_id: int | None, asset: Asset, presets: Presets
) -> MadeWith | None:
    """How the (already visible) `asset` was generated, or None: for an upload, a picture
    whose job is gone, or a viewer the owner did not let see it (`recipe_visible`).
    Settings are the job's preset's as its tools changed them (steps, sampler, CFG, size,
    LoRAs, frames), empty if the preset was since removed from the file."""
    job = session.get(GenerationJob, asset.job_id) if asset.job_id is not None else None
    if job is None or not recipe_visible(asset, viewer_id):
        return None
    return MadeWith(
        model=job.model,
        preset=job.preset,
        seed=job.seed,
        settings=_settings(presets, job),
        prompt=job.prompt,
        negative_prompt=job.negative_prompt or None,
    )


def _settings(presets: Presets, job: GenerationJob) -> dict[str, str]:
    tools = Tools.from_json(job.request.get("tools"))
    try:
        preset = tuned(presets.preset(job.preset, job.kind.value), tools)
    except ValidationFailed:
        return {}
    settings = {
        "Steps": str(preset.steps),
        "Sampler": f"{preset.sampler_name} ({preset.scheduler})",
        "CFG scale": f"{preset.cfg:g}",
        "Size": f"{preset.width}×{preset.height}",
    }
    if tools.mode != "txt2img":
        settings["Tool"] = tools.mode
    if tools.loras:
        settings["LoRAs"] = ", ".join(f"{lora.name} ({lora.weight:g})" for lora in tools.loras)
    if preset.fps is not None:
        settings["Frames"] = f"{preset.length} at {preset.fps:g} fps"
    return settings
