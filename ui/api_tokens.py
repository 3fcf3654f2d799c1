"""The Account page's API tokens: create one (its secret shown once), list and revoke."""

from __future__ import annotations

import streamlit as st

from core.accounts import api_tokens
from core.accounts.api_tokens import Scope
from core.models import Role, User
from ui import db, resources
from ui.widgets import TIME_COLUMN

_SCOPE_LABELS = {
    Scope.READ: "read: account, jobs, pictures, muses",
    Scope.GENERATE: "generate: spend credits on jobs; rate and share pictures",
    Scope.MUSES: "muses: create, change, import and export muses",
    Scope.ADMIN: "admin",
}
_SHOWN_ONCE = "api_token_shown_once"


def render_api_tokens(user: User) -> None:
    """The section: a create form, the new secret once, and the user's tokens to revoke."""
    st.subheader("API tokens")
    port = resources.settings().api_port
    st.caption(
        f"For scripts and bots: `curl -H 'Authorization: Bearer <token>' "
        f"http://<host>:{port}/v1/account`. The API's reference is at /docs on that port."
    )
    offered = [scope for scope in Scope if scope is not Scope.ADMIN or user.role is Role.ADMIN]
    with st.form("api_token_new", clear_on_submit=True):
        name = st.text_input("Token name", max_chars=64, placeholder="my render bot")
        chosen = st.multiselect(
            "Scopes",
            offered,
            default=[Scope.READ],
            format_func=lambda scope: _SCOPE_LABELS[scope],
        )
        if st.form_submit_button("Create token"):
            made = db.attempt(
                lambda session, now: api_tokens.create_token(
                    session, user_id=user.id or 0, name=name, scopes=frozenset(chosen), now=now
                )
            )
            if made:
                st.session_state[_SHOWN_ONCE] = made.value.secret
    secret = st.session_state.pop(_SHOWN_ONCE, None)
    if secret:
        st.success("Copy this token now; it is not shown again.")
        st.code(secret, language=None)
    with db.reading() as session:
        tokens = api_tokens.list_tokens(session, user_id=user.id or 0)
    live = [token for token in tokens if token.revoked_at is None]
    if not live:
        st.caption("No live tokens.")
        return
    st.dataframe(
        [
            {
                "name": token.name,
                "starts with": f"{token.prefix}…",
                "scopes": token.scopes.replace(",", ", "),
                "created": token.created_at,
                "last used": token.last_used_at,
            }
            for token in live
        ],
        column_config={"created": TIME_COLUMN, "last used": TIME_COLUMN},
        hide_index=True,
        width="stretch",
    )
    labels = {token.id: f"{token.name} ({token.prefix}…)" for token in live}
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    doomed = left.selectbox("Revoke a token", list(labels), format_func=labels.__getitem__)
    if right.button("Revoke", key="api_token_revoke") and doomed is not None:
        with db.writing() as (session, now):
            api_tokens.revoke_token(session, user_id=user.id or 0, token_id=doomed, now=now)
        st.rerun()
