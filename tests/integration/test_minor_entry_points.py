"""Every way text reaches a generation refuses a minor the same way: MINOR_MESSAGE, a
`policy.refused` audit row with the rule, and nothing written (no job, hold, muse or variation).

Entry points: the studio prompt, a muse's scene (composed into the prompt), a stored muse or
variation whose text the policy now refuses (screened again at submit), a new muse, a
variation, a card import (web path and `aikings-muses`), the ComfyUI try-out
(`aikings-comfy-try`), and the HTTP API (`POST /v1/jobs`, a prompt or a muse's scene). The
pages' own wiring of these is driven with AppTest in tests/pages/test_minor_entry_points_pages.py.
"""

import io
import json

import pytest
from sqlmodel import select

from cli import comfy_try
from cli import muses as muse_cli
from core.accounts import ledger
from core.db import read_scope, session_scope
from core.errors import PolicyRefusal
from core.models import AuditEntry, AuditOutcome, GenerationJob, Muse, MuseVariation
from core.muses import service
from core.muses.schema import validate_profile
from core.refusals import audited_refusals
from core.safety import MINOR_MESSAGE
from testing.factories import make_funded_user, make_user
from tests.integration.conftest import ADMIN_KEY
from tests.integration.test_api import _serve
from tests.integration.test_studio_submit import submit

# One per kind of rule, several languages; the fake clock's year is 2026.
MINORS = [
    ("a toddler in a sandbox", "minor_youth"),
    ("ein Mädchen mit Zöpfen", "minor_youth"),
    ("a girl born in 2015, on a swing", "minor_birth_year"),
    ("her cousin, 10, at the lake", "minor_age"),
    ("子供が公園で遊ぶ", "minor_youth"),
    ("a kid rock climbing at camp", "minor_youth"),  # a name's words, not written as the name
]


