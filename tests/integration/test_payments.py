"""Stripe: checkout against a fake Stripe server, webhook signatures, exactly-once grants."""

import hashlib
import hmac
import json
from datetime import UTC, datetime

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from cli import stripe_webhook
from core.accounts import ledger, payments
from core.clock import FakeClock
from core.db import read_scope, session_scope
from core.errors import PaymentError, PaymentUnavailable, ValidationFailed
from sim.server import ServerThread
from testing.factories import make_user

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
SECRET = "whsec_test"


def fake_stripe(events):
    seen = []

    async def checkout(request: Request):
        form = dict(await request.form())
        seen.append((request.headers["authorization"], form))
        if form["line_items[0][price_data][unit_amount]"] == "0":
            return JSONResponse({"error": {"message": "bad"}}, status_code=400)
        return JSONResponse({"id": "cs_1", "url": "https://checkout.stripe.test/cs_1"})

    async def list_events(_request: Request):
        return JSONResponse({"data": events})

    app = Starlette(
        routes=[
            Route("/v1/checkout/sessions", checkout, methods=["POST"]),
            Route("/v1/events", list_events),
        ]
    )
    return app, seen


def event(
    event_id,
    user,
    pack_id="starter",
    status="paid",
    kind="checkout.session.completed",
    checkout_id=None,
):
    return {
        "id": event_id,
        "type": kind,
        "data": {
            "object": {
                "id": checkout_id or f"cs_{event_id}",
                "payment_status": status,
                "client_reference_id": str(user.id),
                "metadata": {"user_id": str(user.id), "pack_id": pack_id},
            }
        },
    }


def sign(payload: bytes, timestamp: int, secret=SECRET):
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def test_checkout_session_is_created_with_the_pack():
    app, seen = fake_stripe([])
    with ServerThread(app) as server:
        url = payments.create_checkout_session(
            api_url=server.url,
            api_key="sk_test",
            user_id=7,
            pack_id="creator",
            success_url="http://x/ok",
            cancel_url="http://x/no",
        )
        with pytest.raises(ValidationFailed, match="Unknown credit pack"):
            payments.create_checkout_session(
                api_url=server.url,
                api_key="k",
                user_id=7,
                pack_id="nope",
                success_url="",
                cancel_url="",
            )
    assert url == "https://checkout.stripe.test/cs_1"
    auth, form = seen[0]
    assert auth == "Bearer sk_test" and form["metadata[pack_id]"] == "creator"
    assert form["line_items[0][price_data][unit_amount]"] == "1000"
    with pytest.raises(PaymentUnavailable, match="not reachable"):  # transport, not input
        payments.create_checkout_session(
            api_url="http://127.0.0.1:9",
            api_key="k",
            user_id=7,
            pack_id="starter",
            success_url="",
            cancel_url="",
        )


@pytest.mark.parametrize(
    ("status", "error", "message"),
    [(503, PaymentUnavailable, "try again later"), (401, PaymentError, "refused")],
)
def test_stripe_refusals_map_into_the_error_tree_with_status_and_request_id(status, error, message):
    async def refuse(_request: Request):
        return JSONResponse({"error": {}}, status_code=status, headers={"request-id": "req_9"})

    app = Starlette(routes=[Route("/v1/events", refuse)])
    with ServerThread(app) as server, pytest.raises(error, match=message) as info:
        payments.fetch_events(api_url=server.url, api_key="k")
    assert not isinstance(info.value, ValidationFailed)  # a remote failure, not bad input
    assert (info.value.status, info.value.request_id) == (status, "req_9")


def test_webhook_signature_and_timestamp_are_enforced():
    payload = json.dumps({"id": "evt_1"}).encode()
    ts = int(NOW.timestamp())
    assert payments.verify_webhook(payload, sign(payload, ts), SECRET, now=NOW) == {"id": "evt_1"}
    for header, message in [
        (sign(payload, ts, "other"), "does not match"),
        (sign(payload + b" ", ts), "does not match"),
        (sign(payload, ts - 301), "tolerance"),
        ("v1=abc", "malformed"),
    ]:
        with pytest.raises(ValidationFailed, match=message):
            payments.verify_webhook(payload, header, SECRET, now=NOW)


