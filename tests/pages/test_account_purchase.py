"""Account page: buying credits through a fake Stripe on loopback, and purchases off by default."""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sim.server import ServerThread


def fake_stripe(seen):
    async def checkout(request: Request):
        seen.append(dict(await request.form()))
        return JSONResponse({"id": "cs_page", "url": "https://checkout.stripe.test/cs_page"})

    return Starlette(routes=[Route("/v1/checkout/sessions", checkout, methods=["POST"])])


def test_purchases_are_off_without_stripe_keys(signed_in, monkeypatch):
    monkeypatch.delenv("STRIPE_API_KEY", raising=False)
    app = signed_in("views/account.py").run()
    assert not app.exception
    assert any("not enabled" in c.value for c in app.caption)
    assert not [b for b in app.button if b.label == "Continue to payment"]


def test_buying_a_pack_opens_stripe_checkout_for_this_user(signed_in, monkeypatch):
    seen = []
    with ServerThread(fake_stripe(seen)) as stripe:
        monkeypatch.setenv("STRIPE_API_KEY", "sk_test_page")
        monkeypatch.setenv("STRIPE_API_URL", stripe.url)
        monkeypatch.setenv("PUBLIC_BASE_URL", "https://studio.example.test/")
        app = signed_in("views/account.py").run()
        app.radio(key="account_pack").set_value(app.radio(key="account_pack").options[1]).run()
        [b for b in app.button if b.label == "Continue to payment"][0].click()
        app.run()
    assert not app.exception
    [form] = seen
    assert form["metadata[pack_id]"] == "creator" and form["metadata[user_id]"] == "1"
    # Stripe sends the buyer back to the studio's public address, not to localhost.
    assert form["success_url"] == "https://studio.example.test/account?paid=1"
    assert form["cancel_url"] == "https://studio.example.test/account"
    links = app.get("link_button")
    assert links and links[0].proto.url == "https://checkout.stripe.test/cs_page"
