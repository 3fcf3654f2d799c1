"""The terms of service and privacy notice on the page: read and accepted at registration,
and accepted again after sign-in whenever their version changed."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from core.accounts import legal
from core.models import User
from ui import db
from ui.widgets import client_ip

ACCEPT_KEY = "register_accepts_legal"


@st.cache_resource
def texts() -> legal.LegalTexts:
    """The texts in force (data/legal/), read once per server."""
    return legal.load()


def show_texts() -> None:
    """Both texts, folded, to read before accepting."""
    current = texts()
    with st.expander(f"Terms of service (version {current.terms.version})"):
        st.markdown(current.terms.body)
    with st.expander(f"Privacy notice (version {current.privacy.version})"):
        st.markdown(current.privacy.body)


def acceptance_box() -> None:
    """The registration form's "I accept" box (read back with `accepted_at_registration`)."""
    show_texts()
    st.checkbox("I accept the terms of service and the privacy notice.", key=ACCEPT_KEY)


def accepted_at_registration() -> legal.LegalTexts | None:
    """The texts the registrant accepted, or None if the box is not ticked."""
    return texts() if st.session_state.get(ACCEPT_KEY) else None


def require_current_acceptance(user: User, sign_out: Callable[[], None]) -> None:
    """Stop the script until `user` accepts the texts in force, if they changed since;
    `sign_out` is offered to someone who does not accept."""
    current = texts()
    if not legal.needs_acceptance(user, current):
        return
    st.title("Updated terms")
    st.write(
        "The terms of service or the privacy notice changed since you last accepted them. "
        "Read them, then accept to continue, or sign out."
    )
    show_texts()
    accept, leave = st.columns(2)
    if accept.button("I accept", type="primary", key="legal_accept"):
        with db.writing() as (session, now):
            legal.accept(session, user_id=user.id or 0, texts=current, now=now, ip=client_ip())
        st.rerun()
    if leave.button("Sign out", key="legal_sign_out"):
        sign_out()
        st.rerun()
    st.stop()
