"""Fingerprints that find copies of a picture: exact bytes, canonical pixels, perceptual hash.

`canonical_png` is the one re-encoding every upload goes through (orientation applied,
metadata dropped, pixels only), so any upload of the same pixels has the same canonical
sha256. The perceptual hash (imagehash's 64-bit pHash) also matches copies re-saved as JPEG
or WebP, or resized: measured at 0-2 bits apart, unrelated pictures 26 bits or more (tests
and core.gallery.takedown). Flat pictures all hash alike, so they get none.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

import imagehash
from PIL import ExifTags, Image, ImageOps, ImageStat
from sqlmodel import Session, col, select

from core.models import BlockedHash

PHASH_MAX_DISTANCE = 10
MIN_DETAIL_STDDEV = 4.0


@dataclass(frozen=True)
class Fingerprint:
    """What identifies a picture's copies: both hashes, and the perceptual hash if any."""

    sha256: str
    canonical_sha256: str
    phash: str | None


def canonical_png(image: Image.Image) -> bytes:
    """The picture re-encoded as a PNG of its pixels only (first frame, upright)."""
    image.seek(0)
    # At most one working copy: an upright RGB(A) picture is saved as it is, not copied first.
    clean = image if _orientation(image) == 1 else ImageOps.exif_transpose(image)
    mode = "RGBA" if "A" in image.getbands() else "RGB"
    if clean.mode != mode:
        clean = clean.convert(mode)
    out = io.BytesIO()
    clean.save(out, format="PNG")  # no exif, no text chunks: only pixels survive
    return out.getvalue()


def _orientation(image: Image.Image) -> int:
    return int(image.getexif().get(ExifTags.Base.Orientation) or 1)


def upright_size(image: Image.Image) -> tuple[int, int]:
    """Width and height once the EXIF orientation is applied (no pixels are copied)."""
    width, height = image.size
    return (height, width) if _orientation(image) in (5, 6, 7, 8) else (width, height)


def perceptual_hash(image: Image.Image) -> str | None:
    """The pHash as 16 hex digits, or None for a picture with almost no detail."""
    image.seek(0)
    gray = image.convert("L")
    if ImageStat.Stat(gray).stddev[0] < MIN_DETAIL_STDDEV:
        return None
    return str(imagehash.phash(gray))


def of_image(data: bytes, image: Image.Image) -> Fingerprint:
    """The fingerprints of a decoded file (`image` is `data` opened)."""
    return Fingerprint(
        hashlib.sha256(data).hexdigest(),
        hashlib.sha256(canonical_png(image)).hexdigest(),
        perceptual_hash(image),
    )


def distance(a: str, b: str) -> int:
    """Bits that differ between two perceptual hashes."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


def is_blocked(session: Session, prints: Fingerprint) -> bool:
    """Whether a picture with these fingerprints is a copy of a taken-down one."""
    hashes = [prints.sha256, prints.canonical_sha256]
    exact = session.exec(select(BlockedHash.sha256).where(col(BlockedHash.sha256).in_(hashes)))
    if exact.first() is not None:
        return True
    if prints.phash is None:
        return False
    blocked = session.exec(select(BlockedHash.phash).where(col(BlockedHash.phash).is_not(None)))
    return any(
        distance(prints.phash, other) <= PHASH_MAX_DISTANCE for other in blocked.all() if other
    )
