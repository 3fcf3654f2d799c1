"""Moderation page."""

import streamlit as st

from ui.widgets import coming_soon

st.title("Moderation")
coming_soon("The moderation queue")
