"""Studio page."""

import streamlit as st

from ui.widgets import coming_soon

st.title("Studio")
coming_soon("Generation")
