"""Optional Stripe purchases through the official `stripe` SDK: Checkout, signed webhooks,
event polling, and every event applied exactly once.

Two paths bring events: the scheduler polls `/v1/events` (`fetch_events`, for a studio with
no public URL) and `cli.stripe_webhook` serves the signed webhook where there is one. Both
call `apply_event`, so running both is safe:

- **once per event id**: `apply_event` first claims the id in `StripeEvent` with an
  `INSERT ... ON CONFLICT DO NOTHING`. A second copy, from the other path or at the same
  instant on another process, waits for the first transaction and then finds the claim.
- **once per payment**: a checkout's credits are keyed `stripe:<checkout id>` in the ledger,
  so `checkout.session.completed` (paid) and `...async_payment_succeeded` of one checkout
  (a delayed payment method sends `completed` unpaid, then `succeeded`) grant once.
- **taken back**: `charge.refunded` takes back the share of the pack refunded so far and
  `charge.dispute.created` the disputed share, together never more than the pack granted.
  The balance may go below zero; `ledger.hold_for_job` then refuses new jobs. A dispute
  won (`charge.dispute.funds_reinstated`: the money came back) gives its credits back.
- **deferred**: a refund or dispute of a payment not credited yet (events out of order) is
  not claimed, so it is applied by a later poll, after the payment.

An event we cannot use (unknown pack or user) is claimed as ignored and logged, never raised:
one bad event must not block the others of a polled batch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
import stripe
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.accounts import ledger
from core.db import run_transaction
from core.errors import NotFound, PaymentError, PaymentUnavailable, ValidationFailed
from core.locks import read_after_owner
from core.models import CreditEntry, CreditKind, StripeEvent, StripePayment

TOLERANCE_S = 300
PAID_EVENTS = ("checkout.session.completed", "checkout.session.async_payment_succeeded")
REFUNDED = "charge.refunded"
DISPUTED = "charge.dispute.created"
REINSTATED = "charge.dispute.funds_reinstated"
HANDLED_EVENTS = (*PAID_EVENTS, REFUNDED, DISPUTED, REINSTATED)
POLL_WINDOW = timedelta(days=3)
"""How far back each poll looks: Stripe keeps events 30 days; an event is applied on the first
poll that sees it, so the window only has to outlast an outage of the poller."""
MAX_POLLED_EVENTS = 1000
TIMEOUT_S = 30.0
log = logging.getLogger(__name__)


class Applied(StrEnum):
    """What `apply_event` did with an event."""

    GRANTED = "granted"
    """Credits added: a paid checkout, or a won dispute's credits given back."""
    TAKEN_BACK = "taken_back"
    IGNORED = "ignored"
    """Claimed, no credits moved: an unpaid checkout, a type we do not use, a bad event,
    a payment already credited by its other event."""
    DUPLICATE = "duplicate"
    """This event id was applied before (or by a concurrent copy)."""
    DEFERRED = "deferred"
    """A refund or dispute of a payment we have not credited yet: left for a later poll."""


@dataclass(frozen=True)
class CreditPack:
    """What a buyer can choose."""

    id: str
    credits: int
    price_cents: int


CREDIT_PACKS = (
    CreditPack("starter", 500, 500),
    CreditPack("creator", 1200, 1000),
    CreditPack("studio", 3000, 2200),
)


def pack(pack_id: str) -> CreditPack:
    """The pack with this id; ValidationFailed otherwise."""
    for candidate in CREDIT_PACKS:
        if candidate.id == pack_id:
            return candidate
    raise ValidationFailed("Unknown credit pack.")


def stripe_client(
    *, api_key: str, api_url: str, max_network_retries: int = 2
) -> stripe.StripeClient:
    """A Stripe client for `api_url` (Stripe's, or a fake on loopback in tests).

    The SDK retries connection errors, 409 and 5xx with backoff, and sends an idempotency key
    with every POST, so a retried Checkout creation cannot create two sessions.
    """
    return stripe.StripeClient(
        api_key,
        base_addresses={"api": api_url.rstrip("/")},
        http_client=stripe.RequestsClient(timeout=TIMEOUT_S),
        max_network_retries=max_network_retries,
    )


