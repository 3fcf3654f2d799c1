"""AI KINGS web entrypoint: theme, age gate, then navigation over the pages."""

import streamlit as st

from ui.age_gate import require_adult
from ui.navigation import pages_for
from ui.theme import apply_theme

apply_theme()
require_adult()
st.navigation(pages_for(is_admin=False)).run()
