"""The page an email verification link (`/verify?token=...`) opens, signed in or not."""

from __future__ import annotations

import streamlit as st

from core.accounts import verification
from ui import resources

st.title("Email verification")
try:
    outcome = verification.confirm(
        resources.engine(),
        resources.settings().cookie_key.get_secret_value(),
        token=st.query_params.get("token", ""),
        now=resources.clock().now(),
    )
except verification.LinkRefused as exc:
    st.error(str(exc))
else:
    if outcome is verification.Confirmed.VERIFIED:
        st.success("Thank you: your email address is verified.")
    else:
        st.info("This email address was verified already; nothing else to do.")
