"""The muse use cases pages call; each checks ownership (another user's muse is NotFound)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TypeVar

import sqlalchemy as sa
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from core import audit, safety
from core.accounts.inputs import require_plain
from core.errors import NotFound, ValidationFailed
from core.gallery import store, takedown
from core.gallery.taxonomy import normalize_tags
from core.models import Asset, GenerationJob, Muse, MuseVariation, ReferenceImage
from core.muses import cards
from core.muses.cards import CardData, parse_card
from core.muses.prompt import ComposedPrompt, compose
from core.muses.schema import VARIATION_FIELDS, MuseProfile, validate_profile

MAX_REFERENCES = 4
Row = TypeVar("Row")
"""What a muse-scoped listing returns (a table row)."""


class DuplicateName(ValidationFailed):
    """The owner already has a muse of this name (an import asks before making a second)."""


def screen_profile(profile: MuseProfile, *, year: int) -> None:
    """Refuse (PolicyRefusal) a profile under 18 or with any free-text field describing one.

    `year` is the Clock's year (a year of birth in a field is judged against it)."""
    safety.screen_muse(
        profile.text_fields(), age=profile.basic.age, nsfw=profile.ai.nsfw, year=year
    )


def screen_overrides(muse: Muse, overrides: Mapping[str, str], *, year: int) -> None:
    """Refuse a variation's text the way the muse's own fields are screened."""
    safety.screen_muse(
        {f"variation {k}": v for k, v in overrides.items()},
        age=muse.age,
        nsfw=muse.nsfw,
        year=year,
    )


def get_muse(session: Session, *, owner_id: int, muse_id: int) -> Muse:
    """The owner's muse, or NotFound."""
    muse = session.get(Muse, muse_id)
    if muse is None or muse.owner_id != owner_id:
        raise NotFound("No such muse.")
    return muse


def profile_of(muse: Muse) -> MuseProfile:
    """The stored profile, validated again (the rules may have tightened since)."""
    return validate_profile(muse.profile)


def create_muse(
    session: Session, *, owner_id: int, profile: MuseProfile, tags: Sequence[str], now: datetime
) -> Muse:
    """Screen and store a new muse."""
    screen_profile(profile, year=now.year)
    muse = Muse(
        owner_id=owner_id,
        name=profile.basic.name,
        age=profile.basic.age,
        nsfw=profile.ai.nsfw,
        profile=profile.model_dump(),
        tags=normalize_tags(tags),
        created_at=now,
        updated_at=now,
    )
    session.add(muse)
    session.flush()
    return muse


def renamed(profile: MuseProfile, name: str) -> MuseProfile:
    """The same profile under another name."""
    return profile.model_copy(update={"basic": profile.basic.model_copy(update={"name": name})})


def duplicate_muse(session: Session, *, owner_id: int, muse_id: int, now: datetime) -> Muse:
    """A copy of the owner's muse (profile, tags and variations) named "<name> (copy)"."""
    original = get_muse(session, owner_id=owner_id, muse_id=muse_id)
    profile = profile_of(original)
    name = f"{profile.basic.name[:73]} (copy)"
    copy = create_muse(
        session,
        owner_id=owner_id,
        profile=renamed(profile, name),
        tags=original.tags,
        now=now,
    )
    for variation in variations(session, owner_id=owner_id, muse_id=muse_id):
        session.add(
            MuseVariation(
                muse_id=copy.id or 0,
                name=variation.name,
                overrides=dict(variation.overrides),
                created_at=now,
            )
        )
    return copy


def update_muse(
    session: Session,
    *,
    owner_id: int,
    muse_id: int,
    profile: MuseProfile,
    tags: Sequence[str],
    now: datetime,
) -> Muse:
    """Screen and save changes to the owner's muse."""
    muse = get_muse(session, owner_id=owner_id, muse_id=muse_id)
    screen_profile(profile, year=now.year)
    muse.name, muse.age, muse.nsfw = profile.basic.name, profile.basic.age, profile.ai.nsfw
    muse.profile, muse.tags, muse.updated_at = profile.model_dump(), normalize_tags(tags), now
    session.add(muse)
    return muse


