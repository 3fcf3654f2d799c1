"""Content-addressed media: files named by their sha256, opened safely, thumbnailed.

The bytes live in a `MediaStore` (`core.gallery.media`: this host's disk, or an S3 bucket);
a plain folder `Path` stands for the local store at that folder. Names are built from a
validated hash only (`ab/cd/<sha256>`), never from a name a user supplied. Images are
opened with an explicit format list, the decompression-bomb warning is an error, our own
pixel cap is checked on the header before decoding, and uploads are re-encoded without
EXIF/XMP/text (SECURITY.md 8).
"""

from __future__ import annotations

import hashlib
import io
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from PIL import Image, UnidentifiedImageError
from sqlmodel import Session

from core.errors import ValidationFailed
from core.gallery import fingerprints, pngchunks
from core.gallery.media import LocalMediaStore, MediaStore
from core.mediatype import MP4, is_video_mime, sniff_mime
from core.models import Asset, AssetTag, MediaKind, Screening

FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
THUMB_SIDE = 384
ThumbFormat = Literal["WEBP", "JPEG"]
THUMB_QUALITY: dict[ThumbFormat, int] = {"WEBP": 80, "JPEG": 90}
"""WebP as stored; JPEG at the quality Streamlit re-encodes any other picture to."""
THUMB_REDUCING_GAP = 1.0
THUMB_WEBP_METHOD = 0
"""WebP's fastest encoder setting (0-6): thumbnails are made for every output, on the CPU the
scheduler's jobs share."""
OUTPUT_MAX_PIXELS = 64_000_000
UPLOAD_DECODED_BYTES = 80 * 1024 * 1024
"""The most memory an upload may take once decoded, its RGB(A) working copy included: with
the upload path's smaller copies (grey for the perceptual hash, a turned copy for an EXIF
orientation) no accepted upload costs the process more than ~300 MB (tests measure it)."""
_WORKING_COPY = frozenset({"RGB", "RGBA"})  # modes worked on as they are, without converting
_SMALL_PIXELS = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2}  # else 4 bytes


def decoded_bytes(mode: str, size: tuple[int, int]) -> int:
    """The memory Pillow takes for a decoded image of `mode` and `size` (4 bytes a pixel for
    RGB, RGBA and the wide modes), plus the RGB(A) copy a mode of any other kind is turned
    into before it is encoded again."""
    held = _SMALL_PIXELS.get(mode, 4) + (0 if mode in _WORKING_COPY else 4)
    return size[0] * size[1] * held


@dataclass(frozen=True)
class StoredImage:
    """An image written to the store."""

    sha256: str
    mime: str
    width: int
    height: int


Media = MediaStore | Path
"""A media store, or the folder of a local one."""


def as_store(media: Media) -> MediaStore:
    """The store itself, or the local store at a folder."""
    return LocalMediaStore(media) if isinstance(media, Path) else media


def path_of(media_root: Path, sha256: str) -> Path:
    """Where the file with this hash lives on a local disk; ValidationFailed for anything
    but a sha256."""
    return LocalMediaStore(media_root).path(sha256)


def write(media: Media, data: bytes) -> str:
    """Store `data` (idempotent) and return its sha256."""
    sha = hashlib.sha256(data).hexdigest()
    as_store(media).put(sha, data)
    return sha


def read(media: Media, sha256: str) -> bytes:
    """The stored bytes; NotFound if absent."""
    return as_store(media).get(sha256)


def delete(media: Media, sha256: str) -> None:
    """Remove a file (the caller checked no row still references it)."""
    as_store(media).remove(sha256)


def check_upload_size(data: bytes, *, max_bytes: int) -> None:
    """ValidationFailed for an empty file or one larger than `max_bytes`."""
    if not data:
        raise ValidationFailed("The file is empty.")
    if len(data) > max_bytes:
        raise ValidationFailed(
            f"The file is larger than {max_bytes // (1024 * 1024)} MB; choose a smaller one."
        )