def last_audit(engine):
    with read_scope(engine) as session:
        entry = session.exec(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    return entry.action, entry.outcome, entry.target, entry.details


def counts(engine):
    with read_scope(engine) as session:
        return tuple(
            len(session.exec(select(model)).all()) for model in (GenerationJob, Muse, MuseVariation)
        )


def funded_user(engine, clock):
    return make_funded_user(engine, 100, now=clock.now())


def a_muse(engine, user, clock):
    profile = validate_profile({"basic": {"name": "Ava", "age": 30}})
    with session_scope(engine) as session:
        return service.create_muse(
            session, owner_id=user.id, profile=profile, tags=(), now=clock.now()
        )


def assert_refused_the_same_way(info, engine, *, target, rule, before):
    assert MINOR_MESSAGE in str(info.value)
    assert info.value.rule == rule
    assert last_audit(engine) == ("policy.refused", AuditOutcome.DENIED, target, {"rule": rule})
    assert counts(engine) == before


@pytest.mark.parametrize(("text", "rule"), MINORS)
def test_the_studio_prompt(engine, fake_clock, text, rule):
    user = funded_user(engine, fake_clock)
    before = counts(engine)
    with pytest.raises(PolicyRefusal) as info:
        submit(engine, user, fake_clock, prompt=text)
    assert_refused_the_same_way(info, engine, target="studio.submit", rule=rule, before=before)
    with read_scope(engine) as session:
        assert ledger.balance(session, user.id) == 100  # no hold was taken


@pytest.mark.parametrize(("text", "rule"), MINORS)
def test_a_muse_scene_composed_into_the_prompt(engine, fake_clock, text, rule):
    user = funded_user(engine, fake_clock)
    muse = a_muse(engine, user, fake_clock)
    with read_scope(engine) as session:
        composed = service.prompt_for(session, owner_id=user.id, muse_id=muse.id, scene=text)
    before = counts(engine)
    with pytest.raises(PolicyRefusal) as info:
        submit(engine, user, fake_clock, prompt=composed.positive, muse_id=muse.id)
    assert_refused_the_same_way(info, engine, target="studio.submit", rule=rule, before=before)


@pytest.mark.parametrize(("text", "rule"), MINORS)
def test_a_stored_muse_or_variation_is_screened_again_at_submit(engine, fake_clock, text, rule):
    """Text saved before the policy tightened (written past the screen here) is refused."""
    user = funded_user(engine, fake_clock)
    muse = a_muse(engine, user, fake_clock)
    with session_scope(engine) as session:
        session.add(MuseVariation(muse_id=muse.id, name="old", overrides={"scenario": text}))
    with read_scope(engine) as session:
        variation = session.exec(select(MuseVariation)).one()
    before = counts(engine)
    with pytest.raises(PolicyRefusal) as info:
        submit(engine, user, fake_clock, muse_id=muse.id, variation_id=variation.id)
    assert_refused_the_same_way(info, engine, target="studio.submit", rule=rule, before=before)
    with session_scope(engine) as session:
        stored = session.get(Muse, muse.id)
        stored.profile = {**stored.profile, "notes": text}
        session.add(stored)
    with pytest.raises(PolicyRefusal) as info:
        submit(engine, user, fake_clock, muse_id=muse.id)
    assert_refused_the_same_way(info, engine, target="studio.submit", rule=rule, before=before)


@pytest.mark.parametrize(("text", "rule"), MINORS)
def test_a_new_muse_and_a_variation(engine, fake_clock, text, rule):
    user = make_user(engine)
    muse = a_muse(engine, user, fake_clock)
    before = counts(engine)
    actor = f"user:{user.id}"
    profile = validate_profile({"basic": {"name": "Bea", "age": 30}, "notes": text})
    with pytest.raises(PolicyRefusal) as info:
        with (
            audited_refusals(engine, actor=actor, target="muse.save", clock=fake_clock),
            session_scope(engine) as session,
        ):
            service.create_muse(
                session, owner_id=user.id, profile=profile, tags=(), now=fake_clock.now()
            )
    assert_refused_the_same_way(info, engine, target="muse.save", rule=rule, before=before)
    with pytest.raises(PolicyRefusal) as info:
        with (
            audited_refusals(engine, actor=actor, target="muse.variation", clock=fake_clock),
            session_scope(engine) as session,
        ):
            service.add_variation(
                session,
                owner_id=user.id,
                muse_id=muse.id,
                name="look",
                overrides={"scenario": text},
                now=fake_clock.now(),
            )
    assert_refused_the_same_way(info, engine, target="muse.variation", rule=rule, before=before)


def card(**profile):
    return {
        "format": "aikings.muse",
        "version": 1,
        "profile": {"basic": {"name": "Ava", "age": 30}} | profile,
        "tags": [],
        "variations": [],
    }


@pytest.mark.parametrize(("text", "rule"), [*MINORS, (17, "minor_age")])
def test_a_card_import_on_the_web_path(engine, fake_clock, text, rule):
    user = make_user(engine)
    data = card(notes=text) if isinstance(text, str) else card(basic={"name": "A", "age": text})
    before = counts(engine)
    with pytest.raises(PolicyRefusal) as info:
        with (
            audited_refusals(
                engine, actor=f"user:{user.id}", target="muse.import", clock=fake_clock
            ),
            session_scope(engine) as session,
        ):
            service.import_card(
                session,
                owner_id=user.id,
                data=json.dumps(data).encode(),
                filename="card.json",
                now=fake_clock.now(),
            )
    assert_refused_the_same_way(info, engine, target="muse.import", rule=rule, before=before)


@pytest.mark.parametrize(("text", "rule"), [*MINORS[:3], (17, "minor_age")])
def test_a_card_import_on_the_command_line(cli_db, tmp_path, capsys, text, rule):
    engine, _ = cli_db
    data = card(notes=text) if isinstance(text, str) else card(basic={"name": "A", "age": text})
    path = tmp_path / "card.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    before = counts(engine)
    status = muse_cli.main(
        ["import", "--owner", "ava_owner", str(path)], stdin=io.StringIO(ADMIN_KEY)
    )
    assert status == 2 and MINOR_MESSAGE in capsys.readouterr().err
    assert last_audit(engine) == (
        "policy.refused",
        AuditOutcome.DENIED,
        "cli.muse.import",
        {"rule": rule},
    )
    assert counts(engine) == before


@pytest.mark.parametrize(("text", "rule"), MINORS)
def test_the_comfy_try_out_on_the_command_line(cli_db, tmp_path, text, rule):
    """Refused before ComfyUI is reached: the URL here answers nothing, which would be 1."""
    engine, _ = cli_db
    out = io.StringIO()
    target = tmp_path / "out"
    status = comfy_try.main(["http://127.0.0.1:9", "--prompt", text, "--out", str(target)], out=out)
    assert status == 2 and MINOR_MESSAGE in out.getvalue()
    assert "health:" not in out.getvalue() and not target.exists()
    assert last_audit(engine) == (
        "policy.refused",
        AuditOutcome.DENIED,
        "cli.comfy.try",
        {"rule": rule},
    )


@pytest.fixture
def api(engine):
    yield from _serve(engine)


def test_the_http_api_a_prompt_or_a_muse_scene_in_either_mode(api, engine, fake_clock):
    user, token = api.user_with_token()
    muse = a_muse(engine, user, fake_clock)
    before = counts(engine)
    with api.client(token) as client:
        for text, rule in MINORS:
            for extra in ({}, {"muse_id": muse.id}, {"explicit": True}):
                reply = client.post("/v1/jobs", json={"prompt": text, **extra})
                assert reply.status_code == 422, (text, extra)
                assert reply.json() == {"error": MINOR_MESSAGE}
                assert last_audit(engine) == (
                    "policy.refused",
                    AuditOutcome.DENIED,
                    "studio.submit",
                    {"rule": rule},
                )
    assert counts(engine) == before
    with read_scope(engine) as session:
        assert ledger.balance(session, user.id) == 100  # no hold was taken