def delete_muse(session: Session, *, owner_id: int, muse_id: int) -> None:
    """Delete the muse and its variations; its jobs, pictures and uploaded references stay,
    unlinked; its pinned pictures leave the look-book (the pictures themselves stay)."""
    muse = get_muse(session, owner_id=owner_id, muse_id=muse_id)
    session.execute(
        sa.delete(ReferenceImage).where(
            col(ReferenceImage.muse_id) == muse_id, col(ReferenceImage.asset_id).is_not(None)
        )
    )
    variation_rows = session.exec(select(MuseVariation).where(MuseVariation.muse_id == muse_id))
    for variation in variation_rows.all():
        _unlink_variation(session, variation)
    for model in (GenerationJob, ReferenceImage, Asset):
        session.execute(sa.update(model).where(col(model.muse_id) == muse_id).values(muse_id=None))
    session.flush()
    session.delete(muse)


def _unlink_variation(session: Session, variation: MuseVariation) -> None:
    session.execute(
        sa.update(GenerationJob)
        .where(col(GenerationJob.variation_id) == variation.id)
        .values(variation_id=None)
    )
    session.delete(variation)


def list_muses(
    session: Session,
    *,
    owner_id: int,
    search: str | None = None,
    tags: Sequence[str] = (),
    nsfw: bool | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Muse]:
    """The owner's muses by name, filtered by search text (name, tags, and any text of the
    profile: occupation, hair, traits, notes...), tags and explicit flag."""
    require_plain({"search": search, **{f"tag {n + 1}": tag for n, tag in enumerate(tags)}})
    query = select(Muse).where(Muse.owner_id == owner_id)
    if nsfw is not None:
        query = query.where(Muse.nsfw == nsfw)
    muses = list(session.exec(query.order_by(col(Muse.name), col(Muse.id))).all())
    if search and search.strip():
        needle = search.strip().casefold()[:80]
        muses = [m for m in muses if needle in _searchable(m)]
    wanted = set(tags)
    if wanted:
        muses = [m for m in muses if wanted <= set(m.tags)]
    return muses[offset : offset + limit]


def _searchable(muse: Muse) -> str:
    """Name, tags and every text value of a muse's profile, for search."""
    texts: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, str):
            texts.append(value)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)

    walk(muse.profile or {})
    return " ".join([muse.name, *muse.tags, *texts]).casefold()


def add_variation(
    session: Session,
    *,
    owner_id: int,
    muse_id: int,
    name: str,
    overrides: dict[str, str],
    now: datetime,
) -> MuseVariation:
    """An outfit or scenario override, screened like the muse."""
    muse = get_muse(session, owner_id=owner_id, muse_id=muse_id)
    if not 1 <= len(name.strip()) <= 80:
        raise ValidationFailed("Give the variation a name of up to 80 characters.")
    if set(overrides) - set(VARIATION_FIELDS):
        raise ValidationFailed(f"Variations may change only: {', '.join(VARIATION_FIELDS)}.")
    if not all(isinstance(v, str) and len(v) <= 400 for v in overrides.values()):
        raise ValidationFailed("Variation overrides must be text of up to 400 characters.")
    require_plain({"variation name": name, **overrides})
    screen_overrides(muse, overrides, year=now.year)
    variation = MuseVariation(
        muse_id=muse_id, name=name.strip(), overrides=overrides, created_at=now
    )
    session.add(variation)
    session.flush()
    return variation


def rows_of_muse(
    session: Session, owner_id: int, muse_id: int, statement: SelectOfScalar[Row]
) -> list[Row]:
    """The rows `statement` selects, once the muse is found to be the owner's (`get_muse`:
    NotFound for anyone else's, so no list leaks another owner's muse)."""
    get_muse(session, owner_id=owner_id, muse_id=muse_id)
    return list(session.exec(statement).all())


