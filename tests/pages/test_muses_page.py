"""The Muses page, driven through its widgets: the card grid with portraits, a clean "new muse"
form, each muse's own page (the generated form round-trips every field, the look-book, pictures,
variations, history and remix), search over the whole profile, refusals shown and audited,
literal injection strings."""

import pytest
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from core.db import read_scope, session_scope
from core.models import AuditEntry, JobStatus, Muse, MuseVariation, ReferenceImage, User
from core.muses import lookbook, service
from core.muses.schema import validate_profile
from testing.factories import every_field_profile, make_job, make_variation
from tests.pages.conftest import ROOT, store_picture
from ui import auth
from ui.muse_page import VIEW

MODEL = "sdxl_base_1.0.safetensors"


def stored(engine):
    with read_scope(engine) as session:
        return session.exec(select(Muse).order_by(Muse.id)).all()


def seed_muse(engine, name="Ava", tags=(), profile=None, **sections):
    with session_scope(engine) as session:
        owner = session.exec(select(User)).one()
        profile = profile or validate_profile({"basic": {"name": name, "age": 30}, **sections})
        return service.create_muse(
            session, owner_id=owner.id, profile=profile, tags=tags, now=owner.created_at
        )


def button(app, label, index=0):
    return [b for b in app.button if b.label == label][index]


def opened(app, muse):
    app.session_state[VIEW] = muse.id
    return app.run()


def test_a_new_muse_is_saved_opened_and_the_next_form_is_empty(signed_in, web_engine, texts):
    app = signed_in("views/muses.py").run()
    button(app, "New muse").click().run()
    app.text_input(key="new_0_basic.name").input("Ava")
    app.number_input(key="new_0_basic.height_cm").set_value(172)
    app.text_area(key="new_0_body.details").input("a scar on the left shoulder")
    app.text_area(key="new_0_skin.details").input("sun-kissed")
    app.selectbox(key="new_0_hair.length").select("very long")
    app.multiselect(key="new_0_personality.traits").select("witty")
    app.selectbox(key="new_0_fashion.footwear").select("ankle boots")
    app.slider(key="new_0_ai.reference_weight").set_value(0.5)
    app.text_input(key="new_0_tags").input("fantasy, portrait")
    button(app, "Create muse").click().run()
    assert not app.exception
    (muse,) = stored(web_engine)
    assert muse.profile["body"]["details"] == "a scar on the left shoulder"
    assert muse.profile["skin"]["details"] == "sun-kissed"
    assert muse.profile["basic"]["height_cm"] == 172
    assert muse.profile["personality"]["traits"] == ["witty"]
    assert muse.profile["fashion"]["footwear"] == "ankle boots"
    assert muse.tags == ["fantasy", "portrait"]
    assert "Created Ava." in texts(app) and app.session_state[VIEW] == muse.id
    assert app.text_input(key=f"edit_{muse.id}_basic.name").value == "Ava"
    button(app, "← All muses").click().run()
    button(app, "New muse").click().run()
    assert app.text_input(key="new_1_basic.name").value == ""
    assert app.text_area(key="new_1_body.details").value == ""


def test_saving_an_unchanged_muse_keeps_every_field_and_an_edit_changes_only_its_field(
    signed_in, web_engine
):
    page = signed_in("views/muses.py")
    profile = every_field_profile().model_copy(deep=True)
    muse = seed_muse(web_engine, profile=profile, tags=("fantasy",))
    app = opened(page, muse)
    button(app, "Save changes").click().run()
    assert not app.exception
    (after,) = stored(web_engine)
    assert after.profile == profile.model_dump() and after.tags == ["fantasy"]
    app.text_input(key=f"edit_{muse.id}_basic.occupation").input("pilot")
    app.text_area(key=f"edit_{muse.id}_body.details").input("long limbs")
    button(app, "Save changes").click().run()
    (after,) = stored(web_engine)
    expected = profile.model_dump()
    expected["basic"]["occupation"], expected["body"]["details"] = "pilot", "long limbs"
    assert after.profile == expected


