"""Webhooks: a user's endpoints told when their jobs end, signed, retried, logged.

Events are found, not pushed: `enqueue_ended_jobs` turns every job that ended in the last
hour into one delivery per live webhook of its owner (a unique key makes that idempotent), so
no code path that ends a job needs to know about webhooks and none can forget one.
`deliver_due` posts each due delivery outside any transaction and records the answer; a
failure is retried with capped exponential backoff, then given up (and shown in the log).

Each request carries `AIKings-Signature: t=<unix seconds>,v1=<hex>`, the HMAC-SHA256 with the
webhook's secret of `<t>.<body>`, like Stripe's scheme: a receiver recomputes it, compares in
constant time, and refuses a `t` older than five minutes (`verify_signature`).

Addresses are screened against server-side request forgery: a webhook may not point at a
loopback, private, link-local or reserved address (checked when added, and for every address
its name resolves to where each delivery connects: `core.accounts.public_addresses`) unless
the deployment allows it (`WEBHOOK_ALLOW_PRIVATE`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core import audit
from core.accounts.inputs import has_control_characters
from core.accounts.public_addresses import refuse_internal
from core.db import read_scope, session_scope
from core.errors import NotFound, ValidationFailed
from core.models import Asset, GenerationJob, JobStatus, Webhook, WebhookDelivery

log = logging.getLogger(__name__)

EVENTS = {
    JobStatus.SUCCEEDED: "job.succeeded",
    JobStatus.FAILED: "job.failed",
    JobStatus.CANCELLED: "job.cancelled",
}
MAX_WEBHOOKS_PER_USER = 5
MAX_ATTEMPTS = 10
FIRST_RETRY = timedelta(seconds=10)
LONGEST_RETRY = timedelta(hours=1)
ENQUEUE_WINDOW = timedelta(hours=1)
SIGNATURE_TOLERANCE_S = 300
DELIVERY_TIMEOUT_S = 10.0
SIGNATURE_HEADER = "AIKings-Signature"


def screen_address(url: str, *, allow_private: bool) -> None:
    """Refuse a URL that is not http(s) to a named or public host, with a clear message."""
    if len(url) > 500 or has_control_characters(url):
        raise ValidationFailed("A webhook URL is up to 500 printable characters.")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationFailed("A webhook URL starts with https:// (or http://) and names a host.")
    if parts.username or parts.password:
        raise ValidationFailed("Put no user name or password in a webhook URL.")
    if not allow_private:
        refuse_internal([parts.hostname])


def add_webhook(
    session: Session, *, user_id: int, url: str, now: datetime, allow_private: bool
) -> Webhook:
    """A new webhook for the user (its secret generated), audited; refuses a bad or
    internal address and more than `MAX_WEBHOOKS_PER_USER`."""
    url = url.strip()
    screen_address(url, allow_private=allow_private)
    if len(live_webhooks(session, user_id=user_id)) >= MAX_WEBHOOKS_PER_USER:
        raise ValidationFailed(f"You have {MAX_WEBHOOKS_PER_USER} webhooks; delete one first.")
    webhook = Webhook(
        user_id=user_id, url=url, secret="whsec_" + secrets.token_hex(24), created_at=now
    )
    session.add(webhook)
    session.flush()
    audit.record(session, at=now, actor=f"user:{user_id}", action="webhook.add",
                 target=f"webhook:{webhook.id}", details={"url": url})  # fmt: skip
    return webhook


def delete_webhook(session: Session, *, user_id: int, webhook_id: int, now: datetime) -> None:
    """Stop a webhook (its pending deliveries are given up); another user's is `NotFound`."""
    webhook = session.get(Webhook, webhook_id)
    if webhook is None or webhook.user_id != user_id or webhook.deleted_at is not None:
        raise NotFound("No such webhook.")
    webhook.deleted_at = now
    session.add(webhook)
    for delivery in session.exec(
        select(WebhookDelivery).where(
            WebhookDelivery.webhook_id == webhook_id,
            col(WebhookDelivery.delivered_at).is_(None),
            col(WebhookDelivery.gave_up_at).is_(None),
        )
    ):
        delivery.gave_up_at = now
        delivery.last_error = "webhook deleted"
        session.add(delivery)
    audit.record(session, at=now, actor=f"user:{user_id}", action="webhook.delete",
                 target=f"webhook:{webhook_id}")  # fmt: skip


def live_webhooks(session: Session, *, user_id: int) -> list[Webhook]:
    """The user's webhooks not deleted, oldest first."""
    return list(
        session.exec(
            select(Webhook)
            .where(Webhook.user_id == user_id, col(Webhook.deleted_at).is_(None))
            .order_by(col(Webhook.id))
        ).all()
    )


def recent_deliveries(session: Session, *, user_id: int, limit: int = 20) -> list[WebhookDelivery]:
    """The user's latest deliveries, newest first: the log on the Account page."""
    return list(
        session.exec(
            select(WebhookDelivery)
            .join(Webhook, col(Webhook.id) == WebhookDelivery.webhook_id)
            .where(Webhook.user_id == user_id)
            .order_by(col(WebhookDelivery.id).desc())
            .limit(limit)
        ).all()
    )