def variations(session: Session, *, owner_id: int, muse_id: int) -> list[MuseVariation]:
    """The muse's variations by name."""
    by_name = (
        select(MuseVariation)
        .where(MuseVariation.muse_id == muse_id)
        .order_by(col(MuseVariation.name))
    )
    return rows_of_muse(session, owner_id, muse_id, by_name)


def delete_variation(session: Session, *, owner_id: int, variation_id: int) -> None:
    """Remove one of the owner's variations."""
    variation = session.get(MuseVariation, variation_id)
    if variation is None:
        raise NotFound("No such variation.")
    get_muse(session, owner_id=owner_id, muse_id=variation.muse_id)
    _unlink_variation(session, variation)


def _names(session: Session, owner_id: int) -> set[str]:
    return set(session.exec(select(Muse.name).where(Muse.owner_id == owner_id)).all())


def free_name(session: Session, *, owner_id: int, name: str) -> str:
    """`name`, or "<name> (copy 2)", "(copy 3)"... the first the owner does not use yet.

    Not "<name> (2)": a number set off after a name reads as the character's age."""
    taken, candidate, number = _names(session, owner_id), name, 1
    while candidate in taken:
        number += 1
        suffix = f" (copy {number})"
        candidate = f"{name[: 80 - len(suffix)]}{suffix}"
    return candidate


def import_card(
    session: Session,
    *,
    owner_id: int,
    data: bytes,
    filename: str,
    now: datetime,
    as_copy: bool = False,
) -> Muse:
    """Parse, screen and create a muse with its variations, all or nothing.

    A card whose name the owner already uses raises DuplicateName, unless `as_copy`: then
    the new muse is named "<name> (copy 2)" (or the next free number). The card's look-book
    references are pinned again where the owner has that generated picture (by sha256);
    others are skipped (a card carries no pictures)."""
    card = parse_card(data, filename)
    profile, wanted = card.profile, card.profile.basic.name
    name = free_name(session, owner_id=owner_id, name=wanted)
    with session.begin_nested():
        # Screened in full first: a refusal (audited) outranks the question about the name.
        muse = create_muse(
            session,
            owner_id=owner_id,
            profile=renamed(profile, name),
            tags=card.tags,
            now=now,
        )
        for look_name, overrides in card.variations:
            add_variation(
                session,
                owner_id=owner_id,
                muse_id=muse.id or 0,
                name=look_name,
                overrides=overrides,
                now=now,
            )
        _repin(session, owner_id=owner_id, muse_id=muse.id or 0, sha256s=card.references, now=now)
        if name != wanted and not as_copy:
            raise DuplicateName(
                f"You already have a muse named {wanted!r}: "
                "import it as a copy, or edit the one you have."
            )
    return muse


def _repin(
    session: Session, *, owner_id: int, muse_id: int, sha256s: Sequence[str], now: datetime
) -> None:
    """Pin the owner's generated pictures with these hashes; any other is skipped."""
    from core.muses import lookbook  # the look-book builds on this module

    for sha in dict.fromkeys(sha256s):
        asset = session.exec(
            select(Asset)
            .where(Asset.owner_id == owner_id, Asset.sha256 == sha)
            .where(col(Asset.job_id).is_not(None))
            .order_by(col(Asset.id))
        ).first()
        if asset is None:
            continue
        try:  # pin_picture checks everything before it writes
            lookbook.pin_picture(
                session, owner_id=owner_id, muse_id=muse_id, asset_id=asset.id or 0, now=now
            )
        except ValidationFailed:
            continue  # held for review, or the look-book is full


def export_card(session: Session, *, owner_id: int, muse_id: int) -> CardData:
    """The muse as card data (for cards.export_json / export_png)."""
    muse = get_muse(session, owner_id=owner_id, muse_id=muse_id)
    return CardData(
        profile=profile_of(muse),
        tags=list(muse.tags),
        variations=[
            (v.name, dict(v.overrides))
            for v in variations(session, owner_id=owner_id, muse_id=muse_id)
        ],
        references=[ref.sha256 for ref in references(session, owner_id=owner_id, muse_id=muse_id)],
    )


