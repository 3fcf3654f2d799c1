"""Home's visitor path through streamlit-authenticator's widgets, over our accounts.

Register, sign in, wrong passwords and lockout, the enumeration-safe reset request, the
mailed reset code (to the outbox, and through an SMTP relay on loopback); then the Account
page's change-password and sign-out widgets, which revoke server-side sessions.
"""

import json
import re
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes
from pathlib import Path

import pytest
from sqlmodel import select

from core.accounts import ledger, legal, sessions, users
from core.db import read_scope, session_scope
from core.models import AuditEntry, AuthSession, User
from testing.factories import register_user
from tests.pages.actions import click, sign_in
from tests.pages.conftest import ROOT
from tests.smtp import smtp_server
from ui import auth, cookies

PASSWORD = "a long enough secret"


@pytest.fixture
def outbox(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LOGIN_MAX_FAILURES", "3")
    monkeypatch.setenv("STARTER_CREDITS", "42")
    return tmp_path / "data" / "outbox"


@pytest.fixture
def home(web_engine, outbox):
    from streamlit.testing.v1 import AppTest

    def open_home():
        app = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=30)
        app.session_state["age_confirmed"] = True
        return app.run()

    return open_home


@pytest.fixture
def ava(web_engine):
    with session_scope(web_engine) as session:
        user = register_user(
            session, "ava", password=PASSWORD, now=datetime.now(UTC), accepted=legal.load()
        )
        return user.id


def field(app, label, nth=0):
    return [t for t in app.text_input if t.label == label][nth]


def fill_sign_up(app, username, email):
    """Type `username`, `email` and a matching pair of passwords into the registration form."""
    field(app, "Email").input(email)
    field(app, "Username", 1).input(username)  # the first is the sign-in form's
    field(app, "Password (12+ characters)").input("another long secret")
    field(app, "Repeat password").input("another long secret")


def shown(app):
    return (
        [e.value for e in app.error] + [e.value for e in app.info] + [e.value for e in app.success]
    )


def test_registering_through_the_widget_creates_an_adult_account_and_signs_in(home, web_engine):
    app = home()
    app.date_input(key="register_dob").set_value(date(1995, 6, 1))
    field(app, "Display name").input("Zoe")
    field(app, "Last name (optional)").input("Quinn")
    fill_sign_up(app, "zoe", "zoe@example.test")
    app = click(app, "Create account")
    assert "Accept the terms of service and the privacy notice" in " ".join(shown(app))
    app.checkbox(key="register_accepts_legal").check()
    app = click(app, "Create account")
    assert not app.exception, app.exception
    assert app.title[0].value == "Studio"
    with read_scope(web_engine) as session:
        user = session.exec(select(User).where(User.username == "zoe")).one()
        assert user.display_name == "Zoe Quinn" and user.password_hash.startswith("$argon2id$")
        assert ledger.balance(session, user.id) == 42  # STARTER_CREDITS
        assert session.exec(select(AuthSession).where(AuthSession.user_id == user.id)).first()
    texts = legal.load()
    assert (user.terms_version, user.privacy_version) == (
        texts.terms.version,
        texts.privacy.version,
    )


@pytest.mark.parametrize(
    ("born", "message"),
    [(None, "date of birth"), (date(2015, 1, 1), "18 or older")],
)
def test_registration_needs_an_adult_date_of_birth(home, web_engine, born, message):
    app = home()
    if born:
        app.date_input(key="register_dob").set_value(born)
    app.checkbox(key="register_accepts_legal").check()
    fill_sign_up(app, "kid", "kid@example.test")
    app = click(app, "Create account")
    assert not app.exception
    assert any(message in text for text in shown(app))
    with read_scope(web_engine) as session:
        assert session.exec(select(User)).first() is None


def test_signing_in_opens_the_studio_and_wrong_passwords_say_the_same_as_unknown_names(home, ava):
    app = sign_in(home(), "nobody", PASSWORD)
    unknown = shown(app)
    app = sign_in(home(), "ava", "not the password")
    assert shown(app) == unknown == [users.WRONG_LOGIN]
    app = sign_in(home(), "AVA", PASSWORD)
    assert not app.exception
    assert app.title[0].value == "Studio"


def test_repeated_failures_lock_the_account_for_a_while(home, ava, web_engine):
    for _ in range(3):  # LOGIN_MAX_FAILURES
        sign_in(home(), "ava", "not the password")
    app = sign_in(home(), "ava", PASSWORD)
    assert any("Too many failed attempts" in text for text in shown(app))
    assert app.title[0].value == "Welcome to AI KINGS"
    with read_scope(web_engine) as session:
        actions = [e.action for e in session.exec(select(AuditEntry)).all()]
    assert actions.count("login.failed") == 3 and "login.locked" in actions


