"""Gallery page."""

import streamlit as st

from ui.widgets import coming_soon

st.title("Gallery")
coming_soon("The gallery")
