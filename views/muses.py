"""Muses: build, search, import and export adult fictional characters."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

import streamlit as st

from core.errors import CoreError
from core.muses import cards, schema, service
from ui import db, resources
from ui.auth import require_user
from ui.references import upload_reference

user = require_user()
user_id = user.id or 0
presets = resources.presets()


def refusals_audited(target: str) -> AbstractContextManager[None]:
    """Audit a content-policy refusal raised by the muse use case `target`."""
    return db.refusals_audited(actor=f"user:{user_id}", target=target)


st.title("Muses")
st.caption("Fictional adult characters (18+) that stay consistent across your pictures.")
_SAVED = "m_saved"
if saved := st.session_state.pop(_SAVED, None):
    st.success(saved)

search_col, tag_col, filter_col = st.columns([2, 2, 1])
search = search_col.text_input("Search by name, trait or tag", key="m_search", max_chars=80)
with db.reading() as session:
    all_tags = sorted({t for m in service.list_muses(session, owner_id=user_id) for t in m.tags})
tag_filter = tag_col.multiselect("Tags", all_tags, key="m_tags")
explicit = filter_col.selectbox("Mode", ["all", "explicit", "standard"], key="m_mode")
with db.reading() as session:
    muses = service.list_muses(
        session,
        owner_id=user_id,
        search=search or None,
        tags=tag_filter,
        nsfw=None if explicit == "all" else explicit == "explicit",
    )


def _choice(label: str, list_name: str, current: str, key: str) -> str:
    options = schema.options()[list_name]
    values = ("", *options) if "" not in options else options
    return st.selectbox(
        label, values, index=values.index(current) if current in values else 0, key=key
    )


def _text(label: str, current: str, key: str, max_chars: int = 80) -> str:
    return st.text_input(label, current, max_chars=max_chars, key=key)


def muse_form(
    existing: schema.MuseProfile | None, tags: list[str], key: str
) -> dict[str, Any] | None:
    """The profile form, every section of the profile; returns the raw data when submitted."""
    p = existing or schema.MuseProfile(basic=schema.Basic(name="New muse", age=25))
    k = key
    with st.form(key):
        st.markdown("**Basic**")
        a, b, c = st.columns(3)
        with a:
            name = st.text_input("Name", p.basic.name, max_chars=80, key=f"{k}_name")
            nationality = _text("Nationality", p.basic.nationality, f"{k}_nat")
        with b:
            age = st.number_input(
                "Age (18+)", min_value=18, max_value=120, value=p.basic.age, key=f"{k}_age"
            )
            ethnicity = _text("Ethnicity", p.basic.ethnicity, f"{k}_eth")
        with c:
            gender = _choice("Gender", "genders", p.basic.gender, f"{k}_gender")
            occupation = _text("Occupation", p.basic.occupation, f"{k}_occ")
        st.markdown("**Body**")
        a, b, c, d = st.columns(4)
        with a:
            height = st.number_input(
                "Height (cm, 0 = unset)", 0, 220, p.basic.height_cm or 0, key=f"{k}_height"
            )
        with b:
            build = _choice("Build", "body_types", p.body.body_type, f"{k}_body")
        with c:
            figure = _text("Shape", p.body.shape, f"{k}_shape")
        with d:
            measurements = _text("Measurements", p.body.measurements, f"{k}_meas")
        st.markdown("**Face, eyes, lips, nose**")
        a, b, c, d = st.columns(4)
        with a:
            face_shape = _text("Face shape", p.face.shape, f"{k}_fshape")
            eye_color = _choice("Eye colour", "eye_colors", p.eyes.color, f"{k}_eyes")
            lips = _text("Lips", p.lips.description, f"{k}_lips")
        with b:
            jawline = _text("Jawline", p.face.jawline, f"{k}_jaw")
            eye_shape = _text("Eye shape", p.eyes.shape, f"{k}_eshape")
            nose = _text("Nose", p.nose.description, f"{k}_nose")
        with c:
            cheekbones = _text("Cheekbones", p.face.cheekbones, f"{k}_cheek")
            eye_size = _choice("Eye size", "eye_sizes", p.eyes.size, f"{k}_esize")
        with d:
            makeup = _text("Makeup", p.face.makeup, f"{k}_makeup")
        features = _text("Other face features", p.face.features, f"{k}_feat", 400)
        st.markdown("**Hair and skin**")
        a, b, c, d = st.columns(4)
        with a:
            hair_color = _text("Hair colour", p.hair.color, f"{k}_hcol")
            skin_tone = _choice("Skin tone", "skin_tones", p.skin.tone, f"{k}_skin")
        with b:
            hair_length = _choice("Hair length", "hair_lengths", p.hair.length, f"{k}_hlen")
            skin_texture = _choice("Skin texture", "skin_textures", p.skin.texture, f"{k}_stex")
        with c:
            hair_style = _text("Hair style", p.hair.style, f"{k}_hsty")
            marks = _text("Skin marks (freckles, tattoos)", p.skin.marks, f"{k}_marks")
        with d:
            hair_texture = _choice("Hair texture", "hair_textures", p.hair.texture, f"{k}_htex")
        st.markdown("**Style and personality**")
        a, b, c = st.columns(3)
        with a:
            style = _text("Fashion style", p.fashion.style, f"{k}_style")
            footwear = _text("Footwear", p.fashion.footwear, f"{k}_foot")
        with b:
            lingerie = _text("Lingerie", p.fashion.lingerie, f"{k}_ling")
            nails = _text("Nails", p.fashion.nails, f"{k}_nails")
        with c:
            expression = _text("Expression", p.personality.expression, f"{k}_expr")
            accessories = _text("Accessories", p.fashion.accessories, f"{k}_acc", 400)
        outfit = _text("Signature outfit", p.fashion.outfit, f"{k}_outfit", 400)
        traits = st.text_input(
            "Personality traits (comma-separated)", ", ".join(p.personality.traits), key=f"{k}_tr"
        )
        st.markdown("**AI settings**")
        a, b, c = st.columns(3)
        with a:
            quality = st.selectbox(
                "Quality", schema.PRESETS, index=schema.PRESETS.index(p.ai.preset), key=f"{k}_q"
            )
            models = ("", *presets.models("image"))
            model = st.selectbox(
                "Preferred model",
                models,
                index=models.index(p.ai.model) if p.ai.model in models else 0,
                key=f"{k}_model",
            )
        with b:
            seed = st.number_input("Seed (0 = random)", 0, 2**48, p.ai.seed or 0, key=f"{k}_seed")
            weight = st.slider(
                "IP-Adapter weight", 0.0, 1.5, float(p.ai.reference_weight), key=f"{k}_w"
            )
        with c:
            nsfw = st.toggle("Explicit mode", p.ai.nsfw, key=f"{k}_nsfw")
        negative = _text("Negative prompt", p.ai.negative_prompt, f"{k}_neg", 400)
        template = _text(
            "Prompt template (use {muse} and {scene})", p.ai.prompt_template, f"{k}_tpl", 400
        )
        notes = st.text_area("Notes", p.notes, max_chars=4000, key=f"{k}_notes")
        tag_text = st.text_input("Tags (comma-separated)", ", ".join(tags), key=f"{k}_tags")
        if not st.form_submit_button("Save muse", type="primary"):
            return None
    return {
        "profile": {
            "basic": {
                "name": name,
                "age": int(age),
                "gender": gender,
                "nationality": nationality,
                "ethnicity": ethnicity,
                "occupation": occupation,
                "height_cm": int(height) or None,
            },
            "body": {"body_type": build, "shape": figure, "measurements": measurements},
            "face": {
                "shape": face_shape,
                "features": features,
                "jawline": jawline,
                "cheekbones": cheekbones,
                "makeup": makeup,
            },
            "eyes": {"color": eye_color, "shape": eye_shape, "size": eye_size},
            "hair": {
                "color": hair_color,
                "length": hair_length,
                "style": hair_style,
                "texture": hair_texture,
            },
            "lips": {"description": lips},
            "nose": {"description": nose},
            "skin": {"tone": skin_tone, "texture": skin_texture, "marks": marks},
            "fashion": {
                "outfit": outfit,
                "style": style,
                "lingerie": lingerie,
                "footwear": footwear,
                "nails": nails,
                "accessories": accessories,
            },
            "personality": {
                "traits": [t.strip() for t in traits.split(",") if t.strip()],
                "expression": expression,
            },
            "ai": {
                "preset": quality,
                "model": model,
                "seed": int(seed) or None,
                "reference_weight": float(weight),
                "negative_prompt": negative,
                "nsfw": nsfw,
                "prompt_template": template,
            },
            "notes": notes,
        },
        "tags": [t for t in tag_text.split(",") if t.strip()],
    }


def save(raw: dict[str, Any], muse_id: int | None) -> None:
    """Validate, screen and store the form's profile (new when `muse_id` is None)."""
    try:
        profile = schema.validate_profile(raw["profile"])
        with refusals_audited("muse.save"), db.writing() as (session, now):
            if muse_id is None:
                service.create_muse(
                    session, owner_id=user_id, profile=profile, tags=raw["tags"], now=now
                )
            else:
                service.update_muse(
                    session,
                    owner_id=user_id,
                    muse_id=muse_id,
                    profile=profile,
                    tags=raw["tags"],
                    now=now,
                )
    except CoreError as exc:
        st.error(str(exc))
    else:
        st.session_state[_SAVED] = f"Saved {profile.basic.name}."
        st.rerun()  # the list below was read before this save


