"""The web shell: age gate first, then navigation over every page."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

from ui import cookies
from ui.navigation import pages_for, share_link_open

ROOT = Path(__file__).resolve().parents[2]


def _home() -> AppTest:
    return AppTest.from_file(str(ROOT / "Home.py"), default_timeout=30)


def test_age_gate_is_shown_before_anything_else():
    app = _home().run()
    assert not app.exception
    assert app.title[0].value == "Adults only"
    assert [b.label for b in app.button] == ["I am 18 or older — enter"]


def test_confirming_age_opens_sign_in_and_has_the_browser_remember_it():
    app = _home().run()
    app.button(key="age_gate_confirm").click().run()
    assert not app.exception
    assert app.session_state["age_confirmed"] is True
    assert app.title[0].value == "Welcome to AI KINGS"  # then sign in or register
    [script] = [element.proto.body for element in app.get("html")]
    assert f'"{cookies.ADULT_PATH}"' in script and '"method": "POST"' in script


def test_a_signed_in_adult_account_skips_the_age_gate(signed_in):
    app = signed_in("Home.py")
    app.session_state["age_confirmed"] = False
    app.run()
    assert not app.exception
    assert app.title[0].value == "Studio"


def test_the_share_page_is_listed_only_while_a_share_link_is_open():
    assert share_link_open({"token": "abc"}) and not share_link_open({"token": ""})

    def hidden(share_link: bool) -> int:  # share, board and verification pages: never shown
        sections = pages_for(False, share_link=share_link)
        return sum(page.visibility == "hidden" for pages in sections.values() for page in pages)

    # the verification page is always routable (its links open signed in or not)
    assert hidden(share_link=False) == 1
    assert hidden(share_link=True) == 3  # the share and the board page