@contextmanager
def _stripe_errors(refused: str) -> Iterator[None]:
    """Map the SDK's errors once: PaymentUnavailable for a transport failure, a timeout or a
    5xx (the message says to try again later); PaymentError with `refused` for any other
    refusal. Both keep the status, body and Stripe's request id."""
    try:
        yield
    except stripe.StripeError as exc:
        status = exc.http_status
        details: dict[str, Any] = {
            "status": status,
            "body": (exc.http_body or "")[:2000] if isinstance(exc.http_body, str) else None,
            "request_id": exc.request_id,
        }
        if isinstance(exc, stripe.APIConnectionError) or status is None or status >= 500:
            raise PaymentUnavailable(
                "The payment service is not reachable; try again later.", **details
            ) from exc
        raise PaymentError(refused, **details) from exc


def create_checkout_session(
    client: stripe.StripeClient,
    *,
    user_id: int,
    pack_id: str,
    success_url: str,
    cancel_url: str,
) -> str:
    """A Stripe Checkout URL for the pack (the user pays on Stripe's page)."""
    chosen = pack(pack_id)
    metadata = {"user_id": str(user_id), "pack_id": chosen.id}
    with _stripe_errors("The payment could not be started; try again later."):
        checkout = client.v1.checkout.sessions.create(
            {
                "mode": "payment",
                "success_url": success_url,
                "cancel_url": cancel_url,
                "client_reference_id": str(user_id),
                "metadata": metadata,
                # The payment carries the buyer too, so a refund or dispute names them.
                "payment_intent_data": {"metadata": metadata},
                "line_items": [
                    {
                        "quantity": 1,
                        "price_data": {
                            "currency": "usd",
                            "unit_amount": chosen.price_cents,
                            "product_data": {"name": f"{chosen.credits} AI KINGS credits"},
                        },
                    }
                ],
            }
        )
    if not checkout.url:
        raise PaymentError("The payment could not be started; try again later.")
    return str(checkout.url)


def verify_webhook(payload: bytes, signature_header: str, secret: str) -> dict[str, Any]:
    """The event if Stripe signed it (`Stripe-Signature: t=...,v1=...`) at most
    `TOLERANCE_S` ago; ValidationFailed otherwise.

    `stripe.Webhook.construct_event` checks the HMAC in constant time and the timestamp against
    this machine's clock (a replayed delivery is older than the tolerance).
    """
    try:
        event = stripe.Webhook.construct_event(
            payload, signature_header, secret, tolerance=TOLERANCE_S
        )
    except stripe.SignatureVerificationError as exc:
        raise ValidationFailed(f"Webhook signature refused: {exc.user_message or exc}") from exc
    except (ValueError, TypeError, AttributeError) as exc:  # not JSON, or not an object
        raise ValidationFailed("Webhook body is not an event.") from exc
    body: dict[str, Any] = event.to_dict()
    return body


def fetch_events(client: stripe.StripeClient, *, now: datetime) -> list[dict[str, Any]]:
    """The events we handle from the last `POLL_WINDOW`, oldest first (a payment before its
    refund), at most `MAX_POLLED_EVENTS`: polling for a studio without a public webhook."""
    params: Any = {
        "types": list(HANDLED_EVENTS),
        "created": {"gte": int((now - POLL_WINDOW).timestamp())},
        "limit": 100,
    }
    events: list[dict[str, Any]] = []
    with _stripe_errors("Stripe refused to list the payment events."):
        for event in client.v1.events.list(params).auto_paging_iter():
            events.append(event.to_dict())
            if len(events) >= MAX_POLLED_EVENTS:
                log.warning("stripe.poll_capped", extra={"events": len(events)})
                break
    # Stripe lists newest first; within one second of `created`, its order still holds.
    events.reverse()
    events.sort(key=lambda event: int(event.get("created") or 0))  # stable: ties keep order
    return events


def apply_events(
    engine: Engine, events: Sequence[Mapping[str, Any]], *, clock_now: Callable[[], datetime]
) -> list[Applied]:
    """Apply each event in a unit of work of its own (retried on a deadlock or a dropped
    connection), so one event's failure never undoes another's credits."""
    applied: list[Applied] = []
    for event in events:

        def work(session: Session, event: Mapping[str, Any] = event) -> Applied:
            return apply_event(session, event, now=clock_now())

        applied.append(run_transaction(engine, work, name="stripe.apply_event"))
    return applied


