"""The Stripe webhook endpoint: a small ASGI app that verifies each delivery and credits once.

Streamlit cannot receive a POST, so the webhook is its own tiny server, for studios with a
public URL: `aikings-stripe-webhook --port 8790` behind the same reverse proxy as the web
app, with `STRIPE_WEBHOOK_SECRET` set. Without it the scheduler polls `/v1/events`; both
paths go through `payments.apply_event`, once per event id, so running both is safe.

Answers: 200 for a verified event, with what was done (`applied`: granted, taken_back,
ignored, duplicate, or deferred: a refund whose payment is not credited yet, applied by the
scheduler's next poll), so Stripe stops retrying; 400 for a bad signature, a stale
timestamp or a body that is not an event.
"""

from __future__ import annotations

import argparse
import logging

import uvicorn
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from core.accounts import payments
from core.clock import Clock, SystemClock
from core.config import get_settings
from core.db import make_engine
from core.errors import ValidationFailed
from core.logs import configure_logging

PATH = "/stripe/webhook"
log = logging.getLogger(__name__)


def make_app(engine: Engine, *, secret: str, clock: Clock) -> Starlette:
    """The webhook app: POST `PATH` with Stripe's `Stripe-Signature` header."""

    def apply(payload: bytes, signature: str) -> payments.Applied:
        return payments.handle_webhook(
            engine, payload=payload, signature_header=signature, secret=secret,
            clock_now=clock.now,
        )  # fmt: skip

    async def receive(request: Request) -> JSONResponse:
        payload = await request.body()
        signature = request.headers.get("stripe-signature", "")
        try:
            # The database work blocks: off the event loop, so deliveries overlap safely.
            applied = await run_in_threadpool(apply, payload, signature)
        except ValidationFailed as exc:
            log.warning("stripe.webhook_refused", extra={"problem": str(exc)})
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"received": True, "applied": applied.value})

    return Starlette(routes=[Route(PATH, receive, methods=["POST"])])


def main(argv: list[str] | None = None) -> int:
    """Serve the webhook until interrupted; 2 if no webhook secret is configured."""
    parser = argparse.ArgumentParser(prog="aikings-stripe-webhook")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8790)
    args = parser.parse_args(argv)
    settings = get_settings()
    configure_logging(settings.log_level, as_json=settings.log_json)
    if settings.stripe_webhook_secret is None:
        log.error("stripe.webhook_unconfigured", extra={"missing": "STRIPE_WEBHOOK_SECRET"})
        return 2
    app = make_app(
        make_engine(settings.database_url),
        secret=settings.stripe_webhook_secret.get_secret_value(),
        clock=SystemClock(),
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
