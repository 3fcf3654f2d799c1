"""streamlit-authenticator's widgets over our accounts: sign in, register, reset, sign out.

The widgets (forms, labels, the `Authenticate` API the product owner chose) are the library's;
what they call is ours. Its public API has no hook for our own credential check, so we hand
`Authenticate` our `_CoreAccounts` and `_SessionCookie` in place of its two controllers: this
relies on 0.4.2's internals, and pyproject.toml pins exactly that version. Its own would be
wrong here (SECURITY.md decision 6):

- its credentials are a dict of bcrypt hashes loaded into every browser session; ours stay
  in the database as argon2id, and sign-in goes through `core.accounts.users.authenticate`
  (atomic lockout, audit with the client IP, enumeration-safe words);
- its cookie is a JWT (`{username, exp_date}`) set from JavaScript, which logout and password
  changes cannot revoke; ours is HttpOnly, set by our own route (`ui/cookies.py`), and
  carries an HMAC-signed random token of a server-side session row checked on every run, so
  logout, a password change or a disabled account ends it at once;
- its `forgot_password` sets a random password (`random.choice`) for any known username on
  the spot; ours mails a single-use, one-hour code and answers the same words for everyone.

The tab that signs in keeps its session's id in server-side state and has the page fetch the
cookie; any other tab, a reload or a reconnect after a restart reads the cookie. Our own code
keeps the reset-code form (the library has none) and the account details form (its widget
edits first/last-name fields our accounts do not have).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import streamlit as st
import streamlit_authenticator as stauth

from core.accounts import sessions, users
from core.db import read_scope, session_scope
from core.errors import ValidationFailed
from core.mail import send_mail
from core.models import Role, User
from ui import cookies, legal, resources
from ui.verification import mail_link as verification_mail
from ui.widgets import client_ip

SESSION_KEY = "auth_session_id"
"""session_state: the id of this tab's session row (server memory, never sent anywhere)."""
_HANDOFF = "auth_handoff"
_WIDGETS = "auth_widgets"
_SIGNED_OUT = "auth_signed_out"
_DOB = "register_dob"
_RESET_ASKED = "reset_asked"
PASSWORD_HELP = (
    "At least 12 characters and hard to guess: a few uncommon words together work well. "
    "Up to 256 characters."
)
RESET_SENT = "If that account exists, a reset code is on its way to its email address."


def _cookie_key() -> str:
    return resources.settings().cookie_key.get_secret_value()


def current_user() -> User | None:
    """The signed-in user of this browser session, or None.

    The session is looked up on every run, so a revoked one (logout elsewhere, password
    change, disabled account) ends at the next interaction.
    """
    now = resources.clock().now()
    session_id = st.session_state.get(SESSION_KEY)
    with read_scope(resources.engine()) as session:
        live = sessions.resolve(session, now=now, session_id=session_id) if session_id else None
        if live is None and (token := cookies.session_token()) is not None:
            live = sessions.resolve(session, now=now, token=token)
    if live is None:
        st.session_state.pop(SESSION_KEY, None)
    else:
        st.session_state[SESSION_KEY] = live.id
    user = live.user if live else None
    # What the library's widgets read to decide between "sign in" and "sign out".
    st.session_state["authentication_status"] = True if user else None
    st.session_state["username"] = user.username if user else None
    st.session_state["name"] = user.display_name if user else None
    return user


def fetch_cookie_until_held() -> None:
    """Until the browser holds this tab's session cookie, have the page fetch it (the
    handoff code works once, so a second fetch of a delivered cookie changes nothing)."""
    handoff, session_id = st.session_state.get(_HANDOFF), st.session_state.get(SESSION_KEY)
    if handoff and session_id:
        with read_scope(resources.engine()) as session:
            now = resources.clock().now()
            pending = sessions.handoff_pending(session, session_id=session_id, now=now)
        if pending:
            cookies.fetch_session_cookie(handoff)
            return
    st.session_state.pop(_HANDOFF, None)


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


class _SessionCookie:
    """Stands in for the library's JWT cookie controller: our HttpOnly session cookie."""

    def get_cookie(self) -> None:
        # `current_user` already resolved the cookie against the session table; the widget
        # must never sign anyone in from a cookie on its own.
        return None

    def set_cookie(self) -> None:
        # `_start_session` has already queued the cookie's fetch for the next run.
        return None

    def delete_cookie(self) -> None:
        cookies.clear_session_cookie()