def card_file(
    session: Session, *, owner_id: int, muse_id: int, png: bool, media: store.Media
) -> bytes:
    """The owner's muse as a card file: the JSON envelope, or a PNG of its portrait (a plain
    placeholder without one) carrying that JSON, as the Muses page exports them."""
    from core.muses import lookbook  # the look-book builds on this module

    card = export_card(session, owner_id=owner_id, muse_id=muse_id)
    if not png:
        return cards.export_json(card)
    shown = lookbook.portraits(session, owner_id=owner_id, muse_ids=[muse_id])
    portrait = store.read(media, shown[muse_id]) if muse_id in shown else None
    return cards.export_png(card, portrait)


def attach_reference(
    session: Session,
    *,
    owner_id: int,
    muse_id: int | None,
    data: bytes,
    consent_given: bool,
    media: store.Media,
    max_bytes: int,
    max_pixels: int,
    now: datetime,
) -> ReferenceImage:
    """Store a reference picture for IP-Adapter, for a muse or (muse_id None) one studio job.

    Needs the uploader's consent statement (stored and audited); the bytes are checked for
    size, format and decompression bombs and re-encoded without EXIF before anything is kept.
    """
    explicit = False
    if muse_id is not None:
        explicit = get_muse(session, owner_id=owner_id, muse_id=muse_id).nsfw
        count = session.exec(
            select(sa.func.count())
            .select_from(ReferenceImage)
            .where(ReferenceImage.muse_id == muse_id)
        ).one()
        if count >= MAX_REFERENCES:
            raise ValidationFailed(f"A muse has at most {MAX_REFERENCES} reference images.")
    safety.screen_reference_use(consent_given=consent_given, explicit=explicit)
    # The uploaded bytes, their re-encoding and their perceptual hash, before anything is kept.
    takedown.refuse_copies(session, data, max_bytes=max_bytes, max_pixels=max_pixels)
    stored = store.ingest_image(data, media=media, max_bytes=max_bytes, max_pixels=max_pixels)
    reference = ReferenceImage(
        owner_id=owner_id,
        muse_id=muse_id,
        sha256=stored.sha256,
        mime=stored.mime,
        width=stored.width,
        height=stored.height,
        consent_statement=safety.CONSENT_STATEMENT,
        consented_at=now,
        created_at=now,
    )
    session.add(reference)
    session.flush()
    audit.by_user(
        session,
        owner_id,
        "reference.consent",
        f"muse:{muse_id}" if muse_id is not None else "studio",
        at=now,
        details={"reference": reference.id, "sha256": stored.sha256},
    )
    return reference


def references(session: Session, *, owner_id: int, muse_id: int) -> list[ReferenceImage]:
    """The reference images attached to the owner's muse, oldest first."""
    attached = select(ReferenceImage).where(
        ReferenceImage.muse_id == muse_id, ReferenceImage.owner_id == owner_id
    )
    return rows_of_muse(session, owner_id, muse_id, attached.order_by(col(ReferenceImage.id)))


def muse_history(
    session: Session, *, owner_id: int, muse_id: int, limit: int = 50
) -> list[GenerationJob]:
    """The owner's jobs made with this muse, newest first."""
    jobs = select(GenerationJob).where(
        GenerationJob.muse_id == muse_id, GenerationJob.user_id == owner_id
    )
    newest = jobs.order_by(col(GenerationJob.id).desc()).limit(limit)
    return rows_of_muse(session, owner_id, muse_id, newest)


def prompt_for(
    session: Session, *, owner_id: int, muse_id: int, scene: str, variation_id: int | None = None
) -> ComposedPrompt:
    """The muse and scene composed into prompts."""
    muse = get_muse(session, owner_id=owner_id, muse_id=muse_id)
    overrides = None
    if variation_id is not None:
        variation = session.get(MuseVariation, variation_id)
        if variation is None or variation.muse_id != muse_id:
            raise NotFound("No such variation.")
        overrides = variation.overrides
    return compose(profile_of(muse), scene, variation=overrides)
