"""The look-book on SQLite and PostgreSQL: own generated pictures pinned in any mode, outside
uploads consented and never explicit, portraits, removal; imports that would duplicate a name;
search over the whole profile."""

import json
from datetime import UTC, datetime

import pytest
from sqlmodel import select

from core.db import read_scope, session_scope
from core.errors import NotFound, PolicyRefusal, ValidationFailed
from core.models import AuditEntry, ReferenceImage
from core.models.enums import Screening
from core.muses import cards, lookbook, service
from core.muses.schema import validate_profile
from testing.factories import (
    every_field_profile,
    make_asset,
    make_job,
    make_user,
    make_variation,
    png_bytes,
)

NOW = datetime(2026, 12, 2, tzinfo=UTC)


def new_muse(engine, owner, *, nsfw=False, **sections):
    profile = validate_profile(
        {"basic": {"name": "Ava", "age": 30}, "ai": {"nsfw": nsfw}, **sections}
    )
    with session_scope(engine) as session:
        return service.create_muse(session, owner_id=owner.id, profile=profile, tags=(), now=NOW)


def generated(engine, owner, **fields):
    job = make_job(engine, owner)
    return make_asset(engine, owner, job_id=job.id, **fields)


def pin(engine, owner, muse, asset):
    with session_scope(engine) as session:
        return lookbook.pin_picture(
            session, owner_id=owner.id, muse_id=muse.id, asset_id=asset.id, now=NOW
        )


def upload(engine, owner, muse_id, tmp_path, consent=True):
    with session_scope(engine) as session:
        return service.attach_reference(
            session,
            owner_id=owner.id,
            muse_id=muse_id,
            data=png_bytes("navy", 32),
            consent_given=consent,
            media=tmp_path,
            max_bytes=1_000_000,
            max_pixels=1_000_000,
            now=NOW,
        )


def check(engine, owner, shas, explicit):
    with read_scope(engine) as session:
        lookbook.check_reference_use(session, owner_id=owner.id, sha256s=shas, explicit=explicit)


def test_an_own_generated_picture_is_pinned_to_an_explicit_muse_and_used_explicitly(engine):
    owner = make_user(engine)
    muse = new_muse(engine, owner, nsfw=True)
    asset = generated(engine, owner)
    reference = pin(engine, owner, muse, asset)
    assert (reference.asset_id, reference.sha256, reference.muse_id) == (
        asset.id,
        asset.sha256,
        muse.id,
    )
    check(engine, owner, [asset.sha256], explicit=True)  # no refusal: it is ours
    with read_scope(engine) as session:
        actions = [e.action for e in session.exec(select(AuditEntry)).all()]
    assert "reference.pin" in actions


def test_an_outside_upload_needs_consent_and_is_refused_in_explicit_mode(engine, tmp_path):
    owner = make_user(engine)
    with pytest.raises(PolicyRefusal, match="statement"):
        upload(engine, owner, None, tmp_path, consent=False)
    loose = upload(engine, owner, None, tmp_path)
    with pytest.raises(PolicyRefusal, match="explicit mode") as refused:
        check(engine, owner, [loose.sha256], explicit=True)
    assert refused.value.rule == "reference_explicit"
    check(engine, owner, [loose.sha256], explicit=False)
    explicit_muse = new_muse(engine, owner, nsfw=True)
    with pytest.raises(PolicyRefusal, match="explicit mode"):
        upload(engine, owner, explicit_muse.id, tmp_path)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"job_id": None}, "generated here"),
        ({"hidden": True}, "held for review"),
        ({"screening": Screening.FLAGGED}, "held for review"),
    ],
)
def test_only_own_generated_pictures_in_good_standing_are_pinned(engine, fields, message):
    owner = make_user(engine)
    muse = new_muse(engine, owner)
    asset = make_asset(engine, owner, **fields) if fields == {"job_id": None} else None
    asset = asset or generated(engine, owner, **fields)
    with pytest.raises(ValidationFailed, match=message):
        pin(engine, owner, muse, asset)


def test_another_users_picture_or_muse_is_not_found(engine):
    alice, bob = make_user(engine), make_user(engine)
    muse, asset = new_muse(engine, alice), generated(engine, bob)
    with pytest.raises(NotFound):
        pin(engine, alice, muse, asset)
    with pytest.raises(NotFound):
        pin(engine, bob, muse, asset)
    with pytest.raises(NotFound):
        check(engine, alice, [asset.sha256], explicit=False)


def test_the_same_picture_once_and_at_most_four(engine):
    owner = make_user(engine)
    muse = new_muse(engine, owner)
    first = generated(engine, owner)
    pin(engine, owner, muse, first)
    with pytest.raises(ValidationFailed, match="already"):
        pin(engine, owner, muse, first)
    for _ in range(service.MAX_REFERENCES - 1):
        pin(engine, owner, muse, generated(engine, owner))
    with pytest.raises(ValidationFailed, match="at most 4"):
        pin(engine, owner, muse, generated(engine, owner))


