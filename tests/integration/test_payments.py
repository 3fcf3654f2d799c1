"""Stripe through the official SDK against a fake Stripe on loopback: Checkout, webhook
signatures, polling, and every event applied once (payments, delayed payments, refunds,
disputes), on SQLite and PostgreSQL, including the same event delivered many times at once."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx
import pytest
from sqlmodel import select

from cli import stripe_webhook
from core.accounts import ledger, payments
from core.accounts.payments import Applied
from core.clock import FakeClock
from core.db import read_scope, session_scope
from core.errors import InsufficientCredits, PaymentError, PaymentUnavailable, ValidationFailed
from core.models import CreditKind, StripeEvent
from sim.server import ServerThread
from testing.factories import make_job, make_user
from testing.fake_stripe import FakeStripe, signed_delivery

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
SECRET = "whsec_test"


@pytest.fixture
def stripe_fake():
    fake = FakeStripe(now=NOW.timestamp)
    with ServerThread(fake.app) as server:
        fake.url = server.url
        fake.client = payments.stripe_client(api_key=fake.api_key, api_url=server.url)
        yield fake


def checkout(fake, user, pack_id="starter"):
    url = payments.create_checkout_session(
        fake.client,
        user_id=user.id,
        pack_id=pack_id,
        success_url="http://x/ok",
        cancel_url="http://x/no",
    )
    return url.rsplit("/", 1)[1]


def poll(engine, fake):
    events = payments.fetch_events(fake.client, now=NOW)
    return payments.apply_events(engine, events, clock_now=lambda: NOW)


def balance(engine, user):
    with read_scope(engine) as session:
        return ledger.balance(session, user.id)


def test_checkout_session_is_created_with_the_pack(stripe_fake):
    url = payments.create_checkout_session(
        stripe_fake.client,
        user_id=7,
        pack_id="creator",
        success_url="http://x/ok",
        cancel_url="http://x/no",
    )
    assert url.startswith("https://checkout.stripe.test/cs_test_")
    [form] = stripe_fake.checkout_forms
    assert form["metadata[pack_id]"] == "creator" and form["metadata[user_id]"] == "7"
    assert form["payment_intent_data[metadata][user_id]"] == "7"
    assert form["line_items[0][price_data][unit_amount]"] == "1000"
    assert form["success_url"] == "http://x/ok" and form["mode"] == "payment"
    with pytest.raises(ValidationFailed, match="Unknown credit pack"):
        payments.create_checkout_session(
            stripe_fake.client, user_id=7, pack_id="nope", success_url="", cancel_url=""
        )
    unreachable = payments.stripe_client(
        api_key="k", api_url="http://127.0.0.1:9", max_network_retries=0
    )
    with pytest.raises(PaymentUnavailable, match="not reachable"):  # transport, not input
        payments.create_checkout_session(
            unreachable, user_id=7, pack_id="starter", success_url="", cancel_url=""
        )


@pytest.mark.parametrize(
    ("status", "error", "message"),
    [(503, PaymentUnavailable, "try again later"), (401, PaymentError, "refused")],
)
def test_stripe_refusals_map_into_the_error_tree_with_status_and_request_id(
    stripe_fake, status, error, message
):
    stripe_fake.fail_status = status
    client = payments.stripe_client(
        api_key=stripe_fake.api_key,
        api_url=stripe_fake.url,
        max_network_retries=0,
    )
    with pytest.raises(error, match=message) as info:
        payments.fetch_events(client, now=NOW)
    assert not isinstance(info.value, ValidationFailed)  # a remote failure, not bad input
    assert info.value.status == status and info.value.request_id.startswith("req_")


def test_a_wrong_api_key_is_a_refusal_not_an_outage(stripe_fake):
    client = payments.stripe_client(api_key="sk_wrong", api_url=stripe_fake.url)
    with pytest.raises(PaymentError) as info:
        payments.fetch_events(client, now=NOW)
    assert not isinstance(info.value, PaymentUnavailable) and info.value.status == 401


def test_webhook_signature_and_timestamp_are_enforced():
    event = {"id": "evt_1", "object": "event", "type": "charge.refunded", "data": {"object": {}}}
    body, header = signed_delivery(event, SECRET)
    assert payments.verify_webhook(body, header, SECRET)["id"] == "evt_1"
    stale_body, stale = signed_delivery(event, SECRET, timestamp=int(time.time()) - 301)
    refused = [
        (body, signed_delivery(event, "whsec_other")[1]),  # another secret
        (body + b" ", header),  # the body changed after signing
        (stale_body, stale),  # replayed more than five minutes later
        (body, "v1=abc"),  # no timestamp
        (body, ""),  # no header at all
    ]
    for payload, signature in refused:
        with pytest.raises(ValidationFailed, match="Webhook signature refused"):
            payments.verify_webhook(payload, signature, SECRET)
    not_json, signature = b"not json", signed_delivery(event, SECRET)[1]
    with pytest.raises(ValidationFailed):
        payments.verify_webhook(not_json, signature, SECRET)


def test_polled_events_credit_once_per_event_and_per_payment(engine, stripe_fake):
    user = make_user(engine)
    creator, starter = checkout(stripe_fake, user, "creator"), checkout(stripe_fake, user)
    stripe_fake.pay(creator)
    stripe_fake.pay(starter)
    assert poll(engine, stripe_fake) == [Applied.GRANTED, Applied.GRANTED]
    assert poll(engine, stripe_fake) == [Applied.DUPLICATE, Applied.DUPLICATE]
    assert balance(engine, user) == 1200 + 500
    with read_scope(engine) as session:
        assert [e.outcome for e in session.exec(select(StripeEvent))] == ["granted", "granted"]


def test_a_delayed_payment_credits_only_once_the_money_arrives(engine, stripe_fake):
    user = make_user(engine)
    pending = checkout(stripe_fake, user)
    completed, succeeded = stripe_fake.pay_later(pending)
    with session_scope(engine) as session:
        assert payments.apply_event(session, completed, now=NOW) is Applied.IGNORED  # unpaid
    assert balance(engine, user) == 0
    with session_scope(engine) as session:
        assert payments.apply_event(session, succeeded, now=NOW) is Applied.GRANTED
    # The same checkout reported paid again under another event id grants nothing more.
    again = {**stripe_fake.pay(pending), "id": "evt_other"}
    with session_scope(engine) as session:
        assert payments.apply_event(session, again, now=NOW) is Applied.IGNORED
    assert balance(engine, user) == 500
    assert poll(engine, stripe_fake) == [Applied.DUPLICATE, Applied.DUPLICATE, Applied.IGNORED]


def spend(engine, user, credits):
    job = make_job(engine, user)
    with session_scope(engine) as session:
        ledger.hold_for_job(session, user_id=user.id, job_id=job.id, credits=credits, now=NOW)
        ledger.settle_job(session, job_id=job.id, charged_credits=credits, now=NOW)


def test_refunds_take_credits_back_in_parts_and_a_negative_balance_blocks_new_jobs(
    engine, stripe_fake
):
    user = make_user(engine)
    bought = checkout(stripe_fake, user)  # 500 credits for $5.00
    stripe_fake.pay(bought)
    poll(engine, stripe_fake)
    spend(engine, user, 400)
    stripe_fake.refund(bought, 150)  # 30 % back: 150 credits
    assert poll(engine, stripe_fake)[-1] is Applied.TAKEN_BACK
    assert balance(engine, user) == 500 - 400 - 150
    stripe_fake.refund(bought)  # the rest: the running total reaches the whole price
    assert poll(engine, stripe_fake)[-1] is Applied.TAKEN_BACK
    assert balance(engine, user) == 500 - 400 - 500  # spent credits are gone too: -400
    with read_scope(engine) as session:
        kinds = [e.kind for e in ledger.history(session, user_id=user.id)]
    assert kinds[:2] == [CreditKind.REVERSAL, CreditKind.REVERSAL]
    job = make_job(engine, user)
    with session_scope(engine) as session, pytest.raises(InsufficientCredits, match="refunded"):
        ledger.hold_for_job(session, user_id=user.id, job_id=job.id, credits=1, now=NOW)


def test_a_dispute_takes_the_credits_back_once_and_a_later_refund_takes_nothing_more(
    engine, stripe_fake
):
    user = make_user(engine)
    bought = checkout(stripe_fake, user, "creator")
    stripe_fake.pay(bought)
    dispute = stripe_fake.dispute(bought)
    assert poll(engine, stripe_fake) == [Applied.GRANTED, Applied.TAKEN_BACK]
    redelivered = {**dispute, "id": "evt_resent"}  # same dispute, another event id
    with session_scope(engine) as session:
        assert payments.apply_event(session, redelivered, now=NOW) is Applied.IGNORED
    stripe_fake.refund(bought)
    assert poll(engine, stripe_fake)[-1] is Applied.IGNORED
    assert balance(engine, user) == 0
    with read_scope(engine) as session:
        assert ledger.history(session, user_id=user.id)[0].kind is CreditKind.DISPUTE


def test_a_won_dispute_gives_its_credits_back_once(engine, stripe_fake):
    user = make_user(engine)
    bought = checkout(stripe_fake, user)
    stripe_fake.pay(bought)
    dispute = stripe_fake.dispute(bought, 250)  # half the price disputed
    won = stripe_fake.win_dispute(dispute["data"]["object"]["id"])
    assert poll(engine, stripe_fake) == [Applied.GRANTED, Applied.TAKEN_BACK, Applied.GRANTED]
    with session_scope(engine) as session:
        assert payments.apply_event(session, {**won, "id": "evt_again"}, now=NOW) is Applied.IGNORED
    assert balance(engine, user) == 500
    with read_scope(engine) as session:
        kinds = [e.kind for e in ledger.history(session, user_id=user.id)]
    assert kinds == [CreditKind.RESTORE, CreditKind.DISPUTE, CreditKind.PURCHASE]
    stripe_fake.refund(bought)  # after the win the whole pack can still be refunded
    assert poll(engine, stripe_fake)[-1] is Applied.TAKEN_BACK
    assert balance(engine, user) == 0


def test_a_refund_seen_before_its_payment_waits_for_it(engine, stripe_fake):
    user = make_user(engine)
    bought = checkout(stripe_fake, user)
    paid = stripe_fake.pay(bought)
    refund = stripe_fake.refund(bought)
    with session_scope(engine) as session:
        assert payments.apply_event(session, refund, now=NOW) is Applied.DEFERRED
    with read_scope(engine) as session:
        assert session.get(StripeEvent, refund["id"]) is None  # not claimed: applied later
    with session_scope(engine) as session:
        assert payments.apply_event(session, paid, now=NOW) is Applied.GRANTED
    assert poll(engine, stripe_fake) == [Applied.DUPLICATE, Applied.TAKEN_BACK]
    assert balance(engine, user) == 0


def test_unusable_events_are_skipped_without_blocking_the_batch(engine):
    user = make_user(engine)
    paid = {"id": "cs_x", "payment_status": "paid", "metadata": {"pack_id": "starter"}}
    batch = [
        {"id": "evt_bad_pack", "type": "checkout.session.completed",
         "data": {"object": {**paid, "metadata": {"pack_id": "nope", "user_id": str(user.id)}}}},
        {"id": "evt_no_user", "type": "checkout.session.completed",
         "data": {"object": {**paid, "metadata": {"pack_id": "starter", "user_id": "999999"}}}},
        {"id": "evt_no_object", "type": "checkout.session.completed"},
        {"type": "checkout.session.completed", "data": {"object": paid}},  # no event id
        {"id": "evt_other", "type": "invoice.paid", "data": {"object": {}}},
        {"id": "evt_good", "type": "checkout.session.completed",
         "data": {"object": {**paid, "id": "cs_good", "client_reference_id": str(user.id)}}},
    ]  # fmt: skip
    applied = payments.apply_events(engine, batch, clock_now=lambda: NOW)
    assert applied == [Applied.IGNORED] * 5 + [Applied.GRANTED]
    assert balance(engine, user) == 500


def post_webhook(url, payload: bytes, header: str | None):
    headers = {"content-type": "application/json"}
    if header is not None:
        headers["stripe-signature"] = header
    return httpx.post(f"{url}{stripe_webhook.PATH}", content=payload, headers=headers, timeout=10)


def test_webhook_endpoint_verifies_signatures_and_applies_each_event_once(engine, stripe_fake):
    """Bad signature, stale timestamp, duplicate and reordered deliveries, over real HTTP."""
    user = make_user(engine)
    first, second = checkout(stripe_fake, user, "creator"), checkout(stripe_fake, user)
    paid_first, paid_second = stripe_fake.pay(first), stripe_fake.pay(second)
    refund = stripe_fake.refund(second)
    body, header = signed_delivery(paid_first, SECRET)
    app = stripe_webhook.make_app(engine, secret=SECRET, clock=FakeClock(NOW))
    with ServerThread(app) as server:
        refused = [
            post_webhook(server.url, body, signed_delivery(paid_first, "whsec_other")[1]),
            post_webhook(
                server.url, *signed_delivery(paid_first, SECRET, timestamp=int(time.time()) - 301)
            ),
            post_webhook(server.url, body, None),
            post_webhook(server.url, b"not json", signed_delivery(paid_first, SECRET)[1]),
        ]
        # Stripe retries and may deliver out of order: the refund first, then the payments.
        accepted = [
            post_webhook(server.url, *signed_delivery(event, SECRET))
            for event in (refund, paid_second, paid_first, paid_first, refund)
        ]
    assert [r.status_code for r in refused] == [400, 400, 400, 400]
    assert "Webhook signature refused" in refused[0].json()["error"]
    assert [r.status_code for r in accepted] == [200] * 5
    assert [r.json()["applied"] for r in accepted] == [
        "deferred", "granted", "granted", "duplicate", "taken_back",
    ]  # fmt: skip
    assert balance(engine, user) == 1200


def test_the_same_event_delivered_many_times_at_once_applies_once(engine, stripe_fake):
    """Webhook retries and the poller racing each other: one copy wins, the rest find its
    claim (on PostgreSQL the losers wait on the winner's uncommitted insert)."""
    user = make_user(engine)
    bought = checkout(stripe_fake, user, "studio")
    paid = stripe_fake.pay(bought)
    app = stripe_webhook.make_app(engine, secret=SECRET, clock=FakeClock(NOW))
    copies = 8
    with ServerThread(app) as server:
        for event in (paid, stripe_fake.refund(bought, 1100)):
            start = threading.Barrier(copies)

            def deliver(index, event=event, start=start):
                start.wait()
                if index % 2:  # the poller
                    [applied] = payments.apply_events(engine, [event], clock_now=lambda: NOW)
                    return applied.value
                return post_webhook(server.url, *signed_delivery(event, SECRET)).json()["applied"]

            with ThreadPoolExecutor(max_workers=copies) as pool:
                outcomes = sorted(pool.map(deliver, range(copies)))
            winner = "granted" if event is paid else "taken_back"
            assert outcomes == sorted([winner] + ["duplicate"] * (copies - 1))
    assert balance(engine, user) == 3000 - 1500  # 1100 of 2200 cents refunded: half the pack
    with read_scope(engine) as session:
        assert len(session.exec(select(StripeEvent)).all()) == 2


def test_webhook_server_refuses_to_start_without_a_secret(monkeypatch):
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET", raising=False)
    assert stripe_webhook.main(["--port", "0"]) == 2


def test_the_scheduler_polls_stripe_as_leader_and_counts_credit_moves(
    engine, stripe_fake, tmp_path
):
    from core.config import load_settings
    from scheduler.tasks import Runtime

    user = make_user(engine)
    bought = checkout(stripe_fake, user, "creator")
    stripe_fake.pay(bought)
    stripe_fake.refund(bought, 500)
    settings = load_settings(
        database_url=engine.url.render_as_string(hide_password=False),
        backup_dir=tmp_path / "backups",
        stripe_api_key=stripe_fake.api_key,
        stripe_api_url=stripe_fake.url,
    )
    runtime = Runtime(settings, FakeClock(NOW))
    try:
        assert runtime.sync_payments() == 0  # not the leader: standbys leave Stripe alone
        assert runtime.leader.acquire_or_renew()
        assert runtime.sync_payments() == 2  # the grant and the refund's take-back
        assert runtime.sync_payments() == 0  # the next poll sees only duplicates
    finally:
        runtime.shutdown(grace_s=0)
    assert balance(engine, user) == 1200 - 600