def test_the_grid_shows_cards_with_portraits_and_search_reaches_the_profile(signed_in, web_engine):
    app = signed_in("views/muses.py")
    ava = seed_muse(
        web_engine,
        "Ava",
        tags=("fantasy",),
        basic={"name": "Ava", "age": 30, "occupation": "pilot"},
    )
    seed_muse(web_engine, "Zoe", tags=("sci-fi",), hair={"color": "auburn"})
    with session_scope(web_engine) as session:
        owner = session.exec(select(User)).one()
        picture = store_picture(session, title="portrait")
    job = make_job(web_engine, owner)
    with session_scope(web_engine) as session:
        session.get(type(picture), picture.id).job_id = job.id
    with session_scope(web_engine) as session:
        lookbook.pin_picture(
            session, owner_id=owner.id, muse_id=ava.id, asset_id=picture.id, now=owner.created_at
        )
    app.run()
    assert not app.exception
    assert [b.key for b in app.button if b.key.startswith("open_")] == [
        f"open_{m.id}" for m in stored(web_engine)
    ]
    assert len(app.get("image")) == 1  # Ava's portrait; Zoe has none yet
    for needle, names in (("pilot", ["Ava"]), ("auburn", ["Zoe"]), ("nobody", [])):
        app.text_input(key="m_search").input(needle).run()
        shown = [m for m in stored(web_engine) if f"open_{m.id}" in {b.key for b in app.button}]
        assert [m.name for m in shown] == names
    app.text_input(key="m_search").input("").run()
    app.multiselect(key="m_tags").select("sci-fi").run()
    assert [b.key for b in app.button if b.key.startswith("open_")] == [
        f"open_{stored(web_engine)[1].id}"
    ]


def test_pinning_a_picture_shows_it_with_a_remove_button_and_a_portrait(
    signed_in, web_engine, texts
):
    page = signed_in("views/muses.py")
    muse = seed_muse(web_engine, "Ava", ai={"nsfw": True})
    with session_scope(web_engine) as session:
        owner = session.exec(select(User)).one()
        picture = store_picture(session, title="made here")
    job = make_job(web_engine, owner, muse_id=muse.id)
    with session_scope(web_engine) as session:
        asset = session.get(type(picture), picture.id)
        asset.job_id, asset.muse_id = job.id, muse.id
    app = opened(page, muse)
    assert "(0 of 4)" in texts(app)
    assert "cannot guide an explicit muse" in texts(app)  # no outside upload form
    app.button(key=f"pin_{picture.id}").click().run()
    assert not app.exception
    assert "Pinned to the look-book." in texts(app) and "(1 of 4)" in texts(app)
    with read_scope(web_engine) as session:
        (ref,) = session.exec(select(ReferenceImage)).all()
    assert ref.asset_id == picture.id
    assert "portrait · your picture" not in texts(app)
    app.button(key=f"portrait_{ref.id}").click().run()
    assert "portrait · your picture" in texts(app)
    app.button(key=f"unpin_{ref.id}").click().run()
    assert "(0 of 4)" in texts(app)
    with read_scope(web_engine) as session:
        assert session.exec(select(ReferenceImage)).all() == []


def test_a_refusal_is_shown_above_the_tabs_audited_and_not_saved(signed_in, web_engine, texts):
    page = signed_in("views/muses.py")
    muse = seed_muse(web_engine, "Ava")
    app = opened(page, muse)
    app.text_area(key=f"edit_{muse.id}_notes").input("dressed like a schoolgirl")
    app.toggle(key=f"edit_{muse.id}_ai.nsfw").set_value(True)
    button(app, "Save changes").click().run()
    assert "notes" in str(app.error[0].value) and "under 18" in str(app.error[0].value)
    assert stored(web_engine)[0].profile["notes"] == ""
    with read_scope(web_engine) as session:
        entry = session.exec(select(AuditEntry)).all()[-1]
    assert (entry.action, entry.target, entry.details) == (
        "policy.refused",
        "muse.save",
        {"rule": "minor_youth"},
    )


def test_variations_are_added_and_removed(signed_in, web_engine, texts):
    page = signed_in("views/muses.py")
    muse = seed_muse(web_engine, "Ava")
    app = opened(page, muse)
    [t for t in app.text_input if t.label == "Variation name"][0].input("Jazz")
    [t for t in app.text_input if t.label.startswith("Scenario")][0].input("at a jazz club")
    button(app, "Add variation").click().run()
    assert not app.exception
    with read_scope(web_engine) as session:
        (look,) = session.exec(select(MuseVariation)).all()
    assert (look.muse_id, look.overrides) == (muse.id, {"scenario": "at a jazz club"})
    assert "Jazz · scenario: at a jazz club" in texts(app)
    app.button(key=f"vdel_{look.id}").click().run()
    with read_scope(web_engine) as session:
        assert session.exec(select(MuseVariation)).all() == []


