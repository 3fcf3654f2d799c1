"""Login, registration and password reset for the web app, over `core.accounts`.

streamlit-authenticator 0.4.2 checks bcrypt hashes held in a credentials dict and keeps the
login in a JavaScript-set JWT that logout cannot revoke (SECURITY.md, decision 6). We keep
its cookie transport (`extra_streamlit_components.CookieManager`, which it ships with) and its
field validator, and put the rest where it can be trusted: argon2id hashes, lockout and
revocable server-side sessions in `core.accounts`. The cookie carries only an HMAC-signed
random session token.
"""

from __future__ import annotations

from datetime import date

import extra_streamlit_components as stx
import streamlit as st
from streamlit_authenticator.utilities.validator import Validator

from core.accounts import sessions, users
from core.clock import SystemClock
from core.db import read_scope, session_scope
from core.errors import ValidationFailed
from core.mail import write_outbox
from core.models import Role, User
from ui import resources

COOKIE_NAME = "aikings_session"
_TOKEN = "auth_token"
_clock = SystemClock()


def _cookies() -> stx.CookieManager:
    return stx.CookieManager(key="aikings_cookies")


def _cookie_key() -> str:
    return resources.settings().cookie_key.get_secret_value()


def _token_from_cookie() -> str | None:
    raw = st.context.cookies.get(COOKIE_NAME)
    return sessions.read_cookie(raw, _cookie_key()) if isinstance(raw, str) and raw else None


def current_user() -> User | None:
    """The signed-in user of this browser session, or None.

    The token is looked up on every run, so a revoked session (logout elsewhere, password
    change, disabled account) ends at the next interaction.
    """
    token = st.session_state.get(_TOKEN) or _token_from_cookie()
    if not token:
        return None
    with read_scope(resources.engine()) as session:
        user = sessions.resolve_session(session, token=token, now=_clock.now())
    if user is None:
        st.session_state.pop(_TOKEN, None)
        return None
    st.session_state[_TOKEN] = token
    return user


def is_admin(user: User | None) -> bool:
    """Whether `user` may see the admin pages."""
    return user is not None and user.role is Role.ADMIN


def require_user() -> User:
    """The signed-in user; otherwise render the sign-in forms and stop the script."""
    user = current_user()
    if user is not None:
        return user
    render_sign_in()
    st.stop()
    raise AssertionError("unreachable")  # st.stop() raises


def require_admin() -> User:
    """The signed-in admin; anyone else is told the page is for admins and stopped."""
    user = require_user()
    if not is_admin(user):
        st.error("This page is for administrators.")
        st.stop()
    return user


def sign_out() -> None:
    """Revoke this browser's session on the server and forget the cookie."""
    token = st.session_state.pop(_TOKEN, None)
    if token:
        with session_scope(resources.engine()) as session:
            sessions.revoke_session(session, token=token, now=_clock.now())
    _cookies().delete(COOKIE_NAME, key="aikings_cookie_delete")


def _start_session(user_id: int) -> None:
    settings = resources.settings()
    with session_scope(resources.engine()) as session:
        token = sessions.create_session(
            session, user_id=user_id, now=_clock.now(), ttl_s=settings.session_ttl_s
        )
    st.session_state[_TOKEN] = token
    _cookies().set(
        COOKIE_NAME,
        sessions.sign_cookie(token, _cookie_key()),
        max_age=settings.session_ttl_s,
        same_site="strict",
        key="aikings_cookie_set",
    )


def render_sign_in() -> None:
    """The sign-in, registration and password-reset forms."""
    st.title("Welcome to AI KINGS")
    sign_in, register, forgot = st.tabs(["Sign in", "Create account", "Forgot password"])
    with sign_in:
        _sign_in_form()
    with register:
        _register_form()
    with forgot:
        _reset_forms()


def _sign_in_form() -> None:
    with st.form("sign_in"):
        username = st.text_input("Username", key="sign_in_username")
        password = st.text_input("Password", type="password", key="sign_in_password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if not submitted:
        return
    settings = resources.settings()
    try:
        user = users.authenticate(
            resources.engine(),
            username=username.strip(),
            password=password,
            now=_clock.now(),
            max_failures=settings.login_max_failures,
            lockout_s=settings.login_lockout_s,
        )
        user_id = user.id or 0
    except ValidationFailed as exc:
        st.error(str(exc))
        return
    _start_session(user_id)
    st.rerun()


def _register_form() -> None:
    with st.form("register"):
        username = st.text_input("Username", key="register_username")
        display_name = st.text_input("Display name", key="register_display_name")
        email = st.text_input("Email", key="register_email")
        birth = st.date_input(
            "Date of birth",
            value=None,
            min_value=date(1900, 1, 1),
            max_value=_clock.now().date(),
            key="register_dob",
        )
        password = st.text_input("Password (12+ characters)", type="password", key="register_pw")
        repeat = st.text_input("Repeat password", type="password", key="register_pw2")
        submitted = st.form_submit_button("Create account", type="primary")
    if not submitted:
        return
    problem = _register_problem(username, email, password, repeat, birth)
    if problem:
        st.error(problem)
        return
    assert birth is not None
    try:
        with session_scope(resources.engine()) as session:
            user = users.register(
                session,
                username=username.strip(),
                email=email.strip(),
                display_name=display_name.strip() or username.strip(),
                password=password,
                date_of_birth=birth,
                now=_clock.now(),
                starter_credits=resources.settings().starter_credits,
            )
            user_id = user.id or 0
    except ValidationFailed as exc:
        st.error(str(exc))
        return
    _start_session(user_id)
    st.rerun()


def _register_problem(
    username: str, email: str, password: str, repeat: str, birth: date | None
) -> str | None:
    validator = Validator()
    if not validator.validate_email(email.strip()):
        return "Enter a valid email address."
    if not username.strip():
        return "Choose a username."
    if password != repeat:
        return "The passwords do not match."
    if birth is None:
        return "Enter your date of birth."
    return None


def _reset_forms() -> None:
    with st.form("reset_request"):
        email = st.text_input("Email", key="reset_email")
        asked = st.form_submit_button("Send reset link")
    if asked:
        now = _clock.now()
        with session_scope(resources.engine()) as session:
            token = users.request_password_reset(session, email=email.strip(), now=now)
        if token:
            write_outbox(
                resources.settings().data_dir / "outbox",
                to=email.strip(),
                subject="Your AI KINGS password reset code",
                body=f"Your reset code is {token}\nIt works once, within one hour.",
                now=now,
            )
        # The same words whether or not the address is known: no account enumeration.
        st.info("If that address has an account, a reset link is on its way.")
    with st.form("reset_confirm"):
        token = st.text_input("Reset code", key="reset_token")
        new_password = st.text_input("New password", type="password", key="reset_new")
        confirmed = st.form_submit_button("Set new password")
    if confirmed:
        try:
            with session_scope(resources.engine()) as session:
                users.reset_password(
                    session, token=token.strip(), new_password=new_password, now=_clock.now()
                )
        except ValidationFailed as exc:
            st.error(str(exc))
        else:
            st.success("Your password was changed. Sign in with the new one.")
