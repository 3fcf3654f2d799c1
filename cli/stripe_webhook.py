"""The Stripe webhook endpoint: a small ASGI app that verifies each delivery and credits once.

Streamlit cannot receive a POST, so the webhook is its own tiny server, for studios with a
public URL: `aikings-stripe-webhook --port 8790` behind the same reverse proxy as the web
app, with `STRIPE_WEBHOOK_SECRET` set. Without it the scheduler polls `/v1/events`; both
paths credit through `payments.apply_event`, keyed by checkout, so running both is safe.

Answers: 200 for a verified event (whether or not it granted credits, so Stripe stops
retrying), 400 for a bad signature, a stale timestamp or a body that is not an event.
"""

from __future__ import annotations

import argparse
import logging

import uvicorn
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from core.accounts import payments
from core.clock import Clock, SystemClock
from core.config import get_settings
from core.db import make_engine, session_scope
from core.errors import ValidationFailed
from core.logs import configure_logging

PATH = "/stripe/webhook"
log = logging.getLogger(__name__)


def make_app(engine: Engine, *, secret: str, clock: Clock) -> Starlette:
    """The webhook app: POST `PATH` with Stripe's `Stripe-Signature` header."""

    async def receive(request: Request) -> JSONResponse:
        payload = await request.body()
        try:
            with session_scope(engine) as session:
                granted = payments.handle_webhook(
                    session,
                    payload=payload,
                    signature_header=request.headers.get("stripe-signature", ""),
                    secret=secret,
                    now=clock.now(),
                )
        except ValidationFailed as exc:
            log.warning("stripe.webhook_refused", extra={"problem": str(exc)})
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"received": True, "granted": granted})

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