def test_reset_request_answers_the_same_for_everyone_and_mails_only_the_account(home, ava, outbox):
    def request(login):
        app = home()
        field(app, "Username or email").input(login)
        return click(app, "Send reset code")

    unknown, known = request("nobody@example.test"), request("ava")
    assert shown(unknown) == shown(known) == [auth.RESET_SENT]
    [mail] = list(outbox.glob("*.eml"))
    message = message_from_bytes(mail.read_bytes())
    assert message["To"] == "ava@example.test"
    code = message.get_payload().split("reset code is ")[1].split()[0]

    app = home()
    app.text_input(key="reset_token").input(code)
    app.text_input(key="reset_new").input("a brand new passphrase")
    app = click(app, "Set new password")
    assert "Your password was changed" in " ".join(shown(app))
    assert sign_in(home(), "ava", "a brand new passphrase").title[0].value == "Studio"


def test_change_password_widget_revokes_other_sessions_and_keeps_this_one(signed_in, web_engine):
    app = signed_in("views/account.py").run()
    with session_scope(web_engine) as session:
        elsewhere = sessions.start_browser_session(
            session, user_id=1, now=datetime.now(UTC), ttl_s=600
        )
    field(app, "Current password").input("wrong current password")
    field(app, "New password").input("the next long secret")
    field(app, "Repeat new password").input("the next long secret")
    app = click(app, "Change password")
    assert "The current password is wrong." in shown(app)
    field(app, "Current password").input(PASSWORD)
    app = click(app, "Change password")
    assert not app.exception
    assert "Password changed. Every other session was signed out." in shown(app)
    assert app.title[0].value == "Account"  # this browser got a fresh session
    with read_scope(web_engine) as session:
        now = datetime.now(UTC)
        assert sessions.resolve(session, session_id=elsewhere.id, now=now) is None
        user = users.get_user(session, 1)
    signed = users.authenticate(
        web_engine, username=user.username, password="the next long secret", now=now
    )
    assert signed.id == 1


def test_sign_out_revokes_the_session_on_the_server(signed_in, web_engine):
    app = signed_in("views/account.py").run()
    session_id = app.session_state[auth.SESSION_KEY]
    app = click(app, "Sign out")
    assert not app.exception
    assert app.title[0].value == "Welcome to AI KINGS"
    with read_scope(web_engine) as session:
        assert sessions.resolve(session, session_id=session_id, now=datetime.now(UTC)) is None


def test_account_details_are_saved(signed_in, web_engine):
    app = signed_in("views/account.py").run()
    field(app, "Display name").input("Ava Rose")
    field(app, "Email").input("rose@example.test")
    app = click(app, "Save details")
    assert "Saved." in shown(app)
    with read_scope(web_engine) as session:
        user = users.get_user(session, 1)
    assert (user.display_name, user.email) == ("Ava Rose", "rose@example.test")


def cookie_calls(app):
    """The cookie fetches the page runs (`ui.cookies`), as (method, path, body) triples."""
    calls = []
    for element in app.get("html"):
        for call in re.findall(
            r"fetch\(new URL\((\"[^\"]+\"), window.location.origin\), (\{.*?\})\);",
            element.proto.body,
        ):
            options = json.loads(call[1])
            calls.append(
                (options["method"], json.loads(call[0]), json.loads(options.get("body", "{}")))
            )
    return calls


def test_signing_in_has_the_page_fetch_the_cookie_of_this_tabs_session_until_it_has(
    home, ava, web_engine
):
    app = sign_in(home(), "ava", PASSWORD)
    [(method, path, body)] = cookie_calls(app)
    assert (method, path) == ("POST", cookies.SESSION_PATH)
    app.run()  # not fetched yet (no browser here): asked again, with the same code
    assert cookie_calls(app) == [(method, path, body)]
    with session_scope(web_engine) as session:
        token = sessions.redeem_handoff(session, code=body["code"], now=datetime.now(UTC))
    with read_scope(web_engine) as session:
        live = sessions.resolve(session, token=token, now=datetime.now(UTC))
    assert live.id == app.session_state[auth.SESSION_KEY]  # the cookie is this tab's session
    app.run()
    assert cookie_calls(app) == [] and app.title[0].value == "Studio"


def test_signing_out_has_the_page_clear_the_cookie(signed_in):
    app = signed_in("Home.py").run()
    app.switch_page("views/account.py").run()
    app = click(app, "Sign out")
    assert ("DELETE", cookies.SESSION_PATH, {}) in cookie_calls(app)
    assert app.title[0].value == "Welcome to AI KINGS"


