"""AI KINGS web entrypoint: theme, navigation by role, age gate, then the page."""

import streamlit as st

from ui.age_gate import require_adult
from ui.auth import current_user, is_admin, render_sign_in
from ui.navigation import TAKEDOWN_URL, pages_for, share_page, takedown_page
from ui.theme import apply_theme

apply_theme()
user = current_user()
# Declare the navigation before the gate: without it Streamlit falls back to listing a folder
# in the sidebar and runs a deep link such as /admin_pool directly, past the gate.
if user is None:
    # Visitors may only sign in, register, open a share link, or ask for a removal.
    visitor_pages = [
        st.Page(render_sign_in, title="Sign in", default=True),
        share_page(),
        takedown_page(),
    ]
    navigation = st.navigation(visitor_pages, position="hidden")
else:
    navigation = st.navigation(pages_for(is_admin=is_admin(user)))
# An account proved its age (date of birth, 18+) at registration: a returning signed-in
# browser skips the gate; everyone else confirms first.
# The removal form shows no imagery and must reach whoever is shown, minors included.
if navigation.url_path != TAKEDOWN_URL:
    require_adult(already_confirmed=user is not None and user.age_confirmed_at is not None)
navigation.run()
