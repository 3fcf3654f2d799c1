"""AI KINGS web entrypoint: theme, navigation by role, age gate, then the page."""

import streamlit as st

from ui import cookies
from ui.age_gate import require_adult
from ui.auth import (
    current_user,
    fetch_cookie_until_held,
    is_admin,
    render_sign_in,
    sign_out,
    signed_out_just_now,
)
from ui.errors import boundary
from ui.legal import require_current_acceptance
from ui.navigation import TAKEDOWN_URL, pages_for, share_link_open, visitor_pages
from ui.theme import apply_theme, close_sidebar_on_phone
from ui.widgets import bind_client_ip

bind_client_ip()  # every audit entry of this run names the visitor (through TRUSTED_PROXIES)
apply_theme()
user = current_user()
# Declare the navigation before the gate: without it Streamlit falls back to listing a folder
# in the sidebar and runs a deep link such as /admin_pool directly, past the gate.
if user is None:
    # Visitors may only sign in, register, open a share link, or ask for a removal.
    visitor = visitor_pages(render_sign_in)
    navigation = st.navigation(visitor, position="hidden")
    if signed_out_just_now():
        st.switch_page(visitor[0])  # out by the front door, not at the page's own path
else:
    share_link = share_link_open(st.query_params)
    navigation = st.navigation(pages_for(is_admin=is_admin(user), share_link=share_link))
# An account proved its age (date of birth, 18+) at registration: a returning signed-in
# browser skips the gate; everyone else confirms first (once per browser).
# The removal form shows no imagery and must reach whoever is shown, minors included.
if navigation.url_path != TAKEDOWN_URL:
    require_adult(already_confirmed=user is not None and user.age_confirmed_at is not None)
fetch_cookie_until_held()
cookies.render_pending()
if user is not None:  # terms or privacy notice changed since this account accepted them
    require_current_acceptance(user, sign_out)
close_sidebar_on_phone(navigation.url_path)
with boundary(navigation.url_path or "home"):  # a friendly message with an id, never a trace
    navigation.run()
