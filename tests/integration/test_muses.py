"""Muse use cases on SQLite and PostgreSQL: screening, ownership, import, references."""

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from core.db import read_scope, session_scope
from core.errors import NotFound, PolicyRefusal, ValidationFailed
from core.models import AuditEntry, Muse
from core.muses import cards, service
from core.muses.schema import validate_profile
from testing.factories import attach_outside_reference, make_job, make_user, make_variation

NOW = datetime(2026, 11, 24, tzinfo=UTC)
PROFILE = {"basic": {"name": "Ava", "age": 27}, "fashion": {"outfit": "a red coat"}}


def create(engine, owner, data=None, tags=("fantasy",)):
    with session_scope(engine) as session:
        return service.create_muse(
            session,
            owner_id=owner.id,
            profile=validate_profile(data or PROFILE),
            tags=tags,
            now=NOW,
        )


def test_database_refuses_an_underage_row_even_past_the_code(engine):
    owner = make_user(engine)
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        session.add(Muse(owner_id=owner.id, name="x", age=17))


def test_create_screens_free_text(engine):
    owner = make_user(engine)
    bad = {**PROFILE, "notes": "she is a schoolgirl", "ai": {"nsfw": True}}
    with pytest.raises(PolicyRefusal, match="notes"):
        create(engine, owner, bad)
    assert create(engine, owner).age == 27


def test_other_users_cannot_see_or_touch_a_muse(engine):
    alice, bob = make_user(engine), make_user(engine)
    muse = create(engine, alice)
    with session_scope(engine) as session:
        for call in (
            lambda: service.get_muse(session, owner_id=bob.id, muse_id=muse.id),
            lambda: service.muse_history(session, owner_id=bob.id, muse_id=muse.id),
            lambda: service.delete_muse(session, owner_id=bob.id, muse_id=muse.id),
            lambda: service.prompt_for(session, owner_id=bob.id, muse_id=muse.id, scene="x"),
            lambda: service.update_muse(
                session,
                owner_id=bob.id,
                muse_id=muse.id,
                profile=validate_profile(PROFILE),
                tags=(),
                now=NOW,
            ),
        ):
            with pytest.raises(NotFound):
                call()
        assert service.list_muses(session, owner_id=bob.id) == []


def test_list_search_filter_update_and_history(engine):
    owner = make_user(engine)
    ava = create(engine, owner)
    create(engine, owner, {"basic": {"name": "Zoe", "age": 40}}, tags=("sci-fi",))
    job = make_job(engine, owner, muse_id=ava.id)
    with session_scope(engine) as session:
        assert [m.name for m in service.list_muses(session, owner_id=owner.id, search="av")] == [
            "Ava"
        ]
        assert [
            m.name for m in service.list_muses(session, owner_id=owner.id, tags=["sci-fi"])
        ] == ["Zoe"]
        changed = {**PROFILE, "basic": {"name": "Ava Rose", "age": 28}}
        service.update_muse(
            session,
            owner_id=owner.id,
            muse_id=ava.id,
            profile=validate_profile(changed),
            tags=["Portrait"],
            now=NOW,
        )
        assert [j.id for j in service.muse_history(session, owner_id=owner.id, muse_id=ava.id)] == [
            job.id
        ]
    with read_scope(engine) as session:
        stored = session.get(Muse, ava.id)
        assert (stored.name, stored.age, stored.tags) == ("Ava Rose", 28, ["portrait"])


def test_variations_compose_and_delete(engine):
    owner = make_user(engine)
    muse = create(engine, owner)
    variation = make_variation(engine, owner, muse, "Gala", {"outfit": "a silver gown"}, now=NOW)
    with pytest.raises(ValidationFailed, match="only"):
        make_variation(engine, owner, muse, "x", {"age": "12"}, now=NOW)
    with read_scope(engine) as session:
        prompt = service.prompt_for(
            session, owner_id=owner.id, muse_id=muse.id, scene="a ball", variation_id=variation.id
        )
    assert "wearing a silver gown" in prompt.positive
    with session_scope(engine) as session:
        service.delete_variation(session, owner_id=owner.id, variation_id=variation.id)
        assert service.variations(session, owner_id=owner.id, muse_id=muse.id) == []


def test_import_is_all_or_nothing(engine):
    owner = make_user(engine)
    good = cards.CardData(validate_profile(PROFILE), ["fantasy"], [("gala", {"outfit": "gown"})])
    bad = cards.CardData(validate_profile(PROFILE), [], [("x", {"outfit": "a schoolgirl uniform"})])
    bad_card = cards.export_json(bad).replace(b'"nsfw": false', b'"nsfw": true')
    with session_scope(engine) as session:
        muse = service.import_card(
            session, owner_id=owner.id, data=cards.export_json(good), filename="ava.json", now=NOW
        )
        assert service.export_card(session, owner_id=owner.id, muse_id=muse.id) == good
    with pytest.raises(PolicyRefusal), session_scope(engine) as session:
        service.import_card(session, owner_id=owner.id, data=bad_card, filename="bad.json", now=NOW)
    with read_scope(engine) as session:
        assert session.exec(select(sa.func.count()).select_from(Muse)).one() == 1


def test_reference_images_need_consent_and_are_audited(engine, tmp_path):
    owner = make_user(engine)
    muse = create(engine, owner)
    with pytest.raises(PolicyRefusal, match="statement"):
        attach_outside_reference(
            engine, owner, tmp_path, muse_id=muse.id, consent_given=False, now=NOW
        )
    ref = attach_outside_reference(engine, owner, tmp_path, muse_id=muse.id, now=NOW)
    with read_scope(engine) as session:
        actions = [e.action for e in session.exec(select(AuditEntry)).all()]
    assert ref.consent_statement and "reference.consent" in actions


def test_delete_keeps_jobs_but_unlinks_them(engine):
    owner = make_user(engine)
    muse = create(engine, owner)
    job = make_job(engine, owner, muse_id=muse.id)
    with session_scope(engine) as session:
        service.add_variation(
            session,
            owner_id=owner.id,
            muse_id=muse.id,
            name="v",
            overrides={"outfit": "coat"},
            now=NOW,
        )
        service.delete_muse(session, owner_id=owner.id, muse_id=muse.id)
    with read_scope(engine) as session:
        assert session.get(Muse, muse.id) is None
        assert session.get(type(job), job.id).muse_id is None


def test_duplicate_copies_profile_tags_and_variations(engine):
    owner = make_user(engine)
    muse = create(engine, owner)
    make_variation(engine, owner, muse, "Gala", {"outfit": "a gown"}, now=NOW)
    with session_scope(engine) as session:
        copy = service.duplicate_muse(session, owner_id=owner.id, muse_id=muse.id, now=NOW)
    with read_scope(engine) as session:
        assert copy.name == "Ava (copy)" and copy.tags == ["fantasy"]
        assert [
            v.name for v in service.variations(session, owner_id=owner.id, muse_id=copy.id)
        ] == ["Gala"]


def test_search_matches_traits_and_notes(engine):
    owner = make_user(engine)
    create(
        engine,
        owner,
        {
            "basic": {"name": "Ava", "age": 30},
            "personality": {"traits": ["Adventurous"]},
            "notes": "sails boats",
        },
    )
    create(engine, owner, {"basic": {"name": "Zoe", "age": 30}})
    with read_scope(engine) as session:
        for needle in ("advent", "SAILS", "ava"):
            assert [
                m.name for m in service.list_muses(session, owner_id=owner.id, search=needle)
            ] == ["Ava"]
