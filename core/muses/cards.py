"""Muse cards: import and export as JSON or as a PNG carrying the JSON in a text chunk.

Untrusted input is bounded before it is parsed (size, nesting depth), validated strictly
(unknown fields, ages), and never names a file or URL: reference images do not travel in
cards. Any problem is a ValidationFailed with a message; nothing is written by this module.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, PngImagePlugin

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


@dataclass(frozen=True)
class CardData:
    """What a card carries."""

    profile: MuseProfile
    tags: list[str] = field(default_factory=list)
    variations: list[tuple[str, dict[str, str]]] = field(default_factory=list)


def export_json(card: CardData) -> bytes:
    """The versioned JSON envelope (no ids, no owner, no image files)."""
    envelope = {
        "format": FORMAT,
        "version": VERSION,
        "profile": card.profile.model_dump(),
        "tags": card.tags,
        "variations": [{"name": n, "overrides": o} for n, o in card.variations],
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
        if in_string:
            escaped = not escaped and char == "\\"
            if char == '"' and not escaped:
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


def _parse_envelope(text: str) -> CardData:
    if _depth(text) > MAX_DEPTH:
        raise ValidationFailed("The card is nested too deeply to be a muse card.")
    try:
        raw: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationFailed(f"The card is not valid JSON (line {exc.lineno}).") from exc
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise ValidationFailed("This is not an AI KINGS muse card.")
    if raw.get("version") != VERSION:
        raise ValidationFailed(f"Card version {raw.get('version')!r} is not supported.")
    unknown = set(raw) - {"format", "version", "profile", "tags", "variations"}
    if unknown:
        raise ValidationFailed(f"Unknown card fields: {', '.join(sorted(unknown))}.")
    profile = validate_profile(raw.get("profile") or {})
    tags = raw.get("tags") or []
    variations = raw.get("variations") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) and len(t) <= 32 for t in tags):
        raise ValidationFailed("Card tags must be a list of short strings.")
    if not isinstance(variations, list) or len(variations) > MAX_VARIATIONS:
        raise ValidationFailed(f"A card has at most {MAX_VARIATIONS} variations.")
    parsed = []
    for item in variations:
        name = item.get("name") if isinstance(item, dict) else None
        overrides = item.get("overrides") if isinstance(item, dict) else None
        if not isinstance(name, str) or not 1 <= len(name) <= 80 or not isinstance(overrides, dict):
            raise ValidationFailed("Each variation needs a name and overrides.")
        if not all(isinstance(v, str) and len(v) <= 400 for v in overrides.values()):
            raise ValidationFailed("Variation overrides must be short text.")
        parsed.append((name, {str(k): v for k, v in overrides.items()}))
    return CardData(profile, tags[:20], parsed)