def open_image(
    data: bytes,
    *,
    max_bytes: int,
    max_pixels: int,
    allow_animation: bool = False,
    max_decoded_bytes: int | None = UPLOAD_DECODED_BYTES,
) -> Image.Image:
    """A decoded Pillow image, or ValidationFailed with a specific reason.

    The file size, the pixel count and the memory the decoded picture takes
    (`decoded_bytes`, checked when `max_decoded_bytes` is set) are all read from the header
    and checked before anything is decoded.
    """
    check_upload_size(data, max_bytes=max_bytes)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=list(FORMATS))
            width, height = image.size
            if width * height > max_pixels:
                raise ValidationFailed(
                    f"The image is {width}x{height} pixels; the limit is "
                    f"{max_pixels // 1_000_000} megapixels."
                )
            cost = decoded_bytes(image.mode, image.size)
            if max_decoded_bytes is not None and cost > max_decoded_bytes:
                raise ValidationFailed(
                    f"The image would take {cost // (1024 * 1024)} MB of memory to open; the "
                    f"limit is {max_decoded_bytes // (1024 * 1024)} MB. Choose a smaller one."
                )
            if getattr(image, "n_frames", 1) > 1 and not allow_animation:
                raise ValidationFailed("Animated images are not accepted here.")
            image.load()
        except ValidationFailed:
            raise
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
            raise ValidationFailed("The image declares too many pixels to open safely.") from exc
        except UnidentifiedImageError as exc:
            raise ValidationFailed("The file is not a PNG, JPEG or WebP image.") from exc
        except (OSError, SyntaxError, ValueError) as exc:
            raise ValidationFailed("The image file is damaged or truncated.") from exc
    return image


def ingest_image(data: bytes, *, media: Media, max_bytes: int, max_pixels: int) -> StoredImage:
    """Validate an uploaded image, apply its orientation, strip metadata, store it as PNG."""
    image = open_image(data, max_bytes=max_bytes, max_pixels=max_pixels)
    encoded = fingerprints.canonical_png(image)  # only pixels survive: no exif, no text
    width, height = fingerprints.upright_size(image)
    return StoredImage(write(media, encoded), "image/png", width, height)


def make_thumbnail(data: bytes, *, side: int = THUMB_SIDE, format: ThumbFormat = "WEBP") -> bytes:
    """A thumbnail (first frame of an animation, an MP4's poster frame) no larger than `side`
    pixels, as WebP (what the store keeps) or JPEG (what the pages show, `ui.media`)."""
    if sniff_mime(data) == MP4:
        from core import video  # here only: PyAV loads FFmpeg, which an image never needs

        poster = video.mp4_poster(data, max_pixels=OUTPUT_MAX_PIXELS)
        return thumbnail_of(poster, side=side, format=format)
    image = Image.open(io.BytesIO(data), formats=list(FORMATS))
    return thumbnail_of(image, side=side, format=format)


def thumbnail_of(
    image: Image.Image, *, side: int = THUMB_SIDE, format: ThumbFormat = "WEBP"
) -> bytes:
    """`make_thumbnail` of a file decoded already (`Output.image`): its first frame, no larger
    than `side` pixels, in `format`. `image` itself is left as it was (the frame is a copy)."""
    image.seek(0)
    frame = image.convert("RGB")
    # A box reduction first, then bicubic (reducing_gap 1), and WebP's fastest method: a
    # 1024² output's thumbnail costs ~7 ms of CPU instead of ~22, at the same size on disk.
    frame.thumbnail((side, side), reducing_gap=THUMB_REDUCING_GAP)
    out = io.BytesIO()
    fastest = {"method": THUMB_WEBP_METHOD} if format == "WEBP" else {}
    frame.save(out, format=format, quality=THUMB_QUALITY[format], **fastest)
    return out.getvalue()


def embed_png_metadata(data: bytes, metadata: dict[str, str]) -> bytes:
    """The PNG with `metadata` as its only text chunks (prompt, seed, model), like ComfyUI
    writes; spliced in without decoding the pixels (`pngchunks.with_text`)."""
    return pngchunks.with_text(data, metadata)


def read_png_metadata(data: bytes) -> dict[str, str]:
    """The text chunks of a PNG."""
    image = Image.open(io.BytesIO(data), formats=["PNG"])
    return {str(k): str(v) for k, v in getattr(image, "text", {}).items()}


@dataclass(frozen=True)
class Output:
    """A generated file checked and ready to store: its bytes (metadata spliced in), their
    sha256, the image decoded once (for the fingerprints and the screener alike; an MP4's
    poster frame), its perceptual hash, and its media type and kind as its bytes say."""

    data: bytes
    sha256: str
    image: Image.Image
    mime: str
    phash: str | None
    kind: MediaKind = MediaKind.IMAGE


