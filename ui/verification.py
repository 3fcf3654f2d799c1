"""Email verification in the web app: the registration mail, and the Account page's status
with its "send again" button (core.accounts.verification does the work)."""

from __future__ import annotations

import streamlit as st

from core.accounts import verification
from core.models import User
from ui import resources

SENT = "A new link is on its way to {email}. It works for 48 hours."
WAIT = (
    "A link was sent a moment ago: check your inbox (and spam folder), "
    "or try again in a few minutes."
)


def mail_link(user_id: int) -> bool:
    """Mail a verification link to the account's address (False: rate-limited or verified)."""
    return verification.send_link(
        resources.settings(), resources.engine(), user_id=user_id, now=resources.clock().now()
    )


def render_email_status(user: User) -> None:
    """Whether the account's email address is verified; if not, a button to mail the link
    again (at most one every few minutes)."""
    if user.verified_at is not None:
        st.caption(f"Email address {user.email} is verified.")
        return
    st.warning(
        f"Your email address {user.email} is not verified yet: open the link we mailed you. "
        "Verifying is optional for now; it lets us reach you about your account."
    )
    if st.button("Send the link again", key="verify_resend"):
        if mail_link(user.id or 0):
            st.success(SENT.format(email=user.email))
        else:
            st.info(WAIT)
