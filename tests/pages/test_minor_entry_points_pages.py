"""The pages' entry points refuse a minor with MINOR_MESSAGE and one audit row: the studio
prompt, a muse's scene, the muse form and the variation form (driven through their widgets).
Card imports go through a file uploader AppTest cannot drive; their web path and the CLI are
covered in tests/integration/test_minor_entry_points.py."""

from sqlmodel import select

from core.db import read_scope, session_scope
from core.models import AuditEntry, GenerationJob, Muse, MuseVariation, User
from core.muses import service
from core.muses.schema import validate_profile
from core.safety import MINOR_MESSAGE


def last_refusal(engine):
    with read_scope(engine) as session:
        entry = session.exec(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        written = [
            len(session.exec(select(model)).all()) for model in (GenerationJob, MuseVariation)
        ]
    return (entry.action, entry.target, entry.details), written


def seed_muse(engine):
    with session_scope(engine) as session:
        owner = session.exec(select(User)).one()
        profile = validate_profile({"basic": {"name": "Ava", "age": 30}})
        return service.create_muse(
            session, owner_id=owner.id, profile=profile, tags=(), now=owner.created_at
        )


def test_the_studio_prompt_and_a_muse_scene(signed_in, web_engine, texts):
    app = signed_in("views/studio.py")
    muse = seed_muse(web_engine)
    app.run()
    app.text_area(key="studio_prompt").input("her cousin, 10, at the lake").run()
    app.button(key="studio_generate").click().run()
    assert MINOR_MESSAGE in texts(app)
    assert last_refusal(web_engine) == (
        ("policy.refused", "studio.submit", {"rule": "minor_age"}),
        [0, 0],
    )
    app.selectbox(key="studio_muse").select(f"Ava (#{muse.id})").run()
    app.text_area(key="studio_prompt").input("with a toddler on her lap").run()
    app.button(key="studio_generate").click().run()
    assert MINOR_MESSAGE in texts(app)
    assert last_refusal(web_engine) == (
        ("policy.refused", "studio.submit", {"rule": "minor_youth"}),
        [0, 0],
    )


def test_the_muse_form_and_the_variation_form(signed_in, web_engine, texts):
    app = signed_in("views/muses.py")
    muse = seed_muse(web_engine)
    app.run()
    app.button(key="m_new").click().run()
    app.text_input(key="new_0_basic.name").input("Bea")
    app.text_area(key="new_0_notes").input("born in 2015")
    [b for b in app.button if b.label == "Create muse"][0].click().run()
    assert MINOR_MESSAGE in texts(app)
    assert last_refusal(web_engine) == (
        ("policy.refused", "muse.save", {"rule": "minor_birth_year"}),
        [0, 0],
    )
    with read_scope(web_engine) as session:
        assert [m.id for m in session.exec(select(Muse)).all()] == [muse.id]
    app.session_state["m_view"] = muse.id
    app.run()
    [t for t in app.text_input if t.label == "Variation name"][0].input("Park")
    [t for t in app.text_input if t.label.startswith("Scenario")][0].input("mit einem Kleinkind")
    [b for b in app.button if b.label == "Add variation"][0].click().run()
    assert MINOR_MESSAGE in texts(app)
    assert last_refusal(web_engine) == (
        ("policy.refused", "muse.variation", {"rule": "minor_youth"}),
        [0, 0],
    )
