"""What a person does on a page under AppTest: type into labelled fields, press a labelled
button, sign in; each returns the page after the rerun it causes."""

from __future__ import annotations

from collections.abc import Mapping

from streamlit.testing.v1 import AppTest


def click(app: AppTest, label: str) -> AppTest:
    """Press the first button labelled `label`."""
    [b for b in app.button if b.label == label][0].click()
    return app.run()


def fill_and_click(app: AppTest, fields: Mapping[str, str], button: str) -> AppTest:
    """Type each value into the first text input with its label, then press `button`."""
    for label, text in fields.items():
        [t for t in app.text_input if t.label == label][0].input(text)
    return click(app, button)


def sign_in(app: AppTest, username: str, password: str) -> AppTest:
    """Sign in on the home page's form."""
    return fill_and_click(app, {"Username": username, "Password": password}, "Sign in")
