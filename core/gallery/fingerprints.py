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
import struct
from dataclasses import dataclass

import imagehash
import sqlalchemy as sa
from PIL import ExifTags, Image, ImageStat
from sqlmodel import Session, col, select

from core.models import BlockedHash
from core.models.gallery import PHASH_BAND_BITS, PHASH_BANDS, phash_bands

PHASH_MAX_DISTANCE = 10
MIN_DETAIL_STDDEV = 4.0
_TRANSPOSES = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
"""What each EXIF orientation needs to stand upright (as Pillow's own exif_transpose)."""


@dataclass(frozen=True)
class Fingerprint:
    """What identifies a picture's copies: both hashes, and the perceptual hash if any."""

    sha256: str
    canonical_sha256: str
    phash: str | None


def upright(image: Image.Image) -> Image.Image:
    """The pixels both fingerprints are taken of: first frame, orientation applied, RGB(A)."""
    image.seek(0)
    # At most one working copy: an upright RGB(A) picture is used as it is, not copied first.
    # Turned here, not by ImageOps.exif_transpose: that writes the EXIF back, which raises
    # for a tag of the wrong type, and only the pixels are kept anyway.
    orientation = _orientation(image)
    clean = image if orientation == 1 else image.transpose(_TRANSPOSES[orientation])
    mode = "RGBA" if "A" in image.getbands() else "RGB"
    return clean if clean.mode == mode else clean.convert(mode)


def canonical_png(image: Image.Image) -> bytes:
    """The picture re-encoded as a PNG of its pixels only (first frame, upright)."""
    out = io.BytesIO()
    upright(image).save(out, format="PNG")  # no exif, no text chunks: only pixels survive
    return out.getvalue()


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation (1-8), or 1 (as stored) when the EXIF is unreadable or its
    orientation is not one of the eight: a browser shows such a picture as stored, too."""
    try:
        found = image.getexif().get(ExifTags.Base.Orientation)
    except (SyntaxError, ValueError, OSError, struct.error):  # an eXIf chunk that is not TIFF
        return 1
    return found if isinstance(found, int) and (found == 1 or found in _TRANSPOSES) else 1


def upright_size(image: Image.Image) -> tuple[int, int]:
    """Width and height once the EXIF orientation is applied (no pixels are copied)."""
    width, height = image.size
    return (height, width) if _orientation(image) in (5, 6, 7, 8) else (width, height)


def perceptual_hash(image: Image.Image) -> str | None:
    """The pHash as 16 hex digits, or None for a picture with almost no detail.

    Taken of the `upright` pixels, as the canonical re-encoding is: two pictures with the same
    canonical sha256 have the same perceptual hash (what `is_blocked_picture` relies on). For
    the files the store holds (uploads re-encoded upright, outputs as ComfyUI wrote them) this
    is the hash of the decoded file as it was before orientation was applied here."""
    gray = upright(image).convert("L")
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


BAND_SLACK = PHASH_MAX_DISTANCE // PHASH_BANDS
"""Bits a near copy's hash differs by in at least one band: <= 10 bits over 4 bands leaves
one band with <= 2 (pigeonhole)."""


def _near_values(value: int) -> list[int]:
    """Every band value within BAND_SLACK bits of `value` (137 for 16 bits and 2)."""
    near = [value]
    for first in range(PHASH_BAND_BITS):
        near.append(value ^ (1 << first))
        near.extend(
            value ^ (1 << first) ^ (1 << second) for second in range(first + 1, PHASH_BAND_BITS)
        )
    return near


def _blocked_near(session: Session, phash: str | None) -> list[str | None]:
    """The perceptual hashes of the blocked rows that may lie within PHASH_MAX_DISTANCE of
    `phash` (a band within BAND_SLACK bits: a superset, to be checked by `distance`) and a
    None for each blocked row without one; all read through the band indexes, so the
    look-up does not grow with every takedown."""
    # The 548 band values are integers of our own arithmetic, written into the statement as
    # literals: as bound parameters, expanding them cost ~1 ms of CPU a look-up.
    terms = ["phash_band0 IS NULL"] + [
        f"phash_band{band} IN ({','.join(map(str, _near_values(value)))})"
        for band, value in enumerate(phash_bands(phash))
        if value is not None
    ]
    query = sa.text(f"SELECT phash FROM blockedhash WHERE {' OR '.join(terms)}")
    return [row[0] for row in session.execute(query)]


def _near_blocked(session: Session, phash: str | None) -> tuple[bool, bool]:
    """(a blocked row's perceptual hash is within PHASH_MAX_DISTANCE of `phash`, some
    blocked row has no perceptual hash): one indexed statement."""
    near = _blocked_near(session, phash)
    close = phash is not None and any(
        other is not None and distance(phash, other) <= PHASH_MAX_DISTANCE for other in near
    )
    return close, any(other is None for other in near)


def is_blocked(session: Session, prints: Fingerprint) -> bool:
    """Whether a picture with these fingerprints is a copy of a taken-down one."""
    hashes = [prints.sha256, prints.canonical_sha256]
    exact = session.exec(select(BlockedHash.sha256).where(col(BlockedHash.sha256).in_(hashes)))
    if exact.first() is not None:
        return True
    return prints.phash is not None and _near_blocked(session, prints.phash)[0]


def is_blocked_picture(
    session: Session, *, sha256: str, image: Image.Image, phash: str | None = None
) -> bool:
    """`is_blocked(session, of_image(data, image))` for a decoded file whose bytes hash to
    `sha256`, making the canonical re-encoding (1.5 s of CPU for a 1024² output) only when
    the perceptual hash cannot decide. Two indexed statements, however many pictures are
    blocked.

    A blocked row of the canonical or stored sha256 of picture B carries B's perceptual hash.
    A picture whose canonical sha256 matches it has B's upright pixels, so the same perceptual
    hash, at distance 0: the perceptual check already blocks it. The canonical sha256 is
    still compared when some blocked row has no perceptual hash (a block by stored bytes
    alone, or of a flat picture): only such a row can match it undetected. `phash` is
    `perceptual_hash(image)` if the caller computed it already.
    """
    exact = session.exec(select(BlockedHash.sha256).where(col(BlockedHash.sha256) == sha256))
    if exact.first() is not None:
        return True
    close, some_without = _near_blocked(session, phash or perceptual_hash(image))
    if close:
        return True
    if not some_without:
        return False
    canonical = hashlib.sha256(canonical_png(image)).hexdigest()
    return session.get(BlockedHash, canonical) is not None
