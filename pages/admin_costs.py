"""Spend and usage page."""

import streamlit as st

from ui.widgets import coming_soon

st.title("Spend and usage")
coming_soon("Cost and usage charts")
