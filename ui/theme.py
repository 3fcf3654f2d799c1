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
/* Panels and cards: bordered containers and expanders in the theme's surface colour. */
[data-testid="stVerticalBlockBorderWrapper"]:has(> div > [data-testid="stVerticalBlock"]),
[data-testid="stExpander"] details {
  background: #120A1A; border-color: #2E1F3D;
}
[data-testid="stMetric"] {
  background: #1A1024; border: 1px solid #2E1F3D; border-radius: .75rem; padding: .6rem .9rem;
}
h1, h2, h3 { letter-spacing: .01em; }
h1 { border-bottom: 1px solid #2E1F3D; padding-bottom: .3rem; }
/* No empty band above the page: the header is only as tall as its toolbar. */
[data-testid="stHeader"] { background: transparent; }
</style>
"""


def apply_theme() -> None:
    """Set the page config and inject the brand styles; call first on every run."""
    st.set_page_config(page_title=BRAND, page_icon=":crown:", layout="wide")
    st.markdown(_CSS, unsafe_allow_html=True)
    st.sidebar.markdown(f'<div class="aik-brand">{BRAND}</div>', unsafe_allow_html=True)
