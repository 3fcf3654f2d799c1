"""Account page."""

import streamlit as st

from ui.widgets import coming_soon

st.title("Account")
coming_soon("Accounts and credits")