@dataclass(frozen=True)
class Decoded:
    """A generated file checked and decoded (`decode_output`), not fingerprinted yet."""

    data: bytes
    image: Image.Image
    mime: str
    kind: MediaKind

    @property
    def still(self) -> bool:
        """One picture (no animation): `image` is never seeked, so threads may read it at
        once (an MP4's poster is a still of its own)."""
        return self.mime == MP4 or getattr(self.image, "n_frames", 1) == 1


def prepare_output(
    data: bytes,
    *,
    kind: MediaKind,
    mime: str,
    metadata: dict[str, str] | None = None,
    max_pixels: int = OUTPUT_MAX_PIXELS,
) -> Output:
    """`fingerprinted(decode_output(...))`: a generated file checked, decoded and hashed."""
    return fingerprinted(
        decode_output(data, kind=kind, mime=mime, metadata=metadata, max_pixels=max_pixels)
    )


def decode_output(
    data: bytes,
    *,
    kind: MediaKind,
    mime: str,
    metadata: dict[str, str] | None = None,
    max_pixels: int = OUTPUT_MAX_PIXELS,
) -> Decoded:
    """Decode a generated file with the upload checks, check its bytes are the `mime` its
    name claims (refused otherwise) and put `metadata` in a PNG's text chunks or an MP4's
    `mdta` items; no database, so it may run outside a unit of work. Animations and videos
    are accepted for a `kind` VIDEO request only; the kind follows the file (an MP4 or an
    animation is a video, a still an image)."""
    actual = sniff_mime(data)
    if actual != mime:
        raise ValidationFailed(f"The output is {actual}, not {mime}.")
    if is_video_mime(actual):
        if kind is not MediaKind.VIDEO or actual != MP4:
            raise ValidationFailed(f"A {actual} output is not accepted here.")
        from core import video  # here only: PyAV loads FFmpeg, which an image never needs

        image = video.mp4_poster(data, max_pixels=max_pixels)
        if metadata:
            data = video.mp4_with_metadata(data, metadata)
        return Decoded(data, image, actual, MediaKind.VIDEO)
    image = open_image(
        data,
        max_bytes=256 * 1024 * 1024,
        max_pixels=max_pixels,
        allow_animation=kind is MediaKind.VIDEO,
        max_decoded_bytes=None,  # our own GPU's output, bounded by its pixel cap
    )
    if FORMATS.get(image.format or "") != mime:
        raise ValidationFailed(f"The output is {image.format or 'unknown'}, not {mime}.")
    if metadata and mime == "image/png":
        data = embed_png_metadata(data, metadata)
    animated = getattr(image, "n_frames", 1) > 1
    return Decoded(data, image, mime, MediaKind.VIDEO if animated else MediaKind.IMAGE)


@dataclass(frozen=True)
class Unchecked:
    """A generated PNG still, read no further than its header (`still_png_header`): its bytes
    (metadata spliced in), their sha256 and its size. Stored as a `waiting` asset, hidden,
    until `core.gallery.verdicts` has decoded, looked up and screened it."""

    data: bytes
    sha256: str
    width: int
    height: int
    mime: str = "image/png"


def still_png_header(
    data: bytes,
    *,
    mime: str,
    metadata: dict[str, str] | None = None,
    max_pixels: int = OUTPUT_MAX_PIXELS,
) -> Unchecked | None:
    """A generated PNG still as far as its header tells (no pixel decoded): the bytes are a
    PNG, as `mime` claims, of one frame within the pixel cap; `metadata` spliced into its
    text chunks. None for anything else (an animation, a video, another format, a header
    that does not read): the caller takes `decode_output`'s path, which says why."""
    if mime != "image/png" or sniff_mime(data) != "image/png":
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=["PNG"])
            width, height = image.size
            if width * height > max_pixels or getattr(image, "n_frames", 1) != 1:
                return None
        except Exception:  # noqa: BLE001 - decode_output's path says what is wrong with it
            return None
    if metadata:
        data = embed_png_metadata(data, metadata)
    return Unchecked(data, hashlib.sha256(data).hexdigest(), width, height)


