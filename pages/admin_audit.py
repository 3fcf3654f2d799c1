"""Audit log page."""

import streamlit as st

from ui.widgets import coming_soon

st.title("Audit log")
coming_soon("The audit log viewer")
