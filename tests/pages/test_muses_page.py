"""The Muses page, driven through its widgets: the full form, edit keeping tags, search and
tag filter, variations, duplicate and delete, audited refusals, literal injection strings."""

from sqlmodel import select

from core.db import read_scope, session_scope
from core.models import AuditEntry, Muse, MuseVariation, User
from core.muses import service
from core.muses.schema import validate_profile


def stored(engine):
    with read_scope(engine) as session:
        return session.exec(select(Muse).order_by(Muse.id)).all()


def seed_muse(engine, name, tags=(), **sections):
    with session_scope(engine) as session:
        owner = session.exec(select(User)).one()
        profile = validate_profile({"basic": {"name": name, "age": 30}, **sections})
        return service.create_muse(
            session, owner_id=owner.id, profile=profile, tags=tags, now=owner.created_at
        )


def save_button(app, index=0):
    return [b for b in app.button if b.label == "Save muse"][index]


def test_the_form_saves_every_section_of_the_profile(signed_in, web_engine):
    app = signed_in("views/muses.py").run()
    app.text_input(key="new_muse_name").input("Ava")
    app.number_input(key="new_muse_height").set_value(172)
    app.text_input(key="new_muse_nat").input("Irish")
    app.text_input(key="new_muse_fshape").input("oval")
    app.selectbox(key="new_muse_esize").select("large")
    app.selectbox(key="new_muse_hlen").select("very long")
    app.selectbox(key="new_muse_htex").select("curly")
    app.selectbox(key="new_muse_stex").select("smooth")
    app.text_input(key="new_muse_marks").input("freckles")
    app.text_input(key="new_muse_ling").input("silk")
    app.number_input(key="new_muse_seed").set_value(77)
    app.slider(key="new_muse_w").set_value(0.5)
    app.text_input(key="new_muse_tags").input("fantasy, portrait")
    save_button(app).click().run()
    assert not app.exception
    (muse,) = stored(web_engine)
    profile = muse.profile
    assert profile["basic"]["height_cm"] == 172 and profile["basic"]["nationality"] == "Irish"
    assert profile["face"]["shape"] == "oval" and profile["eyes"]["size"] == "large"
    assert profile["hair"]["length"] == "very long" and profile["hair"]["texture"] == "curly"
    assert profile["skin"] == {**profile["skin"], "texture": "smooth", "marks": "freckles"}
    assert profile["ai"]["seed"] == 77 and profile["ai"]["reference_weight"] == 0.5
    assert muse.tags == ["fantasy", "portrait"]


def test_editing_a_muse_keeps_its_tags(signed_in, web_engine):
    app = signed_in("views/muses.py")
    muse = seed_muse(web_engine, "Ava", tags=("fantasy",))
    app.run()
    app.text_input(key=f"edit_{muse.id}_occ").input("pilot")
    save_button(app, 1).click().run()
    assert not app.exception
    (after,) = stored(web_engine)
    assert after.tags == ["fantasy"] and after.profile["basic"]["occupation"] == "pilot"


def test_search_by_trait_and_filter_by_tag(signed_in, web_engine):
    app = signed_in("views/muses.py")
    seed_muse(web_engine, "Ava", tags=("fantasy",), personality={"traits": ["adventurous"]})
    seed_muse(web_engine, "Zoe", tags=("sci-fi",))
    app.run()
    assert len(app.expander) == 2
    app.text_input(key="m_search").input("advent").run()
    assert [e.label.split(" · ")[0] for e in app.expander] == ["Ava"]
    app.text_input(key="m_search").input("").run()
    app.multiselect(key="m_tags").select("sci-fi").run()
    assert [e.label.split(" · ")[0] for e in app.expander] == ["Zoe"]


def test_variations_are_added_and_removed(signed_in, web_engine, texts):
    app = signed_in("views/muses.py")
    muse = seed_muse(web_engine, "Ava")
    app.run()
    [t for t in app.text_input if t.label == "Variation name"][0].input("Jazz")
    [t for t in app.text_input if t.label.startswith("Scenario")][0].input("at a jazz club")
    [b for b in app.button if b.label == "Add variation"][0].click().run()
    assert not app.exception
    with read_scope(web_engine) as session:
        (look,) = session.exec(select(MuseVariation)).all()
    assert (look.muse_id, look.overrides) == (muse.id, {"scenario": "at a jazz club"})
    assert "Jazz · scenario: at a jazz club" in texts(app)
    app.button(key=f"vdel_{look.id}").click().run()
    with read_scope(web_engine) as session:
        assert session.exec(select(MuseVariation)).all() == []


def test_duplicate_and_delete(signed_in, web_engine):
    app = signed_in("views/muses.py")
    muse = seed_muse(web_engine, "Ava")
    app.run()
    app.button(key=f"dup_{muse.id}").click().run()
    assert [m.name for m in stored(web_engine)] == ["Ava", "Ava (copy)"]
    app.button(key=f"del_{muse.id}").click().run()
    assert [m.name for m in stored(web_engine)] == ["Ava (copy)"]


def test_a_refused_profile_is_explained_audited_and_not_saved(signed_in, web_engine, texts):
    app = signed_in("views/muses.py").run()
    app.text_input(key="new_muse_name").input("Ava")
    app.text_area(key="new_muse_notes").input("dressed like a schoolgirl")
    app.toggle(key="new_muse_nsfw").set_value(True)
    save_button(app).click().run()
    assert "notes" in texts(app) and "under 18" in texts(app)
    assert stored(web_engine) == []
    with read_scope(web_engine) as session:
        entry = session.exec(select(AuditEntry)).all()[-1]
    assert (entry.action, entry.target, entry.details) == (
        "policy.refused",
        "muse.save",
        {"rule": "minor_youth"},
    )


def test_injection_strings_are_stored_and_shown_literally(signed_in, web_engine):
    payload = "<img src=x onerror=alert(1)>'; DROP TABLE muse;--"
    app = signed_in("views/muses.py").run()
    app.text_input(key="new_muse_name").input(payload[:80])
    app.text_input(key="new_muse_tags").input("<b>bold</b>")
    save_button(app).click().run()
    assert not app.exception
    (muse,) = stored(web_engine)
    assert muse.name == payload[:80]
    app.run()
    assert any(e.label.startswith(payload[:40]) for e in app.expander)
    assert not any(m.proto.allow_html for m in app.markdown)


def test_a_saved_muse_is_listed_at_once_with_the_confirmation(signed_in, web_engine, texts):
    app = signed_in("views/muses.py").run()
    app.text_input(key="new_muse_name").input("Ava")
    save_button(app).click().run()
    assert not app.exception
    assert "Saved Ava." in texts(app)
    assert "No muses found" not in texts(app)
    assert any(e.label.startswith("Ava · ") for e in app.expander)
