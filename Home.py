"""AI KINGS web entrypoint: theme, age gate, sign-in, then navigation by role."""

import streamlit as st

from ui.age_gate import require_adult
from ui.auth import current_user, is_admin, render_sign_in
from ui.navigation import pages_for, share_page
from ui.theme import apply_theme

apply_theme()
require_adult()
user = current_user()
if user is None:
    # Visitors may only sign in, register, or open a share link.
    visitor_pages = [st.Page(render_sign_in, title="Sign in", default=True), share_page()]
    st.navigation(visitor_pages, position="hidden").run()
else:
    st.navigation(pages_for(is_admin=is_admin(user))).run()
