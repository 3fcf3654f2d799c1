"""Signed session cookies: anything edited, re-signed with another key or truncated is refused."""

import pytest

from core.accounts.sessions import read_cookie, sign_cookie


def test_round_trip():
    assert read_cookie(sign_cookie("tok-en_1", "key"), "key") == "tok-en_1"


@pytest.mark.parametrize(
    "value",
    [
        sign_cookie("token", "other-key"),
        sign_cookie("token", "key").replace("token", "tokem"),
        sign_cookie("token", "key")[:-1] + "0",
        "token",
        ".abc",
        "eyJhbGciOiJub25lIn0.eyJ1c2VybmFtZSI6ImFkbWluIn0.",  # a JWT with alg none
        "",
    ],
)
def test_tampered_cookies_are_refused(value):
    assert read_cookie(value, "key") is None
