"""Remix: a finished job, a gallery picture or a file's settings turned into what the Studio
form should hold, with what could not be carried over named; the user changes it and
generates. Pure but for the reads that check whose a picture is.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TypeVar

from sqlmodel import Session

from core.comfy.catalogue import check_size
from core.comfy.presets import Presets
from core.comfy.tools import MAX_CFG, MAX_LORA_WEIGHT, MAX_STEPS, SAMPLERS, SCHEDULERS, Lora, Tools
from core.errors import NotFound
from core.gallery.details import recipe_visible
from core.models import Asset, GenerationJob, MediaKind
from core.studio.compose import DEFAULT_REFERENCE_WEIGHT, MAX_SEED, StudioRequest, request_of
from core.studio.reader import ReadSettings

Number = TypeVar("Number", int, float)


@dataclass(frozen=True)
class Remix:
    """What the Studio form starts from: `request` as the form holds it (with a muse, its
    scene, not the composed prompt), whether the muse's references were used, and a phrase
    for each setting of the original that could not be loaded."""

    request: StudioRequest
    use_muse_references: bool = False
    left_out: tuple[str, ...] = ()


def of_job(job: GenerationJob) -> Remix:
    """The form that made the user's own `job`: every setting, seed, tool and source."""
    request = replace(request_of(job), variation_of=None, written=None)
    written = request_of(job).written
    if written is not None:
        form = replace(
            request,
            prompt=written.prompt,
            negative_prompt=written.negative_prompt,
            reference_images=written.reference_images,
        )
        return Remix(form, use_muse_references=written.muse_references)
    if request.muse_id is not None:  # composed before jobs kept the scene
        return Remix(
            replace(request, prompt="", reference_weight=DEFAULT_REFERENCE_WEIGHT),
            left_out=("the scene: this job kept only the prompt composed from it",),
        )
    return Remix(request)


def of_asset(session: Session, *, viewer_id: int, asset: Asset) -> Remix:
    """The form that made the (already visible) `asset`, for `viewer_id`.

    Its owner gets every setting (`of_job`). Anyone else only when the owner allowed it,
    and without what is the owner's alone: the muse (its composed prompt is loaded as the
    prompt), reference images, and the source picture and mask (the remix is text to image).
    NotFound for a picture not generated here or not shown to this viewer.
    """
    job = session.get(GenerationJob, asset.job_id) if asset.job_id is not None else None
    if job is None:
        raise NotFound("This picture was not generated here: there are no settings to remix.")
    if not recipe_visible(asset, viewer_id):
        raise NotFound("The owner of this picture keeps how it was made to themselves.")
    if asset.owner_id == viewer_id:
        return of_job(job)
    original = request_of(job)
    left_out = []
    if original.muse_id is not None:
        left_out.append("the owner's muse (its composed prompt is loaded)")
    if original.reference_images:
        left_out.append("the owner's reference images")
    tools = original.tools
    if tools.source is not None:
        left_out.append(f"the owner's source picture ({tools.mode} becomes text to image)")
        tools = replace(
            Tools(), width=tools.width, height=tools.height, loras=tools.loras, steps=tools.steps,
            cfg=tools.cfg, sampler_name=tools.sampler_name, scheduler=tools.scheduler,
            clip_skip=tools.clip_skip, hires=tools.hires, face_fix=tools.face_fix,
        )  # fmt: skip
    form = StudioRequest(
        prompt=original.prompt if tools.mode != "upscale" else "",
        negative_prompt=original.negative_prompt,
        model=original.model,
        preset=original.preset,
        kind=original.kind,
        seed=original.seed,
        batch_size=original.batch_size,
        nsfw=original.nsfw,
        tools=tools,
    )
    return Remix(form, left_out=tuple(left_out))


def of_file(read: ReadSettings, presets: Presets) -> Remix:
    """The image form a file's settings (`core.studio.reader`) give: what the studio
    supports is loaded, each other setting (and everything the reader could not map) named
    in `left_out`. Steps, CFG, sampler and scheduler override the quality preset."""
    left_out = list(read.unsupported)
    model = _model(read.model, presets)
    if read.model and model is None:
        left_out.append(f"model {read.model} (not installed here)")
    checkpoint = model or presets.default_model("image")
    seed = read.seed
    if seed is not None and seed > MAX_SEED:
        left_out.append(f"seed {seed} (the studio's seeds go up to {MAX_SEED})")
        seed = None
    tools = Tools(
        width=read.width,
        height=read.height,
        loras=_loras(read.loras, presets, checkpoint, left_out),
        steps=_within(read.steps, 1, MAX_STEPS, "steps", left_out),
        cfg=_within(read.cfg, 0.0, MAX_CFG, "CFG", left_out),
        sampler_name=_known(read.sampler, SAMPLERS, "sampler", left_out),
        scheduler=_known(read.scheduler, SCHEDULERS, "scheduler", left_out),
    )
    if read.width is not None and read.height is not None:
        try:
            check_size(read.width, read.height)
        except ValueError as exc:
            left_out.append(f"size {read.width}x{read.height} ({exc})")
            tools = replace(tools, width=None, height=None)
    if read.denoise is not None:
        left_out.append(
            f"denoising strength {read.denoise:g} (choose a source picture for image to image)"
        )
    form = StudioRequest(
        prompt=read.prompt,
        negative_prompt=read.negative_prompt,
        model=checkpoint,
        kind=MediaKind.IMAGE,
        seed=seed,
        tools=tools,
    )
    return Remix(form, left_out=tuple(left_out))


def _stem(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[0] if base.endswith((".safetensors", ".ckpt", ".pt")) else base


def _model(name: str | None, presets: Presets) -> str | None:
    """The installed checkpoint a file names (A1111 writes it without its extension)."""
    if not name:
        return None
    offered = presets.models("image")
    return next((m for m in offered if m == name or _stem(m) == _stem(name)), None)


def _loras(
    loras: tuple[tuple[str, float], ...], presets: Presets, checkpoint: str, left_out: list[str]
) -> tuple[Lora, ...]:
    offered = {_stem(lora.name): lora.name for lora in presets.catalogue.loras_for(checkpoint)}
    chosen: dict[str, Lora] = {}
    for name, weight in loras:
        found = offered.get(_stem(name))
        if found is None or abs(weight) > MAX_LORA_WEIGHT or found in chosen:
            left_out.append(f"LoRA {name} (not installed for this model, or repeated)")
            continue
        chosen[found] = Lora(found, weight)
    return tuple(chosen.values())


def _within(
    value: Number | None, low: Number, high: Number, what: str, left_out: list[str]
) -> Number | None:
    if value is None or low <= value <= high:
        return value
    left_out.append(f"{what} {value:g} (the studio allows {low:g} to {high:g})")
    return None


def _known(value: str | None, names: tuple[str, ...], what: str, left_out: list[str]) -> str | None:
    if value is None or value in names:
        return value
    left_out.append(f"{what} {value}")
    return None