def test_duplicate_opens_the_copy_and_delete_asks_first(signed_in, web_engine):
    page = signed_in("views/muses.py")
    muse = seed_muse(web_engine, "Ava")
    app = opened(page, muse)
    app.button(key=f"dup_{muse.id}").click().run()
    ava, copy = stored(web_engine)
    assert copy.name == "Ava (copy)" and app.session_state[VIEW] == copy.id
    app.button(key=f"del_{copy.id}").click().run()
    assert len(stored(web_engine)) == 2  # asked, not yet deleted
    app.button(key=f"del_muse_{copy.id}_yes").click().run()
    assert [m.name for m in stored(web_engine)] == ["Ava"] and app.session_state[VIEW] is None


def test_history_lists_settings_and_remix_fills_the_studio(signed_in, web_engine, texts):
    app = signed_in("Home.py").run()
    muse = seed_muse(web_engine, "Ava", ai={"preset": "high"})
    with read_scope(web_engine) as session:
        owner = session.exec(select(User)).one()
    look = make_variation(web_engine, owner, muse, "Gala", {"outfit": "a velvet gown"})
    job = make_job(
        web_engine, owner, muse_id=muse.id, variation_id=look.id, seed=4242, model=MODEL,
        preset="low", prompt="portrait of Ava, a 30-year-old adult woman, on a balcony, ...",
        request={
            "written": {"prompt": "on a balcony"},
            "reference_preset": "style",
            "reference_weight": 0.9,
        },
    )  # fmt: skip
    app.switch_page("views/muses.py").run()
    app.session_state[VIEW] = muse.id
    app.run()
    assert f"#{job.id} · queued · {MODEL} · low · seed 4242 · batch 1 · on a balcony" in texts(app)
    app.button(key=f"remix_{job.id}").click().run()
    assert not app.exception
    assert app.selectbox(key="studio_muse").value == f"Ava (#{muse.id})"
    # The scene, not the prompt composed from it: the Studio composes the muse again.
    assert app.text_area(key="studio_prompt").value == "on a balcony"
    assert app.selectbox(key="studio_variation").value == "Gala"
    assert (
        app.selectbox(key="studio_ref_preset").value,
        app.slider(key="studio_ref_weight").value,
    ) == (
        "style",
        0.9,
    )
    assert (
        app.number_input(key="studio_seed").value,
        app.checkbox(key="studio_random_seed").value,
    ) == (4242, False)
    assert (app.selectbox(key="studio_model").value, app.selectbox(key="studio_preset").value) == (
        MODEL,
        "low",
    )


def test_choosing_a_muse_in_the_studio_takes_its_ai_settings(signed_in, web_engine):
    app = signed_in("views/studio.py")
    muse = seed_muse(
        web_engine,
        "Ava",
        ai={"preset": "high", "seed": 99, "model": MODEL, "negative_prompt": "blurry"},
    )
    app.run()
    app.selectbox(key="studio_muse").select(f"Ava (#{muse.id})").run()
    assert not app.exception
    assert app.selectbox(key="studio_preset").value == "high"
    assert (
        app.checkbox(key="studio_random_seed").value,
        app.number_input(key="studio_seed").value,
    ) == (False, 99)
    assert app.text_area(key="studio_negative").value == "blurry"


def test_a_muses_loras_size_and_ip_adapter_settings_fill_the_studio(signed_in, web_engine, texts):
    lora = "sd_xl_offset_example-lora_1.0.safetensors"
    app = signed_in("views/studio.py")
    muse = seed_muse(
        web_engine,
        "Ava",
        ai={
            "model": MODEL,
            "loras": [{"name": lora, "weight": 0.35}, {"name": "gone.safetensors"}],
            "width": 832,
            "height": 1216,
            "reference_weight": 0.6,
            "reference_preset": "face",
        },
    )
    app.run()
    app.selectbox(key="studio_muse").select(f"Ava (#{muse.id})").run()
    assert not app.exception
    assert app.multiselect(key="tools_loras").value == ["SDXL offset noise (deeper contrast)"]
    assert app.slider(key=f"tools_lora_weight_{lora}").value == 0.35
    assert app.selectbox(key="tools_size").value == "Custom size"
    assert (
        app.number_input(key="tools_width").value,
        app.number_input(key="tools_height").value,
    ) == (
        832,
        1216,
    )
    assert app.selectbox(key="studio_ref_preset").value == "face"
    assert app.slider(key="studio_ref_weight").value == 0.6
    assert "Not applied from the muse: Unknown LoRA 'gone.safetensors'." in texts(app)