class _CoreAccounts:
    """Stands in for the library's authentication controller: every call into core.accounts.

    Method signatures are the ones `Authenticate`'s widgets use in streamlit-authenticator
    0.4.2. Refusals raise `ValidationFailed`; `_widget` shows them.
    """

    def login(
        self, username: str | None = None, password: str | None = None, *_: Any, **__: Any
    ) -> bool:
        settings = resources.settings()
        user = users.authenticate(
            resources.engine(),
            username=(username or "").strip(),
            password=password or "",
            now=resources.clock().now(),
            max_failures=settings.login_max_failures,
            lockout_s=settings.login_lockout_s,
            ip=client_ip(),
        )
        _start_session(user.id or 0)
        return True

    def logout(self, callback: Callable[..., Any] | None = None) -> None:
        sign_out()

    def register_user(
        self,
        new_first_name: str,
        new_last_name: str,
        new_email: str,
        new_username: str,
        new_password: str,
        new_password_repeat: str,
        *_: Any,
        **__: Any,
    ) -> tuple[str, str, str]:
        birth: date | None = st.session_state.get(_DOB)
        if birth is None:
            raise ValidationFailed("Enter your date of birth.")
        if new_password != new_password_repeat:
            raise ValidationFailed("The passwords do not match.")
        display_name = f"{new_first_name.strip()} {new_last_name.strip()}".strip()
        user = users.sign_up(
            resources.engine(),
            username=new_username,
            email=new_email,
            display_name=display_name or new_username,
            password=new_password,
            date_of_birth=birth,
            now=resources.clock().now(),
            starter_credits=resources.settings().starter_credits,
            accepted=legal.accepted_at_registration(),
            ip=client_ip(),
        )
        _start_session(user.id or 0)
        verification_mail(user.id or 0)
        return user.email, user.username, user.display_name

    def reset_password(
        self,
        username: str,
        password: str,
        new_password: str,
        new_password_repeat: str,
        callback: Callable[..., Any] | None = None,
    ) -> bool:
        if new_password != new_password_repeat:
            raise ValidationFailed("The new passwords do not match.")
        user_id = _signed_in_id(username)
        users.change_password(
            resources.engine(),
            user_id=user_id,
            old=password,
            new=new_password,
            now=resources.clock().now(),
            ip=client_ip(),
        )
        # Every session was revoked, this one too: start a fresh one for this browser.
        _start_session(user_id)
        return True

    def forgot_password(self, username: str, *_: Any, **__: Any) -> tuple[None, None, None]:
        now = resources.clock().now()
        request = users.request_password_reset(
            resources.engine(), login=username, now=now, ip=client_ip()
        )
        if request is not None:
            send_mail(
                resources.settings(),
                to=request.email,
                subject="Your AI KINGS password reset code",
                body=f"Your reset code is {request.token}\nIt works once, within one hour.",
                now=now,
            )
        # Nothing about the account goes back to the page: no enumeration.
        st.session_state[_RESET_ASKED] = True
        return None, None, None


def sign_out() -> None:
    """End this tab's session on the server and have the page clear the browser's cookie."""
    session_id = st.session_state.pop(SESSION_KEY, None)
    st.session_state.pop(_HANDOFF, None)
    if session_id:
        with session_scope(resources.engine()) as session:
            sessions.revoke_session(session, session_id=session_id, now=resources.clock().now())
    cookies.clear_session_cookie()
    st.session_state[_SIGNED_OUT] = True
    st.session_state["authentication_status"] = None
    st.session_state["username"] = st.session_state["name"] = None


def signed_out_just_now() -> bool:
    """Whether this tab signed out since the last time this was asked (then: no more)."""
    return bool(st.session_state.pop(_SIGNED_OUT, False))


def _signed_in_id(username: str) -> int:
    user = current_user()
    if user is None or user.username != username:
        raise ValidationFailed("Sign in again to change your password.")
    return user.id or 0


