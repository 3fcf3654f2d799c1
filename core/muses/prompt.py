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
    overrides `outfit`, `style`, `accessories` and `expression`, and its `scenario` follows the
    scene. Lingerie is described only for an explicit muse. Deterministic.
    """
    overrides = {k: str(v) for k, v in (variation or {}).items()}
    basic = profile.basic
    subject = " ".join(
        part for part in (f"{basic.age}-year-old adult", basic.ethnicity, basic.gender) if part
    )
    head = [f"portrait of {basic.name}, a {subject}", scene.strip(), overrides.get("scenario", "")]
    chosen = [p.strip() for p in head if p.strip()]
    for trait in dict.fromkeys(t.strip() for t in _traits(profile, overrides) if t.strip()):
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
        _phrase(", ".join(profile.personality.traits[:3]), noun="personality"),
        profile.basic.nationality,
    ]
    return traits