def test_portrait_is_chosen_falls_back_to_the_first_and_clears_on_removal(engine):
    owner = make_user(engine)
    muse, bare = new_muse(engine, owner), new_muse(engine, owner)
    one, two = generated(engine, owner), generated(engine, owner)
    ref_one, ref_two = pin(engine, owner, muse, one), pin(engine, owner, muse, two)
    with session_scope(engine) as session:
        shown = lookbook.portraits(session, owner_id=owner.id, muse_ids=[muse.id, bare.id])
        assert shown == {muse.id: one.sha256}
        lookbook.set_portrait(session, owner_id=owner.id, muse_id=muse.id, reference_id=ref_two.id)
    with session_scope(engine) as session:
        assert lookbook.portraits(session, owner_id=owner.id, muse_ids=[muse.id]) == {
            muse.id: two.sha256
        }
        lookbook.remove_reference(session, owner_id=owner.id, reference_id=ref_two.id)
    with read_scope(engine) as session:
        assert lookbook.portraits(session, owner_id=owner.id, muse_ids=[muse.id]) == {
            muse.id: one.sha256
        }
        assert [r.id for r in session.exec(select(ReferenceImage)).all()] == [ref_one.id]


def test_deleting_a_muse_unpins_its_pictures_but_keeps_them(engine):
    owner = make_user(engine)
    muse = new_muse(engine, owner)
    asset = generated(engine, owner)
    pin(engine, owner, muse, asset)
    with session_scope(engine) as session:
        service.delete_muse(session, owner_id=owner.id, muse_id=muse.id)
    with read_scope(engine) as session:
        assert session.exec(select(ReferenceImage)).all() == []
        assert session.get(type(asset), asset.id) is not None


def test_an_import_with_a_name_in_use_asks_then_makes_a_numbered_copy(engine):
    owner = make_user(engine)
    muse = new_muse(engine, owner)
    with read_scope(engine) as session:
        card = cards.export_json(service.export_card(session, owner_id=owner.id, muse_id=muse.id))
    with pytest.raises(service.DuplicateName, match="already have a muse named 'Ava'"):
        with session_scope(engine) as session:
            service.import_card(session, owner_id=owner.id, data=card, filename="a.json", now=NOW)
    names = []
    for _ in range(2):
        with session_scope(engine) as session:
            names.append(
                service.import_card(
                    session, owner_id=owner.id, data=card, filename="a.json", now=NOW, as_copy=True
                ).name
            )
    assert names == ["Ava (copy 2)", "Ava (copy 3)"]
    other = make_user(engine)
    with session_scope(engine) as session:  # another user's names do not count
        assert (
            service.import_card(
                session, owner_id=other.id, data=card, filename="a.json", now=NOW
            ).name
            == "Ava"
        )


@pytest.mark.parametrize("needle", ["pilot", "AUBURN", "freckles", "velvet"])
def test_search_finds_any_profile_text(engine, needle):
    owner = make_user(engine)
    new_muse(
        engine,
        owner,
        basic={"name": "Ava", "age": 30, "occupation": "pilot"},
        hair={"color": "auburn"},
        skin={"marks": "freckles"},
        fashion={"outfit": "a velvet gown"},
    )
    with read_scope(engine) as session:
        found = service.list_muses(session, owner_id=owner.id, search=needle)
    assert [m.name for m in found] == ["Ava"]


def test_a_card_export_then_import_keeps_every_field_and_the_look_book(engine):
    owner = make_user(engine)
    profile = every_field_profile()
    with session_scope(engine) as session:
        muse = service.create_muse(
            session, owner_id=owner.id, profile=profile, tags=("fantasy",), now=NOW
        )
    make_variation(engine, owner, muse, "gala", {"outfit": "gown"}, now=NOW)
    picture = generated(engine, owner)
    pin(engine, owner, muse, picture)
    with read_scope(engine) as session:
        exported = service.export_card(session, owner_id=owner.id, muse_id=muse.id)
    assert exported.references == [picture.sha256]
    for data, name in (
        (cards.export_json(exported), "a.json"),
        (cards.export_png(exported), "a.png"),
    ):
        with session_scope(engine) as session:
            copy = service.import_card(
                session, owner_id=owner.id, data=data, filename=name, now=NOW, as_copy=True
            )
            again = service.export_card(session, owner_id=owner.id, muse_id=copy.id)
        renamed = service.renamed(again.profile, "Ava")
        assert renamed.model_dump() == profile.model_dump()
        assert (again.tags, again.variations, again.references) == (
            exported.tags,
            exported.variations,
            exported.references,
        )
    stranger = make_user(engine)  # who does not own the picture: the muse comes without it
    with session_scope(engine) as session:
        theirs = service.import_card(
            session,
            owner_id=stranger.id,
            data=cards.export_json(exported),
            filename="a.json",
            now=NOW,
        )
        assert service.references(session, owner_id=stranger.id, muse_id=theirs.id) == []


def test_a_card_with_bad_references_is_refused_with_a_message():
    card = json.loads(
        cards.export_json(cards.CardData(validate_profile({"basic": {"name": "Ava", "age": 30}})))
    )
    for bad in (["../../etc/passwd"], ["https://example.test/x.png"], ["a" * 64] * 9):
        with pytest.raises(ValidationFailed, match="references must be at most 8 sha256"):
            cards.parse_card(json.dumps(card | {"references": bad}).encode(), "a.json")
