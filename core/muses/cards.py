"""Muse cards: import and export as JSON or as a PNG carrying the JSON in a text chunk.

Untrusted input is bounded before it is parsed (size, nesting depth), then read by a strict
pydantic envelope (`CardEnvelope`: no repeated keys, no unknown fields, no coerced types such
as `version: true` or a profile that is a list) and the strict profile (adults only). A card
never names a file or URL: reference images do not travel in cards. Any problem is a
ValidationFailed with a message; nothing is written by this module. Look-book references travel
by sha256 only (no bytes, no path): an import re-pins those the importer owns as generated
pictures.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from PIL import Image, PngImagePlugin
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError

from core.accounts.inputs import require_plain
from core.errors import ValidationFailed
from core.gallery import store
from core.muses.schema import MuseProfile, validate_profile

FORMAT = "aikings.muse"
VERSION = 1
CHUNK = "aikings_muse"
MAX_JSON_BYTES = 1024 * 1024
MAX_PNG_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 8
MAX_CARD_PIXELS = 16_000_000
MAX_VARIATIONS = 50
MAX_TAGS = 20
MAX_REFERENCES = 8
SHA256 = "^[0-9a-f]{64}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class CardVariation(_Strict):
    """A variation as a card carries it: a name and its overrides (short text each)."""

    name: Annotated[str, Field(min_length=1, max_length=80)]
    overrides: dict[str, Annotated[str, Field(max_length=400)]]


class CardEnvelope(_Strict):
    """The JSON of a muse card, as we accept it: every field its exact type, nothing else."""

    format: Literal["aikings.muse"]
    version: StrictInt
    profile: dict[str, Any] = Field(default_factory=dict)
    tags: list[Annotated[str, Field(max_length=32)]] = Field(default_factory=list)
    variations: list[CardVariation] = Field(default_factory=list, max_length=MAX_VARIATIONS)
    references: list[Annotated[str, Field(pattern=SHA256)]] = Field(
        default_factory=list, max_length=MAX_REFERENCES
    )


@dataclass(frozen=True)
class CardData:
    """What a card carries."""

    profile: MuseProfile
    tags: list[str] = field(default_factory=list)
    variations: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    """The look-book's pictures by sha256."""


def export_json(card: CardData) -> bytes:
    """The versioned JSON envelope (no ids, no owner, no image files)."""
    envelope = {
        "format": FORMAT,
        "version": VERSION,
        "profile": card.profile.model_dump(),
        "tags": card.tags,
        "variations": [{"name": n, "overrides": o} for n, o in card.variations],
        "references": card.references,
    }
    return json.dumps(envelope, indent=2, ensure_ascii=False).encode()


def export_png(card: CardData, portrait: bytes | None = None) -> bytes:
    """A PNG (the portrait, or a plain placeholder) with the JSON card in an iTXt chunk."""
    if portrait is not None:
        image = Image.open(io.BytesIO(portrait), formats=["PNG", "JPEG", "WEBP"]).convert("RGB")
    else:
        image = Image.new("RGB", (256, 256), (42, 16, 64))
    info = PngImagePlugin.PngInfo()
    info.add_itxt(CHUNK, export_json(card).decode())
    out = io.BytesIO()
    image.save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def parse_card(data: bytes, filename: str) -> CardData:
    """A card from JSON or PNG bytes; ValidationFailed with a clear message otherwise."""
    if not data:
        raise ValidationFailed("The file is empty.")
    if data.startswith(b"\x89PNG"):
        text = _png_text(data)
    else:
        if len(data) > MAX_JSON_BYTES:
            raise ValidationFailed("The card is larger than 1 MB.")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValidationFailed(f"{filename} is neither a JSON card nor a PNG card.") from exc
    return _parse_envelope(text)