def _start_session(user_id: int) -> None:
    settings = resources.settings()
    with session_scope(resources.engine()) as session:
        started = sessions.start_browser_session(
            session, user_id=user_id, now=resources.clock().now(), ttl_s=settings.session_ttl_s
        )
    st.session_state[SESSION_KEY] = started.id
    st.session_state[_HANDOFF] = started.handoff
    st.session_state["authentication_status"] = True


def _authenticator() -> stauth.Authenticate:
    """The library's widgets over our controllers, built once per browser session: building
    one renders its own cookie component, which would flash on every run."""
    widgets: stauth.Authenticate | None = st.session_state.get(_WIDGETS)
    if widgets is None:
        widgets = stauth.Authenticate(
            {"usernames": {}},
            cookie_name=cookies.SESSION_COOKIE,
            cookie_key=_cookie_key(),
            cookie_expiry_days=resources.settings().session_ttl_s / 86400,
            auto_hash=False,
            login_sleep_time=0,  # its pause waits for its own cookie, which we never use
            password_instructions=PASSWORD_HELP,
        )
        widgets.authentication_controller = _CoreAccounts()
        widgets.cookie_controller = _SessionCookie()
        st.session_state[_WIDGETS] = widgets
    return widgets


def _widget(show: Callable[[], Any]) -> Any:
    """Run one library widget; a refusal from core.accounts is shown, not raised."""
    try:
        return show()
    except ValidationFailed as exc:
        st.error(str(exc))
        return None


def render_sign_in() -> None:
    """The sign-in, registration and password-reset forms."""
    st.title("Welcome to AI KINGS")
    with st.empty():  # the library's cookie component, on the first run only: a fixed slot
        widgets = _authenticator()
    sign_in, register, forgot = st.tabs(["Sign in", "Create account", "Forgot password"])
    with sign_in:
        _widget(
            lambda: widgets.login(
                key="sign_in",
                fields={"Form name": "Sign in", "Username": "Username", "Login": "Sign in"},
            )
        )
    with register:
        st.date_input(
            "Date of birth",
            help="You must be 18 or older to use AI KINGS.",
            value=None,
            min_value=date(1900, 1, 1),
            max_value=resources.clock().now().date(),
            key=_DOB,
        )
        legal.acceptance_box()
        _widget(
            lambda: widgets.register_user(
                key="register",
                captcha=False,
                password_hint=False,
                fields={
                    "Form name": "Create account",
                    "First name": "Display name",
                    "Last name": "Last name (optional)",
                    "Password": "Password (12+ characters)",
                    "Register": "Create account",
                },
            )
        )
    with forgot:
        _widget(
            lambda: widgets.forgot_password(
                key="reset_request",
                fields={
                    "Form name": "Forgot password",
                    "Username": "Username or email",
                    "Submit": "Send reset code",
                },
            )
        )
        if st.session_state.pop(_RESET_ASKED, False):
            st.info(RESET_SENT)
        _reset_with_code()
    if st.session_state.get(SESSION_KEY):
        st.rerun()  # on to the page asked for: the same URL path is now the real page


def _reset_with_code() -> None:
    with st.form("reset_confirm"):
        st.subheader("Set a new password")
        token = st.text_input("Reset code", key="reset_token")
        new_password = st.text_input(
            "New password", type="password", key="reset_new", help=PASSWORD_HELP
        )
        confirmed = st.form_submit_button("Set new password")
    if confirmed:
        try:
            users.reset_password(
                resources.engine(),
                token=token,
                new_password=new_password,
                now=resources.clock().now(),
                ip=client_ip(),
            )
        except ValidationFailed as exc:
            st.error(str(exc))
        else:
            st.success("Your password was changed. Sign in with the new one.")


def render_account_security(user: User) -> None:
    """The library's change-password form and sign-out button, for the Account page."""
    with st.empty():
        widgets = _authenticator()
    if _widget(
        lambda: widgets.reset_password(
            user.username,
            key="change_password",
            fields={
                "Form name": "Change password",
                "Current password": "Current password",
                "New password": "New password",
                "Repeat password": "Repeat new password",
                "Reset": "Change password",
            },
        )
    ):
        st.success("Password changed. Every other session was signed out.")
    widgets.logout("Sign out", key="account_sign_out")
    if not st.session_state.get(SESSION_KEY):
        st.rerun()
