"""The age gate shown before anything else: this studio is for adults only."""

from __future__ import annotations

import streamlit as st

from ui import cookies

_CONFIRMED = "age_confirmed"


def require_adult(*, already_confirmed: bool = False) -> None:
    """Stop the script unless the visitor has confirmed they are 18 or older.

    `already_confirmed` is for a signed-in account whose age was checked at registration. A
    confirmation is remembered by the browser (a cookie), so a reload does not ask again.
    """
    if already_confirmed or cookies.adult_confirmed():
        st.session_state[_CONFIRMED] = True
    if st.session_state.get(_CONFIRMED):
        return
    st.title("Adults only")
    st.write(
        "AI KINGS creates images and videos of fictional adult characters. "
        "You must be 18 or older (or the age of majority where you live) to continue."
    )
    if st.button("I am 18 or older — enter", type="primary", key="age_gate_confirm"):
        st.session_state[_CONFIRMED] = True
        cookies.remember_adult()
        st.rerun()
    st.caption("If you are under 18, please close this page.")
    st.page_link(
        "views/takedown.py",
        label="Is a picture of you here without your consent? Request its removal.",
        icon=":material/report:",
    )
    st.stop()
