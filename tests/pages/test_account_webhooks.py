"""Account page: a webhook is added with its secret shown, refused for an internal address,
and deleted."""

from sqlmodel import Session, select

from core.models import Webhook
from tests.pages.actions import fill_and_click


def _add(app, url):
    return fill_and_click(app, {"Endpoint URL": url}, "Add webhook")


def test_a_webhook_is_added_shown_with_its_secret_and_deleted(signed_in, web_engine):
    app = _add(signed_in("views/account.py").run(), "https://hooks.example.test/in")
    assert not app.exception
    with Session(web_engine) as session:
        [hook] = session.exec(select(Webhook)).all()
    assert any(hook.secret in block.value for block in app.markdown)
    [delete] = [b for b in app.button if b.key == f"webhook_delete_{hook.id}"]
    delete.click()
    app.run()
    assert not app.exception
    with Session(web_engine) as session:
        assert session.get(Webhook, hook.id).deleted_at is not None


def test_an_internal_address_is_refused_with_a_message(signed_in, web_engine):
    app = _add(signed_in("views/account.py").run(), "http://127.0.0.1:8501/")
    assert not app.exception
    assert any("network" in error.value for error in app.error)
    with Session(web_engine) as session:
        assert not session.exec(select(Webhook)).all()
