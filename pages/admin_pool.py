"""Warm pool page."""

import streamlit as st

from ui.widgets import coming_soon

st.title("Warm pool")
coming_soon("Pool controls")