def test_after_the_terms_change_a_signed_in_user_accepts_them_before_going_on(
    home, ava, web_engine
):
    with session_scope(web_engine) as session:
        user = users.get_user(session, ava)
        user.terms_version = "2020-01-01"  # accepted an older version
        session.add(user)
    app = sign_in(home(), "ava", PASSWORD)
    assert app.title[0].value == "Updated terms"
    assert [b.label for b in app.button] == ["I accept", "Sign out"]
    app = app.button(key="legal_accept").click().run()
    assert not app.exception
    assert app.title[0].value == "Studio"
    with read_scope(web_engine) as session:
        assert users.get_user(session, ava).terms_version == legal.load().terms.version
        actions = [e.action for e in session.exec(select(AuditEntry)).all()]
    assert actions.count("legal.accepted") == 2  # at registration, and now


def test_someone_who_does_not_accept_the_new_terms_can_sign_out(home, ava, web_engine):
    with session_scope(web_engine) as session:
        user = users.get_user(session, ava)
        user.privacy_version = None
        session.add(user)
    app = sign_in(home(), "ava", PASSWORD)
    session_id = app.session_state[auth.SESSION_KEY]
    app = app.button(key="legal_sign_out").click().run()
    assert app.title[0].value == "Welcome to AI KINGS"
    assert ("DELETE", cookies.SESSION_PATH, {}) in cookie_calls(app)
    with read_scope(web_engine) as session:
        assert sessions.resolve(session, session_id=session_id, now=datetime.now(UTC)) is None


@pytest.fixture
def relay(monkeypatch):
    """A plain SMTP relay on loopback the app is configured to use (SMTP_HOST...)."""
    with smtp_server() as (port, inbox):
        monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("SMTP_PORT", str(port))
        monkeypatch.setenv("SMTP_SECURITY", "none")
        monkeypatch.setenv("SMTP_SENDER", "Studio <mail@studio.example.test>")
        yield inbox


def test_the_reset_code_is_sent_through_the_relay_and_works(relay, home, ava, outbox):
    app = home()
    field(app, "Username or email").input("ava")
    app = click(app, "Send reset code")
    assert shown(app) == [auth.RESET_SENT]
    [message] = relay.messages
    assert message["To"] == "ava@example.test"
    assert message["From"] == "Studio <mail@studio.example.test>"
    assert not outbox.exists()  # delivered, not parked
    code = message.get_payload(decode=True).decode().split("reset code is ")[1].split()[0]
    app = home()
    app.text_input(key="reset_token").input(code)
    app.text_input(key="reset_new").input("a brand new passphrase")
    app = click(app, "Set new password")
    assert "Your password was changed" in " ".join(shown(app))


def test_registering_mails_a_verification_link_that_the_verify_page_accepts_once(
    relay, home, web_engine
):
    app = home()
    app.date_input(key="register_dob").set_value(date(1995, 6, 1))
    app.checkbox(key="register_accepts_legal").check()
    field(app, "Display name").input("Zoe")
    fill_sign_up(app, "zoe", "zoe@example.test")
    app = click(app, "Create account")
    assert app.title[0].value == "Studio"  # signed in at once: verifying blocks nothing
    [message] = relay.messages
    assert message["To"] == "zoe@example.test"
    body = message.get_payload(decode=True).decode()
    link = next(word for word in body.split() if "/verify?token=" in word)
    assert link.startswith("http://localhost:8501/verify?token=")  # PUBLIC_BASE_URL unset
    token = link.split("token=")[1]

    page = verify_page(token).run()
    assert page.success[0].value == "Thank you: your email address is verified."
    assert "verified already" in verify_page(token).run().info[0].value
    with read_scope(web_engine) as session:
        user = session.exec(select(User).where(User.username == "zoe")).one()
        assert user.verified_at is not None


def verify_page(token):
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(str(ROOT / "views/verify.py"), default_timeout=30)
    app.query_params["token"] = token
    return app


def test_the_verify_page_explains_an_invalid_or_expired_link(web_engine, ava):
    from core.accounts import verification
    from core.config import get_settings

    assert "not valid" in verify_page("1.2.forged").run().error[0].value
    secret = get_settings().cookie_key.get_secret_value()
    with read_scope(web_engine) as session:
        email = session.get(User, ava).email
    stale = verification.make_token(
        secret, user_id=ava, email=email, now=datetime.now(UTC) - timedelta(days=3)
    )
    assert verify_page(stale).run().error[0].value == verification.LINK_EXPIRED


def test_the_account_page_shows_an_unverified_address_and_sends_again_once(
    signed_in, relay, web_engine
):
    app = signed_in("views/account.py").run()
    assert "is not verified yet" in app.warning[0].value
    app = click(app, "Send the link again")
    assert "on its way to user1@example.test" in app.success[0].value
    app = click(app, "Send the link again")
    assert "a moment ago" in app.info[0].value
    assert len(relay.messages) == 1
    token = relay.messages[0].get_payload(decode=True).decode().split("token=")[1].split()[0]
    verify_page(token).run()
    app = app.run()  # the next run reads the account afresh
    assert not app.warning and "is verified" in " ".join(c.value for c in app.caption)