def save_waiting(
    session: Session,
    *,
    media: Media,
    owner_id: int,
    job_id: int | None,
    muse_id: int | None,
    output: Unchecked,
    title: str,
    now: datetime,
    category: str | None = None,
    tags: Sequence[str] = (),
) -> Asset:
    """Store a job's output as it came (`still_png_header`) as a hidden asset `waiting` for
    its checks: nobody sees it, not even its owner, until `core.gallery.verdicts` has
    decoded it, looked it up among the blocked pictures and recorded the screener's verdict."""
    write(media, output.data)
    asset = Asset(
        owner_id=owner_id,
        job_id=job_id,
        muse_id=muse_id,
        sha256=output.sha256,
        kind=MediaKind.IMAGE,
        mime=output.mime,
        width=output.width,
        height=output.height,
        size_bytes=len(output.data),
        title=title[:200],
        category=category,
        created_at=now,
        screening=Screening.WAITING,
        hidden=True,
    )
    return _added(session, asset, tags)


def _added(session: Session, asset: Asset, tags: Sequence[str]) -> Asset:
    """`asset` added (its id given) with its tags, each once."""
    session.add(asset)
    session.flush()
    for tag in dict.fromkeys(tags):
        session.add(AssetTag(asset_id=asset.id or 0, tag=tag))
    return asset


def fingerprinted(decoded: Decoded) -> Output:
    """The decoded file with its sha256 and perceptual hash: ready to store."""
    phash = fingerprints.perceptual_hash(decoded.image)
    data = decoded.data
    return Output(
        data, hashlib.sha256(data).hexdigest(), decoded.image, decoded.mime, phash, decoded.kind
    )


def save_output(
    session: Session,
    *,
    media: Media,
    owner_id: int,
    job_id: int | None,
    muse_id: int | None,
    data: bytes,
    kind: MediaKind,
    mime: str,
    title: str,
    now: datetime,
    metadata: dict[str, str] | None = None,
    category: str | None = None,
    tags: Sequence[str] = (),
    max_pixels: int = OUTPUT_MAX_PIXELS,
    thumbnail: bool = True,
    prepared: Output | None = None,
) -> Asset:
    """Store one generated file as a private, unscreened Asset (of the kind and media type
    its bytes say, `prepare_output`), with its thumbnail unless
    `thumbnail=False` (the job path makes it after the job is recorded: `add_thumbnails`).

    `prepared` is `prepare_output(data, ...)` done already (the job path decodes outside its
    unit of work); a copy of a taken-down picture is refused either way."""
    if prepared is None:
        prepared = prepare_output(
            data, kind=kind, mime=mime, metadata=metadata, max_pixels=max_pixels
        )
    data, sha, image = prepared.data, prepared.sha256, prepared.image
    if fingerprints.is_blocked_picture(session, sha256=sha, image=image, phash=prepared.phash):
        raise ValidationFailed("This picture was taken down and cannot be stored again.")
    write(media, data)
    thumb = write(media, thumbnail_of(image)) if thumbnail else None
    asset = Asset(
        owner_id=owner_id,
        job_id=job_id,
        muse_id=muse_id,
        sha256=sha,
        thumb_sha256=thumb,
        kind=prepared.kind,
        mime=prepared.mime,
        width=image.width,
        height=image.height,
        size_bytes=len(data),
        title=title[:200],
        category=category,
        created_at=now,
    )
    return _added(session, asset, tags)


def add_thumbnails(
    session: Session,
    *,
    media: Media,
    asset_ids: Sequence[int],
    decoded: Mapping[int, Image.Image] | None = None,
) -> int:
    """Make the missing thumbnails of these assets from their stored files (or from
    `decoded`: asset id -> its file as `prepare_output` decoded it, not decoded again); how
    many were made. Pages show the full file until an asset has one, so a thumbnail lost to
    a crash costs bandwidth, never a picture."""
    made = 0
    for asset_id in asset_ids:
        asset = session.get(Asset, asset_id)
        if asset is None or asset.thumb_sha256 is not None:
            continue
        image = (decoded or {}).get(asset_id)
        thumb = make_thumbnail(read(media, asset.sha256)) if image is None else thumbnail_of(image)
        asset.thumb_sha256 = write(media, thumb)
        session.add(asset)
        made += 1
    return made