def test_the_studio_shows_each_chunk_of_a_long_muse_prompt_as_sent(signed_in, web_engine, texts):
    app = signed_in("views/studio.py")
    muse = seed_muse(
        web_engine,
        "Ava",
        body={"details": "long elegant limbs " * 21},
        skin={"details": "a small scar above the left eyebrow " * 11},
    )
    app.run()
    app.selectbox(key="studio_muse").select(f"Ava (#{muse.id})").run()
    app.text_area(key="studio_prompt").input("on a balcony").run()
    assert not app.exception
    shown = [caption.value for caption in app.caption]
    assert any(t.startswith("Prompt, chunk 1 of ") and "of 75 tokens" in t for t in shown)
    assert any(t.startswith("Prompt, chunk 2 of ") for t in shown)
    sent = [t.value for t in app.text]
    assert sent[0].startswith("portrait of Ava, a 30-year-old adult woman, on a balcony")


def test_another_users_muse_is_not_found(signed_in, web_engine, texts):
    app = signed_in("views/muses.py")
    app.session_state[VIEW] = 999
    app.run()
    assert "No such muse." in texts(app)


def test_injection_strings_are_stored_and_shown_literally(signed_in, web_engine):
    payload = "<img src=x onerror=alert(1)>'; DROP TABLE muse;--"
    app = signed_in("views/muses.py")
    seed_muse(web_engine, payload[:80], tags=("<b>bold</b>",))
    app.run()
    assert not app.exception
    assert stored(web_engine)[0].name == payload[:80]
    assert any(payload[:40] in str(m.value) for m in app.markdown)
    assert not any(m.proto.allow_html for m in app.markdown)


def generated_picture(engine, owner, title, colour):
    """A stored picture of `owner` made by a finished job of theirs."""
    job = make_job(engine, owner, status=JobStatus.SUCCEEDED)
    with session_scope(engine) as session:
        picture = store_picture(session, title=title, colour=colour)
        picture.job_id = job.id
        session.add(picture)
    return job, picture


def test_a_result_in_the_studio_and_a_picture_in_the_gallery_pin_to_a_muse(
    signed_in, web_engine, texts
):
    studio = signed_in("views/studio.py")
    muse = seed_muse(web_engine, "Ava")
    with session_scope(web_engine) as session:
        owner = session.exec(select(User)).one()
    job, result = generated_picture(web_engine, owner, "result", "teal")
    studio.session_state["studio_active_job"] = job.id
    studio.run()
    studio.button(key=f"spin_active_{result.id}_pin").click().run()
    assert not studio.exception and "Pinned to Ava's look-book." in texts(studio)
    _job, other = generated_picture(web_engine, owner, "other", "navy")
    gallery = AppTest.from_file(str(ROOT / "views/gallery.py"), default_timeout=30)
    for key in ("age_confirmed", auth.SESSION_KEY):
        gallery.session_state[key] = studio.session_state[key]
    gallery.session_state["g_open"] = other.id
    gallery.run()
    gallery.button(key=f"gpin_{other.id}_pin").click().run()
    assert not gallery.exception and "Pinned to Ava's look-book." in texts(gallery)
    with read_scope(web_engine) as session:
        pinned = session.exec(select(ReferenceImage).order_by(ReferenceImage.id)).all()
    assert [(r.muse_id, r.asset_id) for r in pinned] == [(muse.id, result.id), (muse.id, other.id)]


def test_a_deep_link_opens_the_muses_own_page(signed_in, web_engine):
    app = signed_in("views/muses.py")
    muse = seed_muse(web_engine, "Ava")
    app.query_params["muse"] = str(muse.id)
    app.run()
    assert not app.exception
    assert app.session_state[VIEW] == muse.id
    assert app.text_input(key=f"edit_{muse.id}_basic.name").value == "Ava"


@pytest.mark.parametrize("link", ["\u00b2", "99999999999999999999", "0", "abc", "-1"])
def test_a_deep_link_to_no_muse_opens_the_list_or_says_so(signed_in, web_engine, texts, link):
    """Before: `?muse=\u00b2` (a digit to str.isdigit, not to int) stopped the page with a
    ValueError, and an id past the id column with an OverflowError (SQLite) or an
    integer-out-of-range error (PostgreSQL)."""
    app = signed_in("views/muses.py")
    app.query_params["muse"] = link
    app.run()
    assert not app.exception
    assert app.session_state[VIEW] is None or "No such muse." in texts(app)
