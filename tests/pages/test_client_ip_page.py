"""The web's audit entries (sign-in included) name the client: X-Forwarded-For only from a
trusted proxy (`TRUSTED_PROXIES`), else the connection's peer (issue 23)."""

from datetime import UTC, datetime
from unittest.mock import PropertyMock

import pytest
import streamlit as st
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from core.accounts import legal
from core.db import read_scope, session_scope
from core.models import AuditEntry
from testing.factories import register_user
from tests.pages.actions import sign_in
from tests.pages.conftest import ROOT


class _Headers:
    def __init__(self, forwarded: list[str]) -> None:
        self.forwarded = forwarded

    def get_all(self, key: str) -> list[str]:
        return self.forwarded if key.lower() == "x-forwarded-for" else []


@pytest.mark.parametrize(
    ("trusted", "expected"),
    [("", "198.51.100.7"), ("10.0.0.0/8", "198.51.100.7"), ("198.51.100.0/24", "203.0.113.9")],
)
def test_a_web_sign_in_is_audited_with_the_client_behind_a_trusted_proxy_only(
    web_engine, monkeypatch, mocker, trusted, expected
):
    """Streamlit's connection facts (peer, handshake headers) are an edge AppTest cannot
    seed, so they are patched; everything from Home.py to the audit row runs for real."""
    monkeypatch.setenv("TRUSTED_PROXIES", trusted)
    context = type(st.context)
    mocker.patch.object(
        context, "ip_address", new_callable=PropertyMock, return_value="198.51.100.7"
    )
    mocker.patch.object(
        context, "headers", new_callable=PropertyMock, return_value=_Headers(["203.0.113.9"])
    )
    with session_scope(web_engine) as session:
        register_user(
            session, "ava", password="a long enough secret", now=datetime.now(UTC),
            accepted=legal.load(),
        )  # fmt: skip
    app = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=30)
    app.session_state["age_confirmed"] = True
    sign_in(app.run(), "ava", "not the password at all")
    app = sign_in(app, "ava", "a long enough secret")
    assert not app.exception
    with read_scope(web_engine) as session:
        rows = session.exec(select(AuditEntry).where(AuditEntry.action.startswith("login."))).all()
    assert [(row.action, row.ip) for row in rows] == [
        ("login.failed", expected),
        ("login.ok", expected),
    ]
