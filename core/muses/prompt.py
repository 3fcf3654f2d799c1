"""A muse and a scene, composed into the positive and negative prompt; pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.muses.schema import MuseProfile

MAX_PROMPT = 3500
ADULT_NEGATIVE = "child, teen, minor, young-looking, childlike, school uniform"


@dataclass(frozen=True)
class ComposedPrompt:
    """What the studio submits."""

    positive: str
    negative: str


def compose(
    profile: MuseProfile, scene: str, *, variation: Mapping[str, Any] | None = None
) -> ComposedPrompt:
    """Subject, body, face, eyes, hair, lips, nose, skin, outfit, expression, then the scene.

    A variation overrides fashion fields (`outfit`, `style`, `accessories`) and `expression`.
    The same inputs always give the same prompt.
    """
    overrides = dict(variation or {})
    basic = profile.basic
    subject = " ".join(
        part for part in (f"{basic.age}-year-old adult", basic.ethnicity, basic.gender) if part
    )
    if basic.occupation:
        subject += f", {basic.occupation}"
    phrases = [
        f"portrait of {basic.name}, a {subject}",
        f"{profile.body.body_type} build" if profile.body.body_type else "",
        profile.body.details,
        f"{profile.face.shape} face" if profile.face.shape else "",
        profile.face.features,
        " ".join(p for p in (profile.eyes.color, profile.eyes.shape, "eyes") if p)
        if profile.eyes.color or profile.eyes.shape
        else "",
        " ".join(
            p for p in (profile.hair.length, profile.hair.color, profile.hair.style, "hair") if p
        )
        if profile.hair.color or profile.hair.style or profile.hair.length
        else "",
        f"{profile.lips.description} lips" if profile.lips.description else "",
        f"{profile.nose.description} nose" if profile.nose.description else "",
        f"{profile.skin.tone} skin" if profile.skin.tone else "",
        profile.skin.details,
        str(overrides.get("style", profile.fashion.style)),
        f"wearing {overrides.get('outfit', profile.fashion.outfit)}"
        if overrides.get("outfit", profile.fashion.outfit)
        else "",
        str(overrides.get("accessories", profile.fashion.accessories)),
        str(overrides.get("expression", profile.personality.expression)),
        scene.strip(),
    ]
    positive = ", ".join(dict.fromkeys(p.strip() for p in phrases if p and p.strip()))
    negative = ", ".join(p for p in (profile.ai.negative_prompt.strip(), ADULT_NEGATIVE) if p)
    return ComposedPrompt(positive[:MAX_PROMPT], negative)