def enqueue_ended_jobs(session: Session, *, now: datetime) -> int:
    """One delivery per live webhook for each job that ended in the last hour and has none
    yet (webhooks added after the job ended are not told of it); how many were queued."""
    pairs = session.exec(
        select(Webhook.id, GenerationJob.id, GenerationJob.status)
        .join(GenerationJob, col(GenerationJob.user_id) == Webhook.user_id)
        .where(
            col(Webhook.deleted_at).is_(None),
            col(GenerationJob.status).in_(list(EVENTS)),
            col(GenerationJob.finished_at) >= now - ENQUEUE_WINDOW,
            col(GenerationJob.finished_at) >= Webhook.created_at,
        )
    ).all()
    if not pairs:
        return 0
    known = set(
        session.exec(
            select(WebhookDelivery.webhook_id, WebhookDelivery.job_id).where(
                col(WebhookDelivery.job_id).in_({job_id for _, job_id, _ in pairs})
            )
        ).all()
    )
    queued = 0
    for webhook_id, job_id, status in pairs:
        if (webhook_id, job_id) in known:
            continue
        session.add(
            WebhookDelivery(webhook_id=webhook_id or 0, job_id=job_id or 0,
                            event=EVENTS[JobStatus(status)], next_attempt_at=now, created_at=now)
        )  # fmt: skip
        queued += 1
    return queued


def sign(secret: str, body: bytes, *, timestamp: int) -> str:
    """The signature header value for `body` sent at `timestamp` (unix seconds)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify_signature(secret: str, header: str, body: bytes, *, now: int) -> bool:
    """What a receiver checks: the signature matches and was made at most five minutes ago."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > SIGNATURE_TOLERANCE_S:
        return False
    expected = sign(secret, body, timestamp=timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, fields.get("v1", ""))


def _payload(session: Session, delivery: WebhookDelivery) -> bytes:
    job = session.get(GenerationJob, delivery.job_id)
    assert job is not None  # a foreign key
    assets = session.exec(
        select(Asset.id).where(Asset.job_id == job.id).order_by(col(Asset.id))
    ).all()
    event = {
        "id": f"evt_{delivery.id}",
        "type": delivery.event,
        "created": int(delivery.created_at.timestamp()),
        "data": {
            "job": {
                "id": job.id,
                "status": job.status.value,
                "charged_credits": job.charged_credits,
                "error": job.error,
                "finished_at": job.finished_at.isoformat() if job.finished_at else None,
                "output_ids": list(assets),
            }
        },
    }
    return json.dumps(event, separators=(",", ":")).encode()


def retry_delay(attempts: int) -> timedelta:
    """How long after its `attempts`-th failure a delivery is tried again (doubling, capped)."""
    return min(FIRST_RETRY * (1 << max(attempts - 1, 0)), LONGEST_RETRY)


def deliver_due(
    engine: Engine,
    client: httpx.Client,
    *,
    clock_now: Callable[[], datetime],
    limit: int = 50,
) -> int:
    """Post up to `limit` due deliveries with `client` (`public_only_client`: it connects
    only to the public addresses it checked), each outside any transaction, and record each
    answer; return how many were delivered."""
    now = clock_now()
    with read_scope(engine) as session:
        due = session.exec(
            select(WebhookDelivery, Webhook)
            .join(Webhook, col(Webhook.id) == WebhookDelivery.webhook_id)
            .where(
                col(WebhookDelivery.delivered_at).is_(None),
                col(WebhookDelivery.gave_up_at).is_(None),
                col(WebhookDelivery.next_attempt_at) <= now,
            )
            .order_by(col(WebhookDelivery.next_attempt_at))
            .limit(limit)
        ).all()
        sends = [(delivery.id or 0, hook.url, hook.secret, _payload(session, delivery))
                 for delivery, hook in due]  # fmt: skip
    delivered = 0
    for delivery_id, url, secret, body in sends:
        status, error = _post(client, url, secret, body, clock_now())
        delivered += status is not None and 200 <= status < 300
        _record(engine, delivery_id, status, error, clock_now())
    return delivered


def _post(
    client: httpx.Client, url: str, secret: str, body: bytes, now: datetime
) -> tuple[int | None, str | None]:
    try:
        reply = client.post(
            url,
            content=body,
            headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(secret, body, timestamp=int(now.timestamp())),
            },
            timeout=DELIVERY_TIMEOUT_S,
            follow_redirects=False,
        )
    except ValidationFailed as exc:
        return None, str(exc)
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:300]
    return reply.status_code, None if reply.is_success else f"HTTP {reply.status_code}"


def _record(
    engine: Engine, delivery_id: int, status: int | None, error: str | None, now: datetime
) -> None:
    with session_scope(engine) as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivery is None or delivery.delivered_at or delivery.gave_up_at:
            return  # deleted meanwhile
        delivery.attempts += 1
        delivery.last_status = status
        delivery.last_error = error
        if error is None:
            delivery.delivered_at = now
        elif delivery.attempts >= MAX_ATTEMPTS:
            delivery.gave_up_at = now
            log.warning("webhook.gave_up", extra={"delivery_id": delivery_id, "error": error})
        else:
            delivery.next_attempt_at = now + retry_delay(delivery.attempts)
        session.add(delivery)
