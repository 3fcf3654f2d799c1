"""Source pictures and masks for img2img, inpaint and upscale: whose they may be, how large
they may decode, and the mask made to fit the picture.

A source is the user's own generated picture (usable in any mode) or the user's own upload,
stored only with the consent statement and never used with explicit mode (SECURITY.md, real
people). Every uploaded mask is decoded through `decoded_image`, the one decoded-size check
of this module, so the upload checks can be unified behind it.
"""

from __future__ import annotations

import io
from dataclasses import replace

from PIL import Image
from sqlmodel import Session, col, select

from core import safety
from core.errors import NotFound, ValidationFailed
from core.gallery import store
from core.models import Asset, MediaKind, ReferenceImage
from core.studio.compose import StudioRequest

MAX_MASK_BYTES = 4 * 1024 * 1024
MASK_THRESHOLD = 128
"""Mask pixels this bright or brighter (or this opaque, for a drawing on transparency) are
repainted; the rest is kept."""


def decoded_image(data: bytes, *, max_bytes: int, max_pixels: int) -> Image.Image:
    """`data` decoded as a PNG, JPEG or WebP within `max_bytes` and `max_pixels` (declared
    size checked before decoding; decompression bombs refused), or ValidationFailed."""
    return store.open_image(data, max_bytes=max_bytes, max_pixels=max_pixels)


def mask_png(data: bytes, *, size: tuple[int, int], max_pixels: int) -> bytes:
    """An uploaded or drawn mask as the single-channel PNG the inpaint graph reads (white =
    repaint, black = keep), or ValidationFailed: a mask of another size than the picture's
    (`size`), an empty one, a file too large to decode safely. A drawing with transparency
    counts its opaque strokes; an opaque image counts its bright pixels."""
    image = decoded_image(data, max_bytes=MAX_MASK_BYTES, max_pixels=max_pixels)
    if image.size != size:
        raise ValidationFailed(
            f"The mask is {image.size[0]}x{image.size[1]} but the picture is "
            f"{size[0]}x{size[1]}: draw or upload a mask of the picture's size."
        )
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    grey = image.convert("RGBA").getchannel("A") if has_alpha else image.convert("L")
    mask = grey.point(lambda value: 255 if value >= MASK_THRESHOLD else 0)
    if mask.getbbox() is None:
        raise ValidationFailed("The mask is empty: paint over the area to change.")
    out = io.BytesIO()
    mask.save(out, format="PNG", optimize=True)
    return out.getvalue()


def drawn_mask_png(rgba: Image.Image, *, size: tuple[int, int], max_pixels: int) -> bytes:
    """A mask drawn in the browser over a scaled-down view of the picture (opaque strokes
    on a transparent canvas), stretched back to the picture's `size`; see `mask_png`."""
    if rgba.width * rgba.height > max_pixels:
        raise ValidationFailed("The drawing is larger than any picture the studio takes.")
    scaled = rgba.convert("RGBA").resize(size, Image.Resampling.NEAREST)
    out = io.BytesIO()
    scaled.save(out, format="PNG")
    return mask_png(out.getvalue(), size=size, max_pixels=max_pixels)


def own_pictures(
    session: Session, *, user_id: int, limit: int = 24, also: str | None = None
) -> list[Asset]:
    """The user's newest visible generated pictures: the sources offered in every mode; the
    user's picture with hash `also` (a remixed job's source) comes first even when older."""
    newest = list(
        session.exec(
            select(Asset)
            .where(
                Asset.owner_id == user_id,
                col(Asset.kind) == MediaKind.IMAGE,
                col(Asset.hidden).is_(False),
            )
            .order_by(col(Asset.created_at).desc(), col(Asset.id).desc())
            .limit(limit)
        ).all()
    )
    pinned = own_source(session, user_id=user_id, sha=also) if also else None
    if isinstance(pinned, Asset) and pinned.id not in {a.id for a in newest}:
        return [pinned, *newest]
    return newest


def own_source(session: Session, *, user_id: int, sha: str) -> Asset | ReferenceImage | None:
    """What the hash `sha` is among the user's possible sources: their own visible generated
    picture, else their own upload, else None."""
    asset = session.exec(
        select(Asset).where(
            Asset.owner_id == user_id,
            Asset.sha256 == sha,
            col(Asset.kind) == MediaKind.IMAGE,
            col(Asset.hidden).is_(False),
        )
    ).first()
    if asset is not None:
        return asset
    return session.exec(
        select(ReferenceImage).where(
            ReferenceImage.owner_id == user_id, ReferenceImage.sha256 == sha
        )
    ).first()


def resolve_source(
    session: Session, *, user_id: int, request: StudioRequest, max_pixels: int
) -> StudioRequest:
    """`request` with its source checked and its size taken from our own records.

    The source must be the user's own visible picture, or the user's own consented upload
    (refused with explicit mode); anything else is NotFound, as is a mask without a source.
    A mask must have the source's size.
    """
    sha = request.tools.source
    if sha is None:
        if request.mask_png is not None:
            raise ValidationFailed("A mask needs a source picture.")
        return request
    found = own_source(session, user_id=user_id, sha=sha)
    if found is None:
        raise NotFound("No such source picture.")
    if isinstance(found, ReferenceImage):
        safety.screen_reference_use(
            consent_given=bool(found.consent_statement), explicit=request.nsfw
        )
    size = (found.width, found.height)
    if request.mask_png is not None:
        mask_png(request.mask_png, size=size, max_pixels=max_pixels)
    return replace(request, tools=replace(request.tools, source_size=size))


def with_own_source(
    session: Session,
    *,
    user_id: int,
    request: StudioRequest,
    asset_id: int,
    mask: bytes | None,
    max_pixels: int,
) -> StudioRequest:
    """`request` working on the user's own picture `asset_id` (a generated picture: any
    mode), with `mask` (an uploaded PNG, JPEG or WebP of the picture's size) made the
    single-channel mask the inpaint graph reads; NotFound for a picture the user does not
    own (another user's is missing to them), ValidationFailed for a mask that does not fit."""
    asset = session.get(Asset, asset_id)
    if (
        asset is None
        or asset.owner_id != user_id
        or asset.kind is not MediaKind.IMAGE
        or asset.hidden
    ):
        raise NotFound("No such source picture.")
    request = replace(request, tools=replace(request.tools, source=asset.sha256), mask_png=mask)
    request = resolve_source(session, user_id=user_id, request=request, max_pixels=max_pixels)
    size = request.tools.source_size
    if mask is not None and size is not None:
        request = replace(request, mask_png=mask_png(mask, size=size, max_pixels=max_pixels))
    return request
