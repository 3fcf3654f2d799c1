"""Account page: an API token is created with its scopes, shown once, listed and revoked."""

from sqlmodel import Session, select

from core.accounts.api_tokens import resolve_token
from core.clock import SystemClock
from core.models import ApiToken, Role
from tests.pages.actions import fill_and_click


def _create(app, name):
    return fill_and_click(app, {"Token name": name}, "Create token")


def test_a_created_token_is_shown_once_and_works_until_revoked(signed_in, web_engine):
    app = _create(signed_in("views/account.py").run(), "render bot")
    assert not app.exception
    [shown] = app.code
    secret = shown.value
    assert secret.startswith("aik_")
    with Session(web_engine) as session:
        principal = resolve_token(session, secret=secret, now=SystemClock().now())
        [row] = session.exec(select(ApiToken)).all()
    assert principal is not None and {s.value for s in principal.scopes} == {"read"}
    assert row.name == "render bot" and secret not in (row.token_sha256, row.prefix)
    app.run()
    assert not app.code, "the secret is shown once"
    [revoke] = [b for b in app.button if b.label == "Revoke"]
    revoke.click()
    app.run()
    assert not app.exception
    with Session(web_engine) as session:
        assert resolve_token(session, secret=secret, now=SystemClock().now()) is None


def test_a_nameless_token_is_refused_with_a_message(signed_in, web_engine):
    app = _create(signed_in("views/account.py").run(), "   ")
    assert not app.exception and not app.code
    assert any("name" in error.value for error in app.error)
    with Session(web_engine) as session:
        assert not session.exec(select(ApiToken)).all()


def test_only_an_admin_is_offered_the_admin_scope(signed_in):
    user_scopes = signed_in("views/account.py").run().multiselect[0].options
    admin_scopes = signed_in("views/account.py", role=Role.ADMIN).run().multiselect[0].options
    assert not any("admin" in option for option in user_scopes)
    assert any("admin" in option for option in admin_scopes)
