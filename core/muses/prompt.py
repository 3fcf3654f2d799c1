"""A muse and a scene, composed into the positive and negative prompt; pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.comfy.tokens import CLIP_WINDOW, estimate_clip_tokens
from core.muses.schema import MuseProfile

MAX_PROMPT = 3500
ADULT_NEGATIVE = "child, teen, minor, young-looking, childlike, school uniform"


@dataclass(frozen=True)
class ComposedPrompt:
    """What the studio submits."""

    positive: str
    negative: str


def compose(
    profile: MuseProfile,
    scene: str,
    *,
    variation: Mapping[str, Any] | None = None,
    token_budget: int = CLIP_WINDOW,
) -> ComposedPrompt:
    """The subject and the scene first, then the traits from most to least identifying.

    Traits are added while the prompt fits `token_budget` CLIP tokens, so what the encoder
    would cut off is the least identifying detail, never the person or the scene. A variation
    overrides `outfit`, `style`, `accessories` and `expression`. Deterministic.
    """
    overrides = dict(variation or {})
    basic = profile.basic
    subject = " ".join(
        part for part in (f"{basic.age}-year-old adult", basic.ethnicity, basic.gender) if part
    )
    head = [f"portrait of {basic.name}, a {subject}", scene.strip()]
    outfit = str(overrides.get("outfit", profile.fashion.outfit))
    hair = (profile.hair.length, profile.hair.color, profile.hair.style)
    eyes = (profile.eyes.color, profile.eyes.shape)
    traits = [  # most identifying first
        " ".join([*(p for p in hair if p), "hair"]) if any(hair) else "",
        " ".join([*(p for p in eyes if p), "eyes"]) if any(eyes) else "",
        f"{profile.face.shape} face" if profile.face.shape else "",
        f"{profile.face.jawline} jawline" if profile.face.jawline else "",
        f"{profile.face.cheekbones} cheekbones" if profile.face.cheekbones else "",
        profile.face.features,
        f"{profile.face.makeup} makeup" if profile.face.makeup else "",
        f"{profile.skin.tone} skin" if profile.skin.tone else "",
        f"{profile.body.body_type} build" if profile.body.body_type else "",
        f"{profile.body.shape} figure" if profile.body.shape else "",
        f"wearing {outfit}" if outfit else "",
        str(overrides.get("expression", profile.personality.expression)),
        profile.skin.details,
        profile.body.details,
        f"{profile.lips.description} lips" if profile.lips.description else "",
        f"{profile.nose.description} nose" if profile.nose.description else "",
        basic.occupation,
        str(overrides.get("style", profile.fashion.style)),
        str(overrides.get("accessories", profile.fashion.accessories)),
        profile.fashion.footwear,
        f"{profile.fashion.nails} nails" if profile.fashion.nails else "",
        profile.basic.nationality,
    ]
    chosen = [p.strip() for p in head if p.strip()]
    for trait in dict.fromkeys(t.strip() for t in traits if t and t.strip()):
        if estimate_clip_tokens(", ".join([*chosen, trait])) > token_budget:
            continue
        chosen.append(trait)
    positive = ", ".join(dict.fromkeys(chosen))
    template = profile.ai.prompt_template
    if "{muse}" in template:
        muse_part = ", ".join(p for p in dict.fromkeys(chosen) if p != scene.strip())
        positive = template.replace("{muse}", muse_part).replace("{scene}", scene.strip())
    negative = ", ".join(p for p in (profile.ai.negative_prompt.strip(), ADULT_NEGATIVE) if p)
    return ComposedPrompt(positive[:MAX_PROMPT], negative)
