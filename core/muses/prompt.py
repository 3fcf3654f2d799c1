"""A muse and a scene, composed into the positive and negative prompt; pure.

Nothing is dropped: the graph encodes a long prompt in 75-token chunks
(`core.comfy.tokens.prompt_chunks`), so `compose` keeps every trait, identity first so the first
chunk carries who the person is. `studio_defaults` is what the muse's AI settings put into the
Studio form.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.comfy.catalogue import LoraInfo
from core.comfy.presets import Presets
from core.errors import ValidationFailed
from core.muses.schema import MuseProfile

ADULT_NEGATIVE = "child, teen, minor, young-looking, childlike, school uniform"


@dataclass(frozen=True)
class ComposedPrompt:
    """What the studio submits."""

    positive: str
    negative: str


@dataclass(frozen=True)
class StudioDefaults:
    """The muse's AI settings as Studio form values (None: leave the form's own value)."""

    model: str | None
    loras: tuple[tuple[LoraInfo, float], ...]
    """The muse's LoRAs that fit the model in effect, with their weights."""
    preset: str | None
    size: tuple[int, int] | None
    seed: int | None
    """A fixed seed, or None for a random one."""
    negative_prompt: str | None
    reference_weight: float
    reference_preset: str | None
    explicit: bool
    left_out: tuple[str, ...] = ()
    """Why a saved setting is not applied (a model or LoRA no longer offered, say)."""


def compose(
    profile: MuseProfile, scene: str, *, variation: Mapping[str, Any] | None = None
) -> ComposedPrompt:
    """The subject and the scene first, then every trait from most to least identifying.

    Every non-empty trait is kept, whatever the length (the encoder reads long prompts in
    chunks; the prompt's length limit is the screening's, which refuses with a message). A
    variation overrides `outfit`, `style`, `accessories` and `expression`, and its
    `scenario` follows the scene. Lingerie is described only for an explicit muse.
    Deterministic.
    """
    overrides = {k: str(v) for k, v in (variation or {}).items()}
    basic = profile.basic
    subject = " ".join(
        part for part in (f"{basic.age}-year-old adult", basic.ethnicity, basic.gender) if part
    )
    head = [f"portrait of {basic.name}, a {subject}", scene.strip(), overrides.get("scenario", "")]
    chosen = [p.strip() for p in head if p.strip()]
    chosen += [t.strip() for t in _traits(profile, overrides) if t.strip()]
    positive = ", ".join(dict.fromkeys(chosen))
    template = profile.ai.prompt_template
    if "{muse}" in template:
        muse_part = ", ".join(p for p in dict.fromkeys(chosen) if p != scene.strip())
        positive = template.replace("{muse}", muse_part).replace("{scene}", scene.strip())
    negative = ", ".join(p for p in (profile.ai.negative_prompt.strip(), ADULT_NEGATIVE) if p)
    return ComposedPrompt(positive, negative)


def studio_defaults(profile: MuseProfile, presets: Presets, *, model: str) -> StudioDefaults:
    """What choosing this muse sets in the Studio: its model (when still offered, else the
    form's `model` stays), the LoRAs that fit that model's family, quality, size, seed
    policy, negative prompt, IP-Adapter weight and preset, and mode. Each saved setting that
    cannot apply is named in `left_out`, never silently dropped."""
    ai = profile.ai
    offered = presets.models("image")
    left_out: list[str] = []
    if ai.model and ai.model not in offered:
        left_out.append(f"the model {ai.model!r} is no longer offered")
    chosen = ai.model if ai.model in offered else model
    loras: list[tuple[LoraInfo, float]] = []
    for lora in ai.loras:
        try:
            loras.append((presets.catalogue.lora(lora.name, checkpoint=chosen), lora.weight))
        except ValidationFailed as exc:
            left_out.append(str(exc).rstrip("."))
    reference_preset = ai.reference_preset or None
    if reference_preset is not None and reference_preset not in presets.reference_preset_names():
        left_out.append(f"the IP-Adapter preset {reference_preset!r} is no longer offered")
        reference_preset = None
    return StudioDefaults(
        model=ai.model if ai.model in offered else None,
        loras=tuple(loras),
        preset=ai.preset if ai.preset in presets.names("image") else None,
        size=(ai.width, ai.height) if ai.width and ai.height else None,
        seed=ai.seed,
        negative_prompt=ai.negative_prompt or None,
        reference_weight=ai.reference_weight,
        reference_preset=reference_preset,
        explicit=ai.nsfw,
        left_out=tuple(left_out),
    )


def _phrase(*parts: str, noun: str) -> str:
    """`parts` and `noun` as one phrase ("long wavy auburn hair"), or "" when all are empty."""
    words = [p for p in parts if p]
    return " ".join([*words, noun]) if words else ""


def _traits(profile: MuseProfile, overrides: Mapping[str, str]) -> list[str]:
    """Every described trait as a phrase, most identifying first (the order is the policy)."""
    face, body, skin, fashion = profile.face, profile.body, profile.skin, profile.fashion
    outfit = overrides.get("outfit", fashion.outfit)
    height = profile.basic.height_cm
    traits = [
        _phrase(profile.hair.length, profile.hair.texture, profile.hair.color, noun="hair"),
        profile.hair.style,
        _phrase(profile.eyes.size, profile.eyes.shape, profile.eyes.color, noun="eyes"),
        _phrase(face.shape, noun="face"),
        skin.marks,
        _phrase(face.jawline, noun="jawline"),
        _phrase(face.cheekbones, noun="cheekbones"),
        face.features,
        _phrase(skin.texture, skin.tone, noun="skin"),
        _phrase(body.body_type, noun="build"),
        _phrase(body.shape, noun="figure"),
        f"{height} cm tall" if height else "",
        f"wearing {outfit}" if outfit else "",
        overrides.get("expression", profile.personality.expression),
        _phrase(face.makeup, noun="makeup"),
        _phrase(profile.lips.description, noun="lips"),
        _phrase(profile.nose.description, noun="nose"),
        skin.details,
        body.details,
        body.measurements,
        profile.basic.occupation,
        overrides.get("style", fashion.style),
        overrides.get("accessories", fashion.accessories),
        fashion.footwear,
        _phrase(fashion.nails, noun="nails"),
        fashion.lingerie if profile.ai.nsfw else "",
        _phrase(", ".join(profile.personality.traits), noun="personality"),
        profile.basic.nationality,
    ]
    return traits
