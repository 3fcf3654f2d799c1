"""A muse and a scene, composed into the positive and negative prompt; pure.

Nothing is dropped: the text encoder reads a long prompt in 75-token chunks, so `compose`
keeps every trait (identity first, so the first chunk carries who the person is) and
`prompt_chunks` says how the text falls into chunks. `studio_defaults` is what the muse's AI
settings put into the Studio form.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.comfy.tokens import CLIP_WINDOW, estimate_clip_tokens
from core.muses.schema import MuseProfile

ADULT_NEGATIVE = "child, teen, minor, young-looking, childlike, school uniform"


@dataclass(frozen=True)
class ComposedPrompt:
    """What the studio submits."""

    positive: str
    negative: str


@dataclass(frozen=True)
class PromptChunk:
    """One encoder window of a prompt: its text and its estimated CLIP tokens."""

    text: str
    tokens: int


@dataclass(frozen=True)
class StudioDefaults:
    """The muse's AI settings as Studio form values (None: leave the form's own value)."""

    model: str | None
    preset: str
    seed: int | None
    """A fixed seed, or None for a random one."""
    negative_prompt: str | None
    reference_weight: float
    explicit: bool


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


def prompt_chunks(text: str, *, window: int = CLIP_WINDOW) -> tuple[PromptChunk, ...]:
    """`text` cut at its commas into chunks of at most `window` estimated CLIP tokens.

    A phrase is never split across chunks unless it alone is longer than a window (then it
    is cut between words). Joining the chunks' texts with ", " gives `text` back (up to
    spaces around commas), so a graph may encode each chunk and concatenate the
    conditionings without losing a word."""
    chunks: list[list[str]] = []
    for phrase in (p.strip() for p in text.split(",")):
        if not phrase:
            continue
        for piece in _word_pieces(phrase, window):
            if chunks and estimate_clip_tokens(", ".join([*chunks[-1], piece])) <= window:
                chunks[-1].append(piece)
            else:
                chunks.append([piece])
    joined = (", ".join(parts) for parts in chunks)
    return tuple(PromptChunk(part, estimate_clip_tokens(part)) for part in joined)


def _word_pieces(phrase: str, window: int) -> list[str]:
    """The phrase, or its words grouped into pieces of at most `window` tokens."""
    if estimate_clip_tokens(phrase) <= window:
        return [phrase]
    pieces: list[str] = []
    for word in phrase.split():
        if pieces and estimate_clip_tokens(f"{pieces[-1]} {word}") <= window:
            pieces[-1] = f"{pieces[-1]} {word}"
        else:
            pieces.append(word)
    return pieces


def studio_defaults(profile: MuseProfile, *, models: tuple[str, ...]) -> StudioDefaults:
    """What choosing this muse sets in the Studio: its model (when still offered), quality,
    seed policy, negative prompt, IP-Adapter weight and mode."""
    ai = profile.ai
    return StudioDefaults(
        model=ai.model if ai.model in models else None,
        preset=ai.preset,
        seed=ai.seed,
        negative_prompt=ai.negative_prompt or None,
        reference_weight=ai.reference_weight,
        explicit=ai.nsfw,
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