create_tab, import_tab = st.tabs(["New muse", "Import a card"])
with create_tab:
    submitted = muse_form(None, [], "new_muse")
    if submitted:
        save(submitted, None)
with import_tab:
    upload = st.file_uploader("Muse card (.json or .png)", type=["json", "png"], key="m_import")
    if upload is not None and st.button("Import", key="m_import_go"):
        try:
            with refusals_audited("muse.import"), db.writing() as (session, now):
                muse = service.import_card(
                    session,
                    owner_id=user_id,
                    data=upload.getvalue(),
                    filename=upload.name,
                    now=now,
                )
        except CoreError as exc:
            st.error(f"Import refused: {exc}")
        else:
            st.session_state[_SAVED] = f"Imported {muse.name}."
            st.rerun()

if not muses:
    st.info("No muses found. Create one above.")
for muse in muses:
    mid = muse.id or 0
    with st.expander(f"{muse.name} · {muse.age} · {'explicit' if muse.nsfw else 'standard'}"):
        with db.reading() as session:
            profile = service.profile_of(muse)
            card = service.export_card(session, owner_id=user_id, muse_id=mid)
            looks = service.variations(session, owner_id=user_id, muse_id=mid)
            refs = service.references(session, owner_id=user_id, muse_id=mid)
            past = service.muse_history(session, owner_id=user_id, muse_id=mid, limit=10)
        edited = muse_form(profile, list(muse.tags), f"edit_{mid}")
        if edited:
            save(edited, mid)
        left, right = st.columns(2)
        left.download_button("Export JSON", cards.export_json(card), f"muse-{mid}.json")
        right.download_button("Export PNG card", cards.export_png(card), f"muse-{mid}.png")

        st.markdown("**Variations** (outfit or scenario overrides)")
        for look in looks:
            text = ", ".join(f"{k}: {v}" for k, v in look.overrides.items())
            st.caption(f"{look.name} · {text}")
            if st.button("Remove", key=f"vdel_{look.id}"):
                with db.writing() as (session, _now):
                    service.delete_variation(session, owner_id=user_id, variation_id=look.id or 0)
                st.rerun()
        with st.form(f"var_{mid}"):
            vname = st.text_input("Variation name", max_chars=80)
            overrides = {
                field: st.text_input(f"{field.title()} (blank keeps the muse's)", max_chars=400)
                for field in schema.VARIATION_FIELDS
            }
            if st.form_submit_button("Add variation"):
                try:
                    with refusals_audited("muse.variation"), db.writing() as (session, now):
                        service.add_variation(
                            session,
                            owner_id=user_id,
                            muse_id=mid,
                            name=vname,
                            overrides={k: v.strip() for k, v in overrides.items() if v.strip()},
                            now=now,
                        )
                except CoreError as exc:
                    st.error(str(exc))
                else:
                    st.rerun()

        st.markdown(f"**Reference images** ({len(refs)} of {service.MAX_REFERENCES})")
        if upload_reference(
            user_id=user_id, muse_id=mid, target="muse.reference", key=f"ref_{mid}"
        ):
            st.success("Reference added.")

        st.markdown("**Generations with this muse**")
        if past:
            st.caption(", ".join(f"#{j.id} ({j.status}, seed {j.seed})" for j in past))
        else:
            st.caption("None yet: pick this muse in the Studio.")
        if st.button("Duplicate", key=f"dup_{mid}"):
            with db.writing() as (session, now):
                service.duplicate_muse(session, owner_id=user_id, muse_id=mid, now=now)
            st.rerun()
        if st.button("Delete muse", key=f"del_{mid}"):
            with db.writing() as (session, _now):
                service.delete_muse(session, owner_id=user_id, muse_id=mid)
            st.rerun()
