"""Muses: a card grid of adult fictional characters, each with a page of its own, a clean form
for a new one, and card import."""

from __future__ import annotations

from datetime import datetime

import streamlit as st
from sqlmodel import Session

from core.accounts import inputs
from core.models import Muse
from core.muses import lookbook, service
from core.muses.schema import validate_profile
from ui import db, media, muse_page, resources
from ui.auth import require_user
from ui.muse_form import offered_choices, profile_form
from ui.muse_page import VIEW, notify, open_view

user = require_user()
user_id = user.id or 0
presets = resources.presets()
GRID_COLUMNS = 3
_FORM_ROUND = "m_new_round"
"""Bumped after each created muse, so the next "New muse" form starts empty."""
_IMPORT_COPY = "m_import_copy"

st.title("Muses")
st.caption("Fictional adult characters (18+) that stay consistent across your pictures.")
muse_page.show_notices()
if (deep_link := st.query_params.get("muse")) and VIEW not in st.session_state:
    st.session_state[VIEW] = inputs.row_id(deep_link)


def new_muse_view() -> None:
    """A clean form; on save, the new muse's own page opens."""
    st.subheader("New muse")
    if st.button("← All muses", key="m_back_new"):
        open_view(None)
    round_ = st.session_state.setdefault(_FORM_ROUND, 0)
    raw = profile_form(
        None,
        [],
        key=f"new_{round_}",
        offered=offered_choices(presets),
        submit_label="Create muse",
    )
    if raw is None:
        return
    profile = db.shown(lambda: validate_profile(raw["profile"]))
    if not profile:
        return
    created = db.attempt(
        lambda session, now: service.create_muse(
            session, owner_id=user_id, profile=profile.value, tags=raw["tags"], now=now
        ),
        audited=(f"user:{user_id}", "muse.save"),
    )
    if not created:
        return
    muse = created.value
    st.session_state[_FORM_ROUND] = round_ + 1
    notify(f"Created {muse.name}.")
    open_view(muse.id)


def import_view() -> None:
    """Upload a card; a name already in use is asked about, not silently doubled."""
    st.subheader("Import a muse card")
    if st.button("← All muses", key="m_back_import"):
        open_view(None)
    upload = st.file_uploader("Muse card (.json or .png)", type=["json", "png"], key="m_import")
    if upload is None:
        return
    asked: tuple[str, str] | None = st.session_state.get(_IMPORT_COPY)
    as_copy = asked is not None and asked[0] == upload.name
    if asked is not None and as_copy:
        st.warning(asked[1])
    if not st.button("Import as a copy" if as_copy else "Import", key="m_import_go"):
        return

    def import_card(session: Session, now: datetime) -> Muse:
        try:
            return service.import_card(
                session,
                owner_id=user_id,
                data=upload.getvalue(),
                filename=upload.name,
                now=now,
                as_copy=as_copy,
            )
        except service.DuplicateName as exc:  # asked about on the next run, not refused
            st.session_state[_IMPORT_COPY] = (upload.name, str(exc))
            st.rerun()

    imported = db.attempt(
        import_card, audited=(f"user:{user_id}", "muse.import"), say="Import refused: {}"
    )
    if imported:
        st.session_state.pop(_IMPORT_COPY, None)
        notify(f"Imported {imported.value.name}.")
        open_view(imported.value.id)


def grid_view() -> None:
    """Search and filters, then one card per muse: portrait, name, age, mode, Open."""
    new_col, import_col, _ = st.columns([1, 1, 3])
    if new_col.button("New muse", type="primary", key="m_new"):
        open_view("new")
    if import_col.button("Import a card", key="m_import_open"):
        open_view("import")
    search_col, tag_col, mode_col = st.columns([2, 2, 1])
    search = search_col.text_input(
        "Search (name, tag, or anything in the profile)", key="m_search", max_chars=80
    )
    with db.reading() as session:
        every = service.list_muses(session, owner_id=user_id, limit=1000)
    tag_filter = tag_col.multiselect(
        "Tags", sorted({t for m in every for t in m.tags}), key="m_tags"
    )
    mode = mode_col.selectbox("Mode", ["all", "explicit", "standard"], key="m_mode")
    with db.reading() as session:
        muses = service.list_muses(
            session,
            owner_id=user_id,
            search=search or None,
            tags=tag_filter,
            nsfw=None if mode == "all" else mode == "explicit",
            limit=200,
        )
        shown = lookbook.portraits(session, owner_id=user_id, muse_ids=[m.id or 0 for m in muses])
    if not muses:
        st.info("No muses found." if every else "No muses yet: create one with New muse.")
    for start in range(0, len(muses), GRID_COLUMNS):
        row = muses[start : start + GRID_COLUMNS]
        for muse, column in zip(row, st.columns(GRID_COLUMNS), strict=False):
            with column.container(border=True):
                mid = muse.id or 0
                if mid in shown:
                    st.image(media.source(shown[mid]), width="stretch")
                else:
                    st.caption("No portrait yet: pin a picture on the muse's page.")
                st.markdown(f"**{muse.name}** · {muse.age}")
                occupation = str((muse.profile.get("basic") or {}).get("occupation") or "")
                details = [occupation, "explicit" if muse.nsfw else "standard", *muse.tags]
                st.caption(" · ".join(d for d in details if d))
                if st.button("Open", key=f"open_{mid}"):
                    open_view(mid)


view = st.session_state.get(VIEW)
if view == "new":
    new_muse_view()
elif view == "import":
    import_view()
elif isinstance(view, int):
    muse_page.detail_view(user_id, view, presets=presets)
else:
    grid_view()
