"""A fake Stripe on loopback: the part of Stripe's API the studio calls, for tests.

It serves `POST /v1/checkout/sessions` and `GET /v1/events` (filtered by `types[]` and
`created[gte]`, newest first, paged with `limit` and `starting_after`) in Stripe's wire format,
so the real `stripe` SDK talks to it. Helpers make the events Stripe would emit when a buyer
pays (at once, or later by a delayed method), is refunded (in parts) or disputes (and
loses the dispute), and sign a
webhook delivery the way Stripe does (HMAC-SHA256 of `<t>.<body>`, written out here rather
than borrowed from the SDK under test).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

Event = dict[str, Any]


class FakeStripe:
    """The fake's state and its ASGI `app`; thread-safe (tests call helpers while it serves)."""

    def __init__(self, api_key: str = "sk_test_fake", now: Callable[[], float] = time.time):
        self.api_key = api_key
        self.now = now
        self.checkout_forms: list[dict[str, str]] = []
        """Every Checkout creation's form, as the SDK encoded it (`metadata[pack_id]`, ...)."""
        self.checkouts: dict[str, dict[str, Any]] = {}
        self.events: list[Event] = []  # oldest first
        self.disputes: dict[str, dict[str, Any]] = {}
        self.fail_status: int | None = None
        """When set, every API call is answered with this status (a Stripe-shaped error)."""
        self._refunded: dict[str, int] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.app = Starlette(
            routes=[
                Route("/v1/checkout/sessions", self._create_checkout, methods=["POST"]),
                Route("/v1/events", self._list_events, methods=["GET"]),
            ]
        )

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids)}"

    def _refusal(self, request: Request) -> JSONResponse | None:
        request_id = self._id("req")
        if self.fail_status is not None:
            body = {"error": {"type": "api_error", "message": "fake failure"}}
            return JSONResponse(body, self.fail_status, headers={"request-id": request_id})
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            body = {"error": {"type": "invalid_request_error", "message": "Invalid API Key"}}
            return JSONResponse(body, 401, headers={"request-id": request_id})
        return None

    async def _create_checkout(self, request: Request) -> JSONResponse:
        refused = self._refusal(request)
        if refused is not None:
            return refused
        form = {key: str(value) for key, value in (await request.form()).items()}
        amount = int(form.get("line_items[0][price_data][unit_amount]", "0"))
        if amount <= 0:
            body = {"error": {"type": "invalid_request_error", "message": "bad amount"}}
            return JSONResponse(body, 400)
        with self._lock:
            self.checkout_forms.append(form)
            checkout_id = self._id("cs_test")
            checkout = {
                "id": checkout_id,
                "object": "checkout.session",
                "url": f"https://checkout.stripe.test/{checkout_id}",
                "mode": form.get("mode"),
                "client_reference_id": form.get("client_reference_id"),
                "metadata": {
                    key[len("metadata[") : -1]: value
                    for key, value in form.items()
                    if key.startswith("metadata[")
                },
                "amount_total": amount,
                "payment_intent": self._id("pi"),
                "payment_status": "unpaid",
                "status": "open",
            }
            self.checkouts[checkout_id] = checkout
        return JSONResponse(checkout)

    async def _list_events(self, request: Request) -> JSONResponse:
        refused = self._refusal(request)
        if refused is not None:
            return refused
        query = request.query_params
        types = {value for key, value in query.multi_items() if key.startswith("types[")}
        since = int(query.get("created[gte]", "0"))
        limit = int(query.get("limit", "10"))
        with self._lock:
            matching = [
                event
                for event in reversed(self.events)
                if (not types or event["type"] in types) and event["created"] >= since
            ]
        after = query.get("starting_after")
        if after is not None:
            ids = [event["id"] for event in matching]
            matching = matching[ids.index(after) + 1 :] if after in ids else []
        page = matching[:limit]
        body = {
            "object": "list",
            "url": "/v1/events",
            "data": page,
            "has_more": len(matching) > limit,
        }
        return JSONResponse(body)

    def _emit(self, kind: str, obj: dict[str, Any]) -> Event:
        with self._lock:
            event = {
                "id": self._id("evt"),
                "object": "event",
                "type": kind,
                "created": int(self.now()),
                "data": {"object": json.loads(json.dumps(obj))},  # a snapshot, as Stripe sends
            }
            self.events.append(event)
        return event

    def pay(self, checkout_id: str) -> Event:
        """The buyer paid at once (a card): `checkout.session.completed`, paid."""
        checkout = self.checkouts[checkout_id]
        checkout.update(payment_status="paid", status="complete")
        return self._emit("checkout.session.completed", checkout)

    def pay_later(self, checkout_id: str) -> tuple[Event, Event]:
        """A delayed payment method: `completed` unpaid now, `async_payment_succeeded` (paid)
        when the money arrives."""
        checkout = self.checkouts[checkout_id]
        checkout.update(status="complete")
        completed = self._emit("checkout.session.completed", checkout)
        checkout.update(payment_status="paid")
        return completed, self._emit("checkout.session.async_payment_succeeded", checkout)

    def refund(self, checkout_id: str, amount_cents: int | None = None) -> Event:
        """Refund part (or, by default, the rest) of a paid checkout: `charge.refunded`, whose
        charge carries the running total `amount_refunded`."""
        checkout = self.checkouts[checkout_id]
        amount = int(checkout["amount_total"])
        intent = str(checkout["payment_intent"])
        with self._lock:
            done = self._refunded.get(intent, 0)
            total = min(amount, done + (amount - done if amount_cents is None else amount_cents))
            self._refunded[intent] = total
        charge = {
            "id": "ch_" + intent.removeprefix("pi_"),
            "object": "charge",
            "payment_intent": intent,
            "amount": amount,
            "amount_refunded": total,
            "refunded": total == amount,
        }
        return self._emit("charge.refunded", charge)

    def dispute(self, checkout_id: str, amount_cents: int | None = None) -> Event:
        """The buyer disputes the payment (all of it by default): `charge.dispute.created`."""
        checkout = self.checkouts[checkout_id]
        intent = str(checkout["payment_intent"])
        dispute = {
            "id": self._id("dp"),
            "object": "dispute",
            "charge": "ch_" + intent.removeprefix("pi_"),
            "payment_intent": intent,
            "amount": int(checkout["amount_total"]) if amount_cents is None else amount_cents,
            "status": "needs_response",
        }
        self.disputes[str(dispute["id"])] = dispute
        return self._emit("charge.dispute.created", dispute)

    def win_dispute(self, dispute_id: str) -> Event:
        """The dispute was decided for the seller and the money returned:
        `charge.dispute.funds_reinstated`."""
        dispute = self.disputes[dispute_id]
        dispute.update(status="won")
        return self._emit("charge.dispute.funds_reinstated", dispute)


def signed_delivery(
    event: Event, secret: str, *, timestamp: int | None = None
) -> tuple[bytes, str]:
    """The body and `Stripe-Signature` header Stripe would send for `event`."""
    body = json.dumps(event).encode()
    at = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return body, f"t={at},v1={mac}"
