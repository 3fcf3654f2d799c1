"""The removal request form: open to anyone before the age gate; its 48-hour clock and the
decision in the moderation queue."""

from pathlib import Path

from sqlmodel import select
from streamlit.testing.v1 import AppTest

from core.db import read_scope, session_scope
from core.gallery.sharing import ShareSigner
from core.models import Asset, BlockedHash, Role, TakedownRequest, TakedownStatus, Visibility
from testing.factories import file_takedown
from tests.pages.conftest import store_picture

ROOT = Path(__file__).resolve().parents[2]


def fill_and_send(app, *, location="#1"):
    app.text_input[0].input(location)
    app.text_area[0].input("That is me, I never agreed.")
    app.radio[0].set_value("self")
    app.text_input[1].input("A. Person")
    app.text_input[2].input("person@example.test")
    app.checkbox[0].check()
    app.text_input[3].input("A. Person")
    [b for b in app.button if b.label == "Send the request"][0].click().run()


def test_a_visitor_reaches_the_form_without_an_account_or_the_age_gate(web_engine):
    app = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=30).run()
    assert app.title[0].value == "Adults only"  # every other page is behind the gate
    app.switch_page("views/takedown.py").run()
    assert not app.exception
    assert app.title[0].value == "Request removal of an intimate image"
    fill_and_send(app, location="somewhere on your site")
    assert not app.exception and "received" in app.success[0].value
    with read_scope(web_engine) as session:
        (request,) = session.exec(select(TakedownRequest)).all()
    assert (request.requester_email, request.status) == ("person@example.test", "open")


def test_an_incomplete_request_is_explained(web_engine):
    app = AppTest.from_file(str(ROOT / "views/takedown.py"), default_timeout=30).run()
    [b for b in app.button if b.label == "Send the request"][0].click().run()
    assert "Please fill in" in app.error[0].value
    with read_scope(web_engine) as session:
        assert session.exec(select(TakedownRequest)).all() == []


def test_the_queue_shows_the_48_hour_clock_and_removal_blocks_copies(signed_in, web_engine):
    app = signed_in("views/admin_moderation.py", role=Role.ADMIN)
    with session_scope(web_engine) as session:
        asset = store_picture(session, title="a picture", colour="teal")
        asset.visibility = Visibility.PUBLIC
        session.add(asset)
        session.flush()
        request = file_takedown(
            session,
            location=f"#{asset.id}",
            signer=ShareSigner.from_secret("unused"),
            now=asset.created_at,
        )
    app.run()
    assert not app.exception
    clock_lines = [e.value for e in [*app.info, *app.warning, *app.error] if "Request #" in e.value]
    assert clock_lines and ("left" in clock_lines[0] or "overdue" in clock_lines[0])
    app.button(key=f"tk_decide_{request.id}_yes").click().run()
    assert not app.exception
    with read_scope(web_engine) as session:
        done = session.get(TakedownRequest, request.id)
        hidden = session.get(Asset, asset.id).hidden
        blocked = {row.sha256 for row in session.exec(select(BlockedHash)).all()}
    assert (done.status, hidden, asset.sha256 in blocked) == (TakedownStatus.REMOVED, True, True)


def test_signed_in_users_find_the_form_in_the_navigation(signed_in):
    app = signed_in("Home.py").run()
    assert not app.exception
    app.switch_page("views/takedown.py").run()
    assert app.title[0].value == "Request removal of an intimate image"
