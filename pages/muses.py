"""Muses: build, search, import and export adult fictional characters."""

from __future__ import annotations

import streamlit as st

from core import safety
from core.db import read_scope, session_scope
from core.errors import CoreError
from core.muses import cards, schema, service
from ui import resources
from ui.auth import require_user

user = require_user()
user_id = user.id or 0
settings = resources.settings()
engine = resources.engine()
clock = resources.clock()

st.title("Muses")
st.caption("Fictional adult characters (18+) that stay consistent across your pictures.")

search_col, filter_col = st.columns([3, 1])
search = search_col.text_input("Search by name", key="m_search", max_chars=80)
explicit = filter_col.selectbox("Mode", ["all", "explicit", "standard"], key="m_mode")
with read_scope(engine) as session:
    muses = service.list_muses(
        session,
        owner_id=user_id,
        search=search or None,
        nsfw=None if explicit == "all" else explicit == "explicit",
    )


def _choice(label: str, options: tuple[str, ...], current: str, key: str) -> str:
    values = ("", *options) if "" not in options else options
    return st.selectbox(
        label, values, index=values.index(current) if current in values else 0, key=key
    )


def muse_form(existing: schema.MuseProfile | None, key: str) -> dict | None:
    """The profile form; returns the raw data when submitted."""
    p = existing or schema.MuseProfile(basic=schema.Basic(name="New muse", age=25))
    with st.form(key):
        st.markdown("**Basic**")
        a, b, c = st.columns(3)
        name = a.text_input("Name", p.basic.name, max_chars=80)
        age = b.number_input("Age (18+)", min_value=18, max_value=120, value=p.basic.age)
        genders = schema.options()["genders"]
        gender = c.selectbox(
            "Gender",
            genders,
            index=genders.index(p.basic.gender) if p.basic.gender in genders else 0,
        )
        ethnicity = a.text_input("Ethnicity", p.basic.ethnicity, max_chars=80)
        occupation = b.text_input("Occupation", p.basic.occupation, max_chars=80)
        st.markdown("**Look**")
        a, b, c = st.columns(3)
        body_type = _choice(
            "Body type", schema.options()["body_types"], p.body.body_type, f"{key}_body"
        )
        eye_color = _choice(
            "Eye colour", schema.options()["eye_colors"], p.eyes.color, f"{key}_eyes"
        )
        hair_length = _choice(
            "Hair length", schema.options()["hair_lengths"], p.hair.length, f"{key}_hlen"
        )
        hair_color = a.text_input("Hair colour", p.hair.color, max_chars=80)
        hair_style = b.text_input("Hair style", p.hair.style, max_chars=80)
        skin_tone = _choice("Skin tone", schema.options()["skin_tones"], p.skin.tone, f"{key}_skin")
        face = st.text_input("Face features", p.face.features, max_chars=400)
        jawline = a.text_input("Jawline", p.face.jawline, max_chars=80)
        cheekbones = b.text_input("Cheekbones", p.face.cheekbones, max_chars=80)
        makeup = c.text_input("Makeup", p.face.makeup, max_chars=80)
        measurements = a.text_input("Measurements", p.body.measurements, max_chars=80)
        figure = b.text_input("Figure", p.body.shape, max_chars=80)
        nationality = c.text_input("Nationality", p.basic.nationality, max_chars=80)
        lips = a.text_input("Lips", p.lips.description, max_chars=80)
        nose = b.text_input("Nose", p.nose.description, max_chars=80)
        st.markdown("**Fashion and personality**")
        outfit = st.text_input("Signature outfit", p.fashion.outfit, max_chars=400)
        lingerie = a.text_input("Lingerie", p.fashion.lingerie, max_chars=80)
        footwear = b.text_input("Footwear", p.fashion.footwear, max_chars=80)
        nails = c.text_input("Nails", p.fashion.nails, max_chars=80)
        style = a.text_input("Style", p.fashion.style, max_chars=80)
        expression = b.text_input("Expression", p.personality.expression, max_chars=80)
        traits = st.text_input("Traits (comma-separated)", ", ".join(p.personality.traits))
        st.markdown("**AI settings**")
        preset = st.selectbox("Quality", schema.PRESETS, index=schema.PRESETS.index(p.ai.preset))
        negative = st.text_input("Negative prompt", p.ai.negative_prompt, max_chars=400)
        template = st.text_input(
            "Prompt template (use {muse} and {scene})", p.ai.prompt_template, max_chars=400
        )
        nsfw = st.toggle("Explicit mode", p.ai.nsfw)
        notes = st.text_area("Notes", p.notes, max_chars=4000)
        tags = st.text_input("Tags (comma-separated)")
        if not st.form_submit_button("Save muse", type="primary"):
            return None
    return {
        "profile": {
            "basic": {
                "nationality": nationality,
                "name": name,
                "age": int(age),
                "gender": gender,
                "ethnicity": ethnicity,
                "occupation": occupation,
            },
            "body": {"body_type": body_type, "shape": figure, "measurements": measurements},
            "face": {
                "features": face,
                "jawline": jawline,
                "cheekbones": cheekbones,
                "makeup": makeup,
            },
            "eyes": {"color": eye_color},
            "hair": {"color": hair_color, "length": hair_length, "style": hair_style},
            "lips": {"description": lips},
            "nose": {"description": nose},
            "skin": {"tone": skin_tone},
            "fashion": {
                "outfit": outfit,
                "style": style,
                "lingerie": lingerie,
                "footwear": footwear,
                "nails": nails,
            },
            "personality": {
                "traits": [t.strip() for t in traits.split(",") if t.strip()],
                "expression": expression,
            },
            "ai": {
                "preset": preset,
                "negative_prompt": negative,
                "nsfw": nsfw,
                "prompt_template": template,
            },
            "notes": notes,
        },
        "tags": [t for t in tags.split(",") if t.strip()],
    }


