"""A muse's look-book: its pinned pictures (references for IP-Adapter) and its portrait.

Two kinds of reference: an outside upload (`service.attach_reference`, consent statement,
never explicit) and one of the owner's own generated pictures pinned here (ours by sha256 and
job, so it shows no real person: allowed in every mode). The portrait is one of the muse's
references, shown on its card.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from core import audit, safety
from core.errors import NotFound, ValidationFailed
from core.models import Asset, GenerationJob, MediaKind, Muse, ReferenceImage
from core.models.enums import Screening
from core.muses.service import MAX_REFERENCES, get_muse, references, rows_of_muse


def _own_generated_picture(session: Session, *, owner_id: int, asset_id: int) -> Asset:
    """The owner's generated still picture, or NotFound / ValidationFailed."""
    asset = session.get(Asset, asset_id)
    if asset is None or asset.owner_id != owner_id:
        raise NotFound("No such picture.")
    job = session.get(GenerationJob, asset.job_id) if asset.job_id is not None else None
    if job is None or job.user_id != owner_id:
        raise ValidationFailed("Only pictures generated here can be pinned to a muse.")
    if asset.kind is not MediaKind.IMAGE:
        raise ValidationFailed("Only still pictures can be pinned to a muse.")
    if asset.hidden or asset.screening is Screening.FLAGGED:
        raise ValidationFailed("This picture is held for review and cannot be pinned.")
    return asset


def pin_picture(
    session: Session, *, owner_id: int, muse_id: int, asset_id: int, now: datetime
) -> ReferenceImage:
    """Pin one of the owner's generated pictures to their muse's look-book (any mode)."""
    muse = get_muse(session, owner_id=owner_id, muse_id=muse_id)
    asset = _own_generated_picture(session, owner_id=owner_id, asset_id=asset_id)
    pinned = references(session, owner_id=owner_id, muse_id=muse_id)
    if any(ref.sha256 == asset.sha256 for ref in pinned):
        raise ValidationFailed("This picture is already in the muse's look-book.")
    if len(pinned) >= MAX_REFERENCES:
        raise ValidationFailed(
            f"A muse has at most {MAX_REFERENCES} references: remove one to pin another."
        )
    reference = ReferenceImage(
        owner_id=owner_id,
        muse_id=muse.id,
        asset_id=asset.id,
        sha256=asset.sha256,
        mime=asset.mime,
        width=asset.width,
        height=asset.height,
        consent_statement="",
        consented_at=now,
        created_at=now,
    )
    session.add(reference)
    session.flush()
    audit.by_user(
        session,
        owner_id,
        "reference.pin",
        f"muse:{muse_id}",
        at=now,
        details={"reference": reference.id, "asset": asset.id},
    )
    return reference


def remove_reference(session: Session, *, owner_id: int, reference_id: int) -> None:
    """Take a reference off its muse (the picture itself stays); a portrait showing it is
    cleared."""
    reference = session.get(ReferenceImage, reference_id)
    if reference is None or reference.owner_id != owner_id or reference.muse_id is None:
        raise NotFound("No such reference.")
    muse = get_muse(session, owner_id=owner_id, muse_id=reference.muse_id)
    if muse.portrait_sha256 == reference.sha256:
        muse.portrait_sha256 = None
        session.add(muse)
    session.delete(reference)
    session.flush()


def set_portrait(session: Session, *, owner_id: int, muse_id: int, reference_id: int) -> Muse:
    """Show this reference of the muse on its card."""
    muse = get_muse(session, owner_id=owner_id, muse_id=muse_id)
    reference = session.get(ReferenceImage, reference_id)
    if reference is None or reference.owner_id != owner_id or reference.muse_id != muse_id:
        raise NotFound("No such reference.")
    muse.portrait_sha256 = reference.sha256
    session.add(muse)
    return muse


def portraits(session: Session, *, owner_id: int, muse_ids: Sequence[int]) -> dict[int, str]:
    """The sha256 each muse's card shows: its chosen portrait, else its first reference;
    muses without any are absent."""
    if not muse_ids:
        return {}
    chosen = {
        muse.id or 0: muse.portrait_sha256
        for muse in session.exec(
            select(Muse).where(Muse.owner_id == owner_id, col(Muse.id).in_(muse_ids))
        ).all()
    }
    first: dict[int, str] = {}
    rows = session.exec(
        select(ReferenceImage.muse_id, ReferenceImage.sha256)
        .where(ReferenceImage.owner_id == owner_id, col(ReferenceImage.muse_id).in_(muse_ids))
        .order_by(col(ReferenceImage.id))
    ).all()
    for muse_id, sha in rows:
        first.setdefault(muse_id or 0, sha)
    shown = {mid: chosen.get(mid) or first.get(mid) for mid in muse_ids}
    return {mid: sha for mid, sha in shown.items() if sha}


def muse_pictures(session: Session, *, owner_id: int, muse_id: int, limit: int = 24) -> list[Asset]:
    """The owner's pictures made with this muse, newest first."""
    mine = select(Asset).where(Asset.owner_id == owner_id, Asset.muse_id == muse_id)
    newest = mine.order_by(col(Asset.id).desc()).limit(limit)
    return rows_of_muse(session, owner_id, muse_id, newest)


def check_reference_use(
    session: Session, *, owner_id: int, sha256s: Sequence[str], explicit: bool
) -> None:
    """Refuse references that are not the owner's (NotFound), and outside uploads in explicit
    mode (PolicyRefusal); the owner's own generated pictures go in every mode."""
    if not sha256s:
        return
    rows = session.exec(
        select(ReferenceImage.sha256, ReferenceImage.asset_id).where(
            ReferenceImage.owner_id == owner_id, col(ReferenceImage.sha256).in_(sha256s)
        )
    ).all()
    if set(sha256s) - {sha for sha, _ in rows}:
        raise NotFound("No such reference image.")
    generated = {sha for sha, asset_id in rows if asset_id is not None}
    if explicit and set(sha256s) - generated:
        safety.screen_reference_use(consent_given=True, explicit=True)


def pinnable_pictures(
    session: Session, *, owner_id: int, muse_id: int, limit: int = 12
) -> list[Asset]:
    """The owner's newest generated still pictures that could join this muse's look-book."""
    pinned = {ref.sha256 for ref in references(session, owner_id=owner_id, muse_id=muse_id)}
    rows = session.exec(
        select(Asset)
        .where(
            Asset.owner_id == owner_id,
            col(Asset.job_id).is_not(None),
            Asset.kind == MediaKind.IMAGE,
            col(Asset.hidden).is_(False),
            Asset.screening != Screening.FLAGGED,
        )
        .order_by(col(Asset.id).desc())
        .limit(limit + len(pinned))
    ).all()
    return [asset for asset in rows if asset.sha256 not in pinned][:limit]
