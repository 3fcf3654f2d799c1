"""Page chrome for the "Velvet Void" look: the gradient brand header and accent styles."""

from __future__ import annotations

import streamlit as st

BRAND = "AI KINGS"

_CSS = """
<style>
.aik-brand {
  font-weight: 800; font-size: 1.35rem; letter-spacing: .08em;
  background: linear-gradient(90deg, #A855F7 0%, #D946EF 50%, #EC4899 100%);
  -webkit-background-clip: text; background-clip: text; color: transparent;
}
.stButton > button[kind="primary"] {
  background: linear-gradient(90deg, #7C3AED, #DB2777); border: 0;
}
</style>
"""


def apply_theme() -> None:
    """Set the page config and inject the brand styles; call first on every run."""
    st.set_page_config(page_title=BRAND, page_icon=":crown:", layout="wide")
    st.markdown(_CSS, unsafe_allow_html=True)
    st.sidebar.markdown(f'<div class="aik-brand">{BRAND}</div>', unsafe_allow_html=True)
