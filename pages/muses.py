"""Muses page."""

import streamlit as st

from ui.widgets import coming_soon

st.title("Muses")
coming_soon("The muse builder")
