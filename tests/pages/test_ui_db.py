"""The pages' error frame (`ui.db.attempt`): a refusal rolls its unit of work back and is
shown where the page asks; a unit that went through is `Done`, even when it returns None."""

from __future__ import annotations

from sqlmodel import select
from streamlit.testing.v1 import AppTest

from core.db import read_scope
from core.models import Board
from testing.factories import make_user


def _page() -> None:
    import streamlit as st

    from core.errors import ValidationFailed
    from core.gallery import boards
    from ui import db

    owner_id = st.session_state["owner_id"]

    def refused(session, now):
        boards.create_board(session, owner_id=owner_id, name="Written, then refused", now=now)
        raise ValidationFailed("Refused after a write.")

    st.session_state["refused"] = db.attempt(refused, alerts=st.sidebar, say="No: {}")
    st.session_state["nothing"] = db.attempt(lambda session, now: None)
    st.session_state["created"] = db.attempt(
        lambda session, now: boards.create_board(session, owner_id=owner_id, name="Kept", now=now)
    )


def test_a_refusal_is_rolled_back_and_shown_and_what_went_through_is_done(web_engine):
    owner = make_user(web_engine)
    app = AppTest.from_function(_page, default_timeout=30)
    app.session_state["owner_id"] = owner.id
    app.run()
    assert not app.exception
    assert [e.value for e in app.sidebar.error] == ["No: Refused after a write."]
    assert not app.main.error
    assert app.session_state["refused"] is None
    assert app.session_state["nothing"] and app.session_state["nothing"].value is None
    assert app.session_state["created"].value.name == "Kept"
    with read_scope(web_engine) as session:
        assert [b.name for b in session.exec(select(Board)).all()] == ["Kept"]