def save(raw: dict, muse_id: int | None) -> None:
    try:
        profile = schema.validate_profile(raw["profile"])
        with session_scope(engine) as session:
            if muse_id is None:
                service.create_muse(
                    session, owner_id=user_id, profile=profile, tags=raw["tags"], now=clock.now()
                )
            else:
                service.update_muse(
                    session,
                    owner_id=user_id,
                    muse_id=muse_id,
                    profile=profile,
                    tags=raw["tags"],
                    now=clock.now(),
                )
    except CoreError as exc:
        st.error(str(exc))
    else:
        st.success(f"Saved {profile.basic.name}.")


create_tab, import_tab = st.tabs(["New muse", "Import a card"])
with create_tab:
    submitted = muse_form(None, "new_muse")
    if submitted:
        save(submitted, None)
with import_tab:
    upload = st.file_uploader("Muse card (.json or .png)", type=["json", "png"], key="m_import")
    if upload is not None and st.button("Import", key="m_import_go"):
        try:
            with session_scope(engine) as session:
                muse = service.import_card(
                    session,
                    owner_id=user_id,
                    data=upload.getvalue(),
                    filename=upload.name,
                    now=clock.now(),
                )
        except CoreError as exc:
            st.error(f"Import refused: {exc}")
        else:
            st.success(f"Imported {muse.name}.")

if not muses:
    st.info("No muses yet. Create one above.")
for muse in muses:
    with st.expander(f"{muse.name} · {muse.age} · {'explicit' if muse.nsfw else 'standard'}"):
        with read_scope(engine) as session:
            profile = service.profile_of(muse)
            card = service.export_card(session, owner_id=user_id, muse_id=muse.id or 0)
            history = service.muse_history(
                session, owner_id=user_id, muse_id=muse.id or 0, limit=10
            )
        edited = muse_form(profile, f"edit_{muse.id}")
        if edited:
            save(edited, muse.id)
        left, right = st.columns(2)
        left.download_button(
            "Export JSON", cards.export_json(card), f"{muse.name}.json", key=f"json_{muse.id}"
        )
        right.download_button(
            "Export PNG card", cards.export_png(card), f"{muse.name}.png", key=f"png_{muse.id}"
        )
        with st.form(f"ref_{muse.id}"):
            picture = st.file_uploader(
                "Reference image (IP-Adapter)", type=["png", "jpg", "jpeg", "webp"]
            )
            consent = st.checkbox(safety.CONSENT_STATEMENT)
            if st.form_submit_button("Add reference") and picture is not None:
                try:
                    with session_scope(engine) as session:
                        service.attach_reference(
                            session,
                            owner_id=user_id,
                            muse_id=muse.id or 0,
                            data=picture.getvalue(),
                            consent_given=consent,
                            media_root=settings.media_root,
                            max_bytes=settings.max_upload_bytes,
                            max_pixels=settings.max_image_pixels,
                            now=clock.now(),
                        )
                except CoreError as exc:
                    st.error(str(exc))
                else:
                    st.success("Reference added.")
        if history:
            st.write("Recent generations: " + ", ".join(f"#{j.id} ({j.status})" for j in history))
        if st.button("Duplicate", key=f"dup_{muse.id}"):
            with session_scope(engine) as session:
                service.duplicate_muse(
                    session, owner_id=user_id, muse_id=muse.id or 0, now=clock.now()
                )
            st.rerun()
        if st.button("Delete muse", key=f"del_{muse.id}"):
            with session_scope(engine) as session:
                service.delete_muse(session, owner_id=user_id, muse_id=muse.id or 0)
            st.rerun()