def apply_event(session: Session, event: Mapping[str, Any], *, now: datetime) -> Applied:
    """Apply one Stripe event once per event id (see the module docstring); what it did."""
    event_id = str(event.get("id") or "")
    kind = str(event.get("type") or "")
    if not event_id:
        log.warning("stripe.event_skipped", extra={"problem": "no id"})
        return Applied.IGNORED
    if not _claim(session, event_id, kind, now):
        return Applied.DUPLICATE
    obj = (event.get("data") or {}).get("object") or {}
    try:
        if kind in PAID_EVENTS:
            outcome = _grant_checkout(session, obj, now=now)
        elif kind == REFUNDED:
            outcome = _take_back_refund(session, obj, event_id=event_id, now=now)
        elif kind == DISPUTED:
            outcome = _take_back_dispute(session, obj, now=now)
        elif kind == REINSTATED:
            outcome = _give_back_dispute(session, obj, now=now)
        else:
            outcome = Applied.IGNORED
    except (ValidationFailed, NotFound, KeyError, TypeError, ValueError, AttributeError) as exc:
        log.warning(
            "stripe.event_skipped", extra={"event": event_id, "problem": type(exc).__name__}
        )
        outcome = Applied.IGNORED
    if outcome is Applied.DEFERRED:
        # Not claimed after all: a later copy (the next poll) applies it once the payment is in.
        session.execute(sa.delete(StripeEvent).where(col(StripeEvent.event_id) == event_id))
        log.info("stripe.event_deferred", extra={"event": event_id, "type": kind})
    else:
        session.execute(
            sa.update(StripeEvent)
            .where(col(StripeEvent.event_id) == event_id)
            .values(outcome=outcome.value)
        )
    return outcome


def _claim(session: Session, event_id: str, kind: str, now: datetime) -> bool:
    """Insert the event's claim; False if it exists. On PostgreSQL a concurrent insert of the
    same id waits for the other transaction, then does nothing (or inserts, if that one rolled
    back); SQLite write transactions are serial (BEGIN IMMEDIATE)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(StripeEvent)
        .values(event_id=event_id[:255], type=kind[:64], outcome="applying", applied_at=now)
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(col(StripeEvent.event_id))
    )
    return session.execute(statement).first() is not None


def _id_of(value: Any) -> str | None:
    """A Stripe reference: an id string, or an expanded object's `id`."""
    if isinstance(value, Mapping):
        value = value.get("id")
    return str(value) if value else None


def _grant_checkout(session: Session, checkout: Mapping[str, Any], *, now: datetime) -> Applied:
    # Credit only money received: `completed` of a delayed method arrives unpaid first.
    if checkout.get("payment_status") != "paid":
        return Applied.IGNORED
    metadata = checkout.get("metadata") or {}
    chosen = pack(str(metadata.get("pack_id")))
    # Neither id present: int("") raises ValueError and the event is ignored.
    user_id = int(metadata.get("user_id") or checkout.get("client_reference_id") or "")
    checkout_id = str(checkout["id"])
    granted = ledger.grant(
        session,
        user_id=user_id,
        credits=chosen.credits,
        key=f"stripe:{checkout_id}",
        note=f"purchase: {chosen.id}",
        now=now,
        kind=CreditKind.PURCHASE,
    )
    if not granted:  # the checkout's other event got here first
        return Applied.IGNORED
    session.add(
        StripePayment(
            checkout_id=checkout_id[:255],
            payment_intent=_id_of(checkout.get("payment_intent")),
            user_id=user_id,
            pack_id=chosen.id,
            credits=chosen.credits,
            amount_cents=int(checkout.get("amount_total") or chosen.price_cents),
            created_at=now,
        )
    )
    session.flush()
    return Applied.GRANTED


def _locked_payment(session: Session, payment_intent: str | None) -> StripePayment | None:
    """The credited payment of `payment_intent`, read after locking its buyer's row, so
    concurrent refunds and disputes of it take back in turn, from fresh totals."""
    if payment_intent is None:
        return None
    return read_after_owner(
        session,
        owner=select(StripePayment.user_id).where(StripePayment.payment_intent == payment_intent),
        row=select(StripePayment).where(StripePayment.payment_intent == payment_intent),
    )


