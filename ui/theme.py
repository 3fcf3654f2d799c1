"""Page chrome for the "Velvet Void" look: the gradient brand header and accent styles."""

from __future__ import annotations

import json
from pathlib import Path

import streamlit as st

BRAND = "AI KINGS"
BRAND_MARK = Path(__file__).resolve().parent.parent / "data" / "brand.svg"
"""The gradient wordmark, shown as the app's logo above the navigation."""

_CSS = """
<style>
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
    # The wordmark is the app's logo, not sidebar content: any content in the sidebar makes
    # Streamlit keep it open on a phone after a link is followed (streamlit#12065).
    st.logo(str(BRAND_MARK), size="large")


_LAST_PAGE = "theme_last_page"
# Streamlit keeps the phone sidebar overlay open after a page change (streamlit#12065), which
# hides the page just asked for: close it, as its own collapse button would, on narrow screens.
_CLOSE_PHONE_SIDEBAR = """<script>
(() => {  // opened: %s
  let done = window.innerWidth > 768;
  const close = () => {
    if (done) return;
    const bar = document.querySelector('[data-testid="stSidebar"]');
    const button = document.querySelector('[data-testid="stSidebarCollapseButton"] button');
    if (bar && button && bar.getAttribute("data-collapsed") === "false") {
      done = true;  // once: a sidebar the visitor opens again stays open
      button.click();
    }
  };
  [50, 300, 900].forEach((ms) => setTimeout(close, ms));
})();
</script>"""


def close_sidebar_on_phone(page: str) -> None:
    """On a phone, close the sidebar once a link in it opened another page (`page`, its URL
    path); on wider screens, and on reruns of the same page, this does nothing. It always takes
    one (empty, invisible) slot, so the page's elements keep their places."""
    slot = st.empty()
    changed = st.session_state.get(_LAST_PAGE, page) != page
    st.session_state[_LAST_PAGE] = page
    if changed:  # a new text each time: the browser runs a script only when it is new
        slot.html(_CLOSE_PHONE_SIDEBAR % json.dumps(page), unsafe_allow_javascript=True)
