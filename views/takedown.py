"""Removal request for non-consensual intimate imagery: open to anyone, no account needed.

Reachable before the age gate: the person shown may be a minor, or act for one (the TAKE IT
DOWN Act covers them too), and this page shows no imagery. A valid request is acted on
within 48 hours; the picture it points at is hidden as soon as the request is sent.
"""

from __future__ import annotations

import streamlit as st

from core.gallery import takedown
from ui import db, resources

st.title("Request removal of an intimate image")
st.write(
    "If a picture on this site shows you (or someone you act for) in an intimate way without "
    "consent, tell us where it is. We hide it as soon as you send this form, review the "
    "request and remove it within 48 hours, together with copies of it. You do not need an "
    "account."
)
with st.form("takedown_form"):
    location = st.text_input(
        "Where is the picture? (its share link, or its number, e.g. #123)", max_chars=500
    )
    description = st.text_area("Anything that helps us find or judge it", max_chars=2000)
    relationship = st.radio(
        "You are", list(takedown.RELATIONSHIPS), format_func=takedown.RELATIONSHIPS.__getitem__
    )
    name = st.text_input("Your name", max_chars=120)
    email = st.text_input("Your email (we reply there)", max_chars=254)
    good_faith = st.checkbox(
        "I believe in good faith that this picture was published without the consent of the "
        "person shown."
    )
    signature = st.text_input("Signature (type your full name)", max_chars=120)
    sent = st.form_submit_button("Send the request", type="primary")

if sent:
    filed = db.attempt(
        lambda session, now: takedown.file_request(
            session,
            location=location,
            description=description,
            requester_name=name,
            requester_email=email,
            relationship=relationship or "",
            signature=signature,
            good_faith=good_faith,
            signer=resources.share_signer(),
            now=now,
        )
    )
    if filed:
        st.success(
            f"Request #{filed.value.id} received. We will act on it by "
            f"{filed.value.due_at:%Y-%m-%d %H:%M} UTC and write to you."
        )