def _share(credits: int, part_cents: int, whole_cents: int) -> int:
    """The credits `part_cents` of `whole_cents` bought, rounded up (a refund of any part of
    the price takes at least its share), never more than `credits`."""
    if whole_cents <= 0:
        return credits
    return min(credits, -(-credits * max(part_cents, 0) // whole_cents))


def _take(
    session: Session,
    payment: StripePayment,
    wanted: int,
    *,
    key: str,
    kind: CreditKind,
    now: datetime,
) -> int:
    """Take back up to `wanted` credits of the payment (what is left of it); how many."""
    left = payment.credits - payment.refunded_credits - payment.disputed_credits
    credits = min(wanted, left)
    if credits <= 0:
        return 0
    what = "refunded" if kind is CreditKind.REVERSAL else "disputed"
    if not ledger.take_back(
        session,
        user_id=payment.user_id,
        credits=credits,
        key=key,
        note=f"payment {what}: {payment.pack_id}",
        now=now,
        kind=kind,
    ):
        return 0
    return credits


def _take_back_refund(
    session: Session, charge: Mapping[str, Any], *, event_id: str, now: datetime
) -> Applied:
    # `amount_refunded` is the running total of every refund of the charge, so each event
    # takes only what the total adds to what earlier refunds already took.
    return _take_back(
        session,
        charge,
        lambda payment: (
            _share(payment.credits, int(charge["amount_refunded"]), int(charge["amount"]))
            - payment.refunded_credits
        ),
        key=f"stripe-refund:{event_id}",
        kind=CreditKind.REVERSAL,
        now=now,
    )


def _take_back_dispute(session: Session, dispute: Mapping[str, Any], *, now: datetime) -> Applied:
    # A dispute moves the disputed amount back to the buyer at once (Stripe withdraws it
    # from the balance when the dispute opens), so its credits go back now too.
    return _take_back(
        session,
        dispute,
        lambda payment: _share(payment.credits, int(dispute["amount"]), payment.amount_cents),
        key=f"stripe-dispute:{dispute['id']}",
        kind=CreditKind.DISPUTE,
        now=now,
    )


def _take_back(
    session: Session,
    stripe_object: Mapping[str, Any],
    wanted: Callable[[StripePayment], int],
    *,
    key: str,
    kind: CreditKind,
    now: datetime,
) -> Applied:
    """Take `wanted(payment)` credits back from the payment of `stripe_object`, once per `key`."""
    payment = _locked_payment(session, _id_of(stripe_object.get("payment_intent")))
    if payment is None:
        return Applied.DEFERRED
    taken = _take(session, payment, wanted(payment), key=key, kind=kind, now=now)
    if taken == 0:
        return Applied.IGNORED
    if kind is CreditKind.DISPUTE:
        payment.disputed_credits += taken
    else:
        payment.refunded_credits += taken
    session.add(payment)
    return Applied.TAKEN_BACK


def _give_back_dispute(session: Session, dispute: Mapping[str, Any], *, now: datetime) -> Applied:
    # The dispute was won and Stripe returned the money: the credits it took come back.
    payment = _locked_payment(session, _id_of(dispute.get("payment_intent")))
    if payment is None:
        return Applied.DEFERRED
    dispute_id = str(dispute["id"])
    taken = session.exec(
        select(CreditEntry.credits).where(
            CreditEntry.idempotency_key == f"stripe-dispute:{dispute_id}"
        )
    ).first()
    if taken is None:  # its dispute.created not applied yet (out of order): later
        return Applied.DEFERRED
    if not ledger.grant(
        session,
        user_id=payment.user_id,
        credits=-taken,
        key=f"stripe-dispute-won:{dispute_id}",
        note=f"dispute won: {payment.pack_id}",
        now=now,
        kind=CreditKind.RESTORE,
    ):
        return Applied.IGNORED
    payment.disputed_credits -= -taken
    session.add(payment)
    return Applied.GRANTED


def handle_webhook(
    engine: Engine,
    *,
    payload: bytes,
    signature_header: str,
    secret: str,
    clock_now: Callable[[], datetime],
) -> Applied:
    """Verify a webhook delivery and apply it; ValidationFailed if it is not Stripe's."""
    event = verify_webhook(payload, signature_header, secret)
    [applied] = apply_events(engine, [event], clock_now=clock_now)
    return applied
