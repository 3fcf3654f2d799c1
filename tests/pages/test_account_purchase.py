"""Account page: buying credits through the fake Stripe on loopback, purchases off by default,
and a balance taken below zero by a refund explained."""

from datetime import UTC, datetime

from core.accounts import ledger
from core.db import session_scope
from core.models import CreditKind
from sim.server import ServerThread
from testing.fake_stripe import FakeStripe


def test_purchases_are_off_without_stripe_keys(signed_in, monkeypatch):
    monkeypatch.delenv("STRIPE_API_KEY", raising=False)
    app = signed_in("views/account.py").run()
    assert not app.exception
    assert any("not enabled" in c.value for c in app.caption)
    assert not [b for b in app.button if b.label == "Continue to payment"]


def test_buying_a_pack_opens_stripe_checkout_for_this_user(signed_in, monkeypatch):
    fake = FakeStripe(api_key="sk_test_page")
    with ServerThread(fake.app) as stripe:
        monkeypatch.setenv("STRIPE_API_KEY", "sk_test_page")
        monkeypatch.setenv("STRIPE_API_URL", stripe.url)
        monkeypatch.setenv("PUBLIC_BASE_URL", "https://studio.example.test/")
        app = signed_in("views/account.py").run()
        app.radio(key="account_pack").set_value(app.radio(key="account_pack").options[1]).run()
        [b for b in app.button if b.label == "Continue to payment"][0].click()
        app.run()
    assert not app.exception
    [form] = fake.checkout_forms
    assert form["metadata[pack_id]"] == "creator" and form["metadata[user_id]"] == "1"
    # Stripe sends the buyer back to the studio's public address, not to localhost.
    assert form["success_url"] == "https://studio.example.test/account?paid=1"
    assert form["cancel_url"] == "https://studio.example.test/account"
    links = app.get("link_button")
    assert (
        links and links[0].proto.url == f"https://checkout.stripe.test/{next(iter(fake.checkouts))}"
    )


def test_a_balance_below_zero_after_a_refund_is_explained(signed_in, web_engine):
    app = signed_in("views/account.py", credits=0)
    with session_scope(web_engine) as session:
        ledger.take_back(
            session,
            user_id=1,
            credits=300,
            key="stripe-refund:evt_page",
            note="payment refunded: starter",
            now=datetime.now(UTC),
            kind=CreditKind.REVERSAL,
        )
    app.run()
    assert not app.exception
    assert app.metric[0].value == "-300"
    assert any("refunded or disputed" in w.value for w in app.warning)
