"""Optional Stripe purchase flow: checkout sessions, signed webhooks, and event polling.

Credits are granted from paid checkout events, keyed by the checkout session id, so a
duplicate, retried or reordered event never grants twice. A self-hosted studio often has no
public URL for webhooks: the scheduler polls `/v1/events` instead (`fetch_events`), and
`cli.stripe_webhook` serves the signed webhook where there is one; both paths go through
`apply_event`. We speak Stripe's HTTP API with httpx (no SDK), like our other clients.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from sqlmodel import Session

from core.accounts import ledger
from core.errors import NotFound, PaymentError, PaymentUnavailable, ValidationFailed
from core.models import CreditKind

TOLERANCE_S = 300
PAID_EVENTS = ("checkout.session.completed", "checkout.session.async_payment_succeeded")
log = logging.getLogger(__name__)


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


def create_checkout_session(
    *,
    api_url: str,
    api_key: str,
    user_id: int,
    pack_id: str,
    success_url: str,
    cancel_url: str,
    http: httpx.Client | None = None,
) -> str:
    """A Stripe Checkout URL for the pack (the user pays on Stripe's page)."""
    chosen = pack(pack_id)
    form = {
        "mode": "payment",
        "success_url": success_url,
        "cancel_url": cancel_url,
        "client_reference_id": str(user_id),
        "metadata[user_id]": str(user_id),
        "metadata[pack_id]": chosen.id,
        "line_items[0][quantity]": "1",
        "line_items[0][price_data][currency]": "usd",
        "line_items[0][price_data][unit_amount]": str(chosen.price_cents),
        "line_items[0][price_data][product_data][name]": f"{chosen.credits} AI KINGS credits",
    }
    reply = _call(
        http,
        "POST",
        f"{api_url.rstrip('/')}/v1/checkout/sessions",
        api_key=api_key,
        data=form,
        refused="The payment could not be started; try again later.",
    )
    return str(reply["url"])


def verify_webhook(
    payload: bytes, signature_header: str, secret: str, *, now: datetime
) -> dict[str, Any]:
    """The event if Stripe signed it (`t=...,v1=...`) within the tolerance; else refused."""
    parts: dict[str, list[str]] = {}
    for item in signature_header.split(","):
        key, _, value = item.strip().partition("=")
        parts.setdefault(key, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError) as exc:
        raise ValidationFailed("Webhook signature header is malformed.") from exc
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256
    ).hexdigest()
    if not any(hmac.compare_digest(expected, given) for given in parts.get("v1", [])):
        raise ValidationFailed("Webhook signature does not match.")
    if abs(now.timestamp() - timestamp) > TOLERANCE_S:
        raise ValidationFailed("Webhook timestamp is outside the tolerance.")
    try:
        event = json.loads(payload)
    except ValueError as exc:
        raise ValidationFailed("Webhook body is not JSON.") from exc
    if not isinstance(event, dict):
        raise ValidationFailed("Webhook body is not an event.")
    return event


def apply_event(session: Session, event: dict[str, Any], *, now: datetime) -> bool:
    """Grant the pack of a paid checkout exactly once; True if credits were granted now.

    Keyed by the checkout session id, not the event id: a payment reaches us as a webhook and
    through polling, and an asynchronous payment method sends `checkout.session.completed`
    (unpaid) then `...async_payment_succeeded` (paid), in either order. Every copy names the
    same checkout, so the grant happens once whatever arrives first or twice. An event we
    cannot use (unknown pack, no user) is logged and skipped, never raised: one bad event
    must not block every later one in a polled batch.
    """
    if event.get("type") not in PAID_EVENTS:
        return False
    checkout = (event.get("data") or {}).get("object") or {}
    if checkout.get("payment_status") != "paid":
        return False
    metadata = checkout.get("metadata") or {}
    try:
        chosen = pack(str(metadata.get("pack_id")))
        # Neither id present: int("") raises ValueError and the event is skipped below.
        user_id = int(metadata.get("user_id") or checkout.get("client_reference_id") or "")
        checkout_id = str(checkout["id"])
        return ledger.grant(
            session,
            user_id=user_id,
            credits=chosen.credits,
            key=f"stripe:{checkout_id}",
            note=f"purchase: {chosen.id}",
            now=now,
            kind=CreditKind.PURCHASE,
        )
    except (ValidationFailed, NotFound, KeyError, TypeError, ValueError) as exc:
        log.warning(
            "stripe.event_skipped",
            extra={"event": str(event.get("id")), "problem": type(exc).__name__},
        )
        return False


def handle_webhook(
    session: Session, *, payload: bytes, signature_header: str, secret: str, now: datetime
) -> bool:
    """Verify a webhook delivery and apply it; ValidationFailed if it is not Stripe's."""
    event = verify_webhook(payload, signature_header, secret, now=now)
    return apply_event(session, event, now=now)


def fetch_events(
    *, api_url: str, api_key: str, http: httpx.Client | None = None
) -> list[dict[str, Any]]:
    """Recent `checkout.session.completed` events, for polling without a public webhook."""
    reply = _call(
        http,
        "GET",
        f"{api_url.rstrip('/')}/v1/events",
        api_key=api_key,
        params={"type": "checkout.session.completed", "limit": 100},
        refused="Stripe refused to list the payment events.",
    )
    return list(reply.get("data") or [])


def _call(
    http: httpx.Client | None,
    method: str,
    url: str,
    *,
    api_key: str,
    refused: str,
    data: dict[str, str] | None = None,
    params: dict[str, str | int] | None = None,
) -> dict[str, Any]:
    """One Stripe API call, its JSON object; transport and HTTP errors mapped once.

    PaymentUnavailable for a transport failure, a timeout or a 5xx (the message says to try
    again later); PaymentError with `refused` for any other refusal or a reply that is not a
    JSON object. Both keep the status, body and Stripe's request id.
    """
    client = http or httpx.Client(timeout=30)
    try:
        reply = client.request(
            method, url, data=data, params=params, headers={"Authorization": f"Bearer {api_key}"}
        )
    except httpx.HTTPError as exc:
        raise PaymentUnavailable("The payment service is not reachable; try again later.") from exc
    finally:
        if http is None:
            client.close()
    details: dict[str, Any] = {
        "status": reply.status_code,
        "body": reply.text[:2000],
        "request_id": reply.headers.get("request-id"),
    }
    if reply.status_code >= 500:
        raise PaymentUnavailable(
            "The payment service is not reachable; try again later.", **details
        )
    if reply.status_code != 200:
        raise PaymentError(refused, **details)
    try:
        body = reply.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise PaymentError(refused, **details)
    return body
