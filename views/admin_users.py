"""Users: roles, disabling accounts and granting credits (each audited)."""

from __future__ import annotations

import secrets
from datetime import datetime

import streamlit as st
from sqlmodel import Session

from core.accounts import ledger, users
from core.models import Role
from ui import db
from ui.auth import require_admin
from ui.widgets import TIME_COLUMN

admin = require_admin()

st.title("Users")
with db.reading() as session:
    people = users.list_users(session, limit=500)
    balances = {u.id: ledger.balance(session, u.id or 0) for u in people}
st.dataframe(
    [
        {
            "id": u.id,
            "username": u.username,
            "role": str(u.role),
            "disabled": u.disabled,
            "credits": balances[u.id],
            "joined": u.created_at,
        }
        for u in people
    ],
    column_config={"joined": TIME_COLUMN},
    hide_index=True,
    width="stretch",
)

by_name = {u.username: u for u in people}
# One grant per form shown: a double click or a resubmitted rerun reuses the key, so the
# ledger grants once; a successful apply draws a fresh key for the next grant.
grant_key = st.session_state.setdefault("grant_request_key", secrets.token_hex(8))
with st.form("user_admin"):
    name = st.selectbox("User", list(by_name))
    credits = st.number_input("Credits to grant", 0, 1_000_000, 0)
    note = st.text_input("Note (shown in their ledger)", max_chars=200)
    role = st.selectbox("Role", [r.value for r in Role])
    disabled = st.checkbox("Disabled")
    if st.form_submit_button("Apply", type="primary") and name:
        target = by_name[name]

        def apply(session: Session, now: datetime) -> None:
            if credits:
                users.grant_credits(
                    session,
                    actor_id=admin.id or 0,
                    user_id=target.id or 0,
                    credits=int(credits),
                    note=note,
                    now=now,
                    request_key=grant_key,
                )
            if role != target.role.value:
                users.set_role(
                    session,
                    actor_id=admin.id or 0,
                    user_id=target.id or 0,
                    role=Role(role),
                    now=now,
                )
            if disabled != target.disabled:
                users.set_disabled(
                    session,
                    actor_id=admin.id or 0,
                    user_id=target.id or 0,
                    disabled=disabled,
                    now=now,
                )

        if db.attempt(apply):
            del st.session_state["grant_request_key"]
            st.success(f"Saved changes to {name}.")
