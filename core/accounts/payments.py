"""Optional Stripe purchase flow: checkout sessions, signed webhooks, and event polling.

Credits are granted from `checkout.session.completed` events, keyed by the event id, so a
duplicate, retried or reordered event never grants twice. A self-hosted studio often has no
public URL for webhooks: the scheduler can poll `/v1/events` instead (`sync_events`); both
paths go through `apply_event`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from sqlmodel import Session

from core.accounts import ledger
from core.errors import ValidationFailed
from core.models import CreditKind

TOLERANCE_S = 300


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
    client = http or httpx.Client(timeout=30)
    try:
        reply = client.post(
            f"{api_url.rstrip('/')}/v1/checkout/sessions",
            data=form,
            headers={"Authorization": f"Bearer {api_key}"},
        )
    except httpx.HTTPError as exc:
        raise ValidationFailed("The payment service is not reachable; try again later.") from exc
    finally:
        if http is None:
            client.close()
    if reply.status_code != 200:
        raise ValidationFailed("The payment could not be started; try again later.")
    return str(reply.json()["url"])


def verify_webhook(payload: bytes, signature_header: str, secret: str, *, now: datetime) -> dict:
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
    return json.loads(payload)


def apply_event(session: Session, event: dict[str, Any], *, now: datetime) -> bool:
    """Grant the pack of a paid checkout once per event id; True if credits were granted."""
    if event.get("type") != "checkout.session.completed":
        return False
    checkout = (event.get("data") or {}).get("object") or {}
    if checkout.get("payment_status") != "paid":
        return False
    metadata = checkout.get("metadata") or {}
    chosen = pack(str(metadata.get("pack_id")))
    user_id = int(metadata.get("user_id") or checkout.get("client_reference_id"))
    return ledger.grant(
        session,
        user_id=user_id,
        credits=chosen.credits,
        key=f"stripe:{event['id']}",
        note=f"purchase: {chosen.id}",
        now=now,
        kind=CreditKind.PURCHASE,
    )


def fetch_events(*, api_url: str, api_key: str, http: httpx.Client | None = None) -> list[dict]:
    """Recent `checkout.session.completed` events, for polling without a public webhook."""
    client = http or httpx.Client(timeout=30)
    try:
        reply = client.get(
            f"{api_url.rstrip('/')}/v1/events",
            params={"type": "checkout.session.completed", "limit": 100},
            headers={"Authorization": f"Bearer {api_key}"},
        )
        reply.raise_for_status()
    finally:
        if http is None:
            client.close()
    return list(reply.json().get("data") or [])