def _png_text(data: bytes) -> str:
    """The card text of a PNG, opened with the upload checks (size, pixel cap, bombs)."""
    if len(data) > MAX_PNG_BYTES:
        raise ValidationFailed("The card image is larger than 8 MB.")
    try:
        image = store.open_image(data, max_bytes=MAX_PNG_BYTES, max_pixels=MAX_CARD_PIXELS)
    except ValidationFailed as exc:
        raise ValidationFailed(f"The PNG card cannot be opened: {exc}") from None
    if image.format != "PNG":
        raise ValidationFailed("The PNG card cannot be opened: it is not a PNG.")
    text = getattr(image, "text", {}).get(CHUNK)
    if not text:
        raise ValidationFailed("This PNG carries no AI KINGS muse card.")
    if len(text) > MAX_JSON_BYTES:
        raise ValidationFailed("The card is larger than 1 MB.")
    return str(text)


def _depth(text: str) -> int:
    deepest = level = 0
    in_string = escaped = False
    for char in text:
        if in_string:  # the character after a backslash is text, whatever it is
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            continue
        if char == '"':
            in_string = True
        elif char in "[{":
            level += 1
            deepest = max(deepest, level)
        elif char in "]}":
            level -= 1
    return deepest


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object's fields; a field given twice is refused (json keeps the last silently)."""
    fields: dict[str, Any] = {}
    for key, value in pairs:
        if key in fields:
            raise ValidationFailed(f"The card gives the field {key!r} twice.")
        fields[key] = value
    return fields


def _problem(exc: ValidationError, raw: Any) -> str:
    """The message for the envelope's first problem, in the order a reader would check."""
    errors = exc.errors()
    fields = {str(error["loc"][0]) if error["loc"] else "" for error in errors}
    if fields & {"", "format"}:
        return "This is not an AI KINGS muse card."
    if "version" in fields:
        return f"Card version {raw.get('version')!r} is not supported."
    extras = [error["loc"] for error in errors if error["type"] == "extra_forbidden"]
    if unknown := sorted(str(loc[0]) for loc in extras if len(loc) == 1):
        return f"Unknown card fields: {', '.join(unknown)}."
    if unknown := sorted(str(loc[-1]) for loc in extras if loc[0] == "variations"):
        return f"Unknown variation fields: {', '.join(unknown)}."
    where = errors[0]["loc"]
    if where[0] == "profile":
        return "The card's profile must be an object of fields."
    if where[0] == "tags":
        return "Card tags must be a list of short strings."
    if where[0] == "references":
        return f"Card references must be at most {MAX_REFERENCES} sha256 hashes."
    if len(where) == 1:
        return f"A card has at most {MAX_VARIATIONS} variations."
    if len(where) >= 4:  # variations, index, "overrides", key
        return "Variation overrides must be short text."
    return "Each variation needs a name and overrides."


def _parse_envelope(text: str) -> CardData:
    if _depth(text) > MAX_DEPTH:
        raise ValidationFailed("The card is nested too deeply to be a muse card.")
    try:
        raw: Any = json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise ValidationFailed(f"The card is not valid JSON (line {exc.lineno}).") from exc
    except ValueError:  # a number of more than 4300 digits: Python refuses to convert it
        raise ValidationFailed("The card holds a number too long to be one.") from None
    try:
        envelope = CardEnvelope.model_validate(raw)
    except ValidationError as exc:
        raise ValidationFailed(_problem(exc, raw)) from None
    if envelope.version != VERSION:
        raise ValidationFailed(f"Card version {envelope.version!r} is not supported.")
    require_plain({f"tag {n + 1}": tag for n, tag in enumerate(envelope.tags)})
    for n, variation in enumerate(envelope.variations):
        for text in (variation.name, *variation.overrides.values()):
            require_plain({f"variation {n + 1}": text})
    return CardData(
        validate_profile(envelope.profile),
        envelope.tags[:MAX_TAGS],
        [(variation.name, variation.overrides) for variation in envelope.variations],
        envelope.references,
    )