def test_events_grant_once_whatever_the_order_or_repetition(engine):
    user = make_user(engine)
    events = [
        event("evt_2", user, "creator"),
        event("evt_1", user),
        event("evt_1", user),
        event("evt_3", user, status="unpaid"),
        event("evt_4", user, kind="charge.refunded"),
    ]
    app, _ = fake_stripe(events)
    with ServerThread(app) as server, httpx.Client() as http:
        fetched = payments.fetch_events(api_url=server.url, api_key="k", http=http)
    with session_scope(engine) as session:
        granted = [payments.apply_event(session, e, now=NOW) for e in fetched]
    assert granted == [True, True, False, False, False]
    with read_scope(engine) as session:
        assert ledger.balance(session, user.id) == 1200 + 500


def test_an_async_payment_credits_once_whichever_event_arrives_first(engine):
    user = make_user(engine)
    unpaid = event("evt_a", user, status="unpaid", checkout_id="cs_async")
    succeeded = event(
        "evt_b", user, kind="checkout.session.async_payment_succeeded", checkout_id="cs_async"
    )
    completed_paid = event("evt_c", user, checkout_id="cs_async")  # the same checkout again
    with session_scope(engine) as session:
        granted = [
            payments.apply_event(session, e, now=NOW)
            for e in (succeeded, unpaid, completed_paid, succeeded)
        ]
    assert granted == [True, False, False, False]
    with read_scope(engine) as session:
        assert ledger.balance(session, user.id) == 500
        assert [e.kind.value for e in ledger.history(session, user_id=user.id)] == ["purchase"]


def test_unusable_events_are_skipped_without_blocking_the_batch(engine):
    user = make_user(engine)
    batch = [
        event("evt_bad_pack", user, pack_id="nope"),
        {"id": "evt_no_user", "type": "checkout.session.completed",
         "data": {"object": {"id": "cs_x", "payment_status": "paid",
                             "metadata": {"pack_id": "starter", "user_id": "999999"}}}},
        {"id": "evt_no_object", "type": "checkout.session.completed"},
        event("evt_good", user),
    ]  # fmt: skip
    with session_scope(engine) as session:
        granted = [payments.apply_event(session, e, now=NOW) for e in batch]
    assert granted == [False, False, False, True]


def post_webhook(url, payload: bytes, header: str | None):
    headers = {"content-type": "application/json"}
    if header is not None:
        headers["stripe-signature"] = header
    return httpx.post(f"{url}{stripe_webhook.PATH}", content=payload, headers=headers, timeout=10)


def test_webhook_endpoint_verifies_signatures_and_credits_exactly_once(engine):
    """Bad signature, stale timestamp, duplicate and reordered deliveries, over real HTTP."""
    user = make_user(engine)
    clock = FakeClock(NOW)
    first = json.dumps(event("evt_1", user, "creator")).encode()
    second = json.dumps(event("evt_2", user, "starter")).encode()
    ts = int(NOW.timestamp())
    app = stripe_webhook.make_app(engine, secret=SECRET, clock=clock)
    with ServerThread(app) as server:
        refused = [
            post_webhook(server.url, first, sign(first, ts, "whsec_other")),
            post_webhook(server.url, first, sign(first, ts - 301)),  # replayed after 5 minutes
            post_webhook(server.url, first, None),
            post_webhook(server.url, b"not json", sign(b"not json", ts)),
        ]
        # Stripe retries and may deliver out of order: evt_2 first, then evt_1 twice.
        accepted = [
            post_webhook(server.url, second, sign(second, ts)),
            post_webhook(server.url, first, sign(first, ts)),
            post_webhook(server.url, first, sign(first, ts + 60)),
        ]
    assert [r.status_code for r in refused] == [400, 400, 400, 400]
    assert "does not match" in refused[0].json()["error"]
    assert "tolerance" in refused[1].json()["error"]
    assert [r.status_code for r in accepted] == [200, 200, 200]
    assert [r.json()["granted"] for r in accepted] == [True, True, False]
    with read_scope(engine) as session:
        assert ledger.balance(session, user.id) == 1200 + 500


def test_webhook_server_refuses_to_start_without_a_secret(monkeypatch):
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET", raising=False)
    assert stripe_webhook.main(["--port", "0"]) == 2
