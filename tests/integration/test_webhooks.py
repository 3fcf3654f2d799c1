"""Webhooks: ended jobs become signed deliveries to a real receiver on loopback, retried with
backoff while it is down, given up in the end; addresses screened; owners only."""

from __future__ import annotations

import json
import socket
from datetime import timedelta

import httpx
import pytest
from sqlmodel import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from core.accounts import webhooks
from core.accounts.public_addresses import public_only_client
from core.db import read_scope, session_scope
from core.errors import NotFound, ValidationFailed
from core.models import JobStatus, WebhookDelivery
from sim.server import ServerThread
from testing.factories import make_job, make_user


class Receiver:
    """A webhook receiver that fails its first `failures` requests, then answers 204."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.received: list[tuple[dict[str, str], bytes]] = []

    async def hook(self, request: Request) -> Response:
        self.received.append((dict(request.headers), await request.body()))
        if len(self.received) <= self.failures:
            return Response(status_code=500)
        return Response(status_code=204)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/hook", self.hook, methods=["POST"])])


def _hook(engine, clock, url, user=None):
    user = user or make_user(engine)
    with session_scope(engine) as session:
        hook = webhooks.add_webhook(
            session, user_id=user.id, url=url, now=clock.now(), allow_private=True
        )
    return user, hook


def _ended_job(engine, clock, user, status=JobStatus.SUCCEEDED):
    return make_job(engine, user, status=status, finished_at=clock.now(), charged_credits=3)


def _deliver(engine, clock):
    with session_scope(engine) as session:
        webhooks.enqueue_ended_jobs(session, now=clock.now())
    with httpx.Client() as client:
        return webhooks.deliver_due(engine, client, clock_now=clock.now)


def _deliveries(engine):
    with read_scope(engine) as session:
        return session.exec(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()


def test_an_ended_job_is_delivered_once_signed_with_its_secret(engine, fake_clock):
    receiver = Receiver()
    with ServerThread(receiver.app()) as server:
        user, hook = _hook(engine, fake_clock, f"{server.url}/hook")
        fake_clock.advance(1)
        job = _ended_job(engine, fake_clock, user)
        assert _deliver(engine, fake_clock) == 1
        assert _deliver(engine, fake_clock) == 0  # nothing twice
    [(headers, body)] = receiver.received
    now = int(fake_clock.now().timestamp())
    assert webhooks.verify_signature(hook.secret, headers["aikings-signature"], body, now=now)
    event = json.loads(body)
    assert event["type"] == "job.succeeded"
    assert event["data"]["job"] == {
        "id": job.id, "status": "succeeded", "charged_credits": 3, "error": None,
        "finished_at": job.finished_at.isoformat(), "output_ids": [],
    }  # fmt: skip
    [delivery] = _deliveries(engine)
    assert delivery.delivered_at is not None and delivery.attempts == 1


def test_a_receiver_that_is_down_then_recovers_gets_the_event_on_a_retry(engine, fake_clock):
    receiver = Receiver(failures=2)
    with ServerThread(receiver.app()) as server:
        user, _hook_row = _hook(engine, fake_clock, f"{server.url}/hook")
        _ended_job(engine, fake_clock, user, JobStatus.FAILED)
        assert _deliver(engine, fake_clock) == 0
        assert _deliver(engine, fake_clock) == 0, "not retried before its backoff"
        fake_clock.advance(webhooks.retry_delay(1).total_seconds())
        assert _deliver(engine, fake_clock) == 0
        fake_clock.advance(webhooks.retry_delay(2).total_seconds())
        assert _deliver(engine, fake_clock) == 1
    assert len(receiver.received) == 3
    [delivery] = _deliveries(engine)
    assert delivery.attempts == 3 and delivery.last_status == 204
    assert json.loads(receiver.received[-1][1])["type"] == "job.failed"


def test_a_dead_receiver_is_given_up_after_the_last_attempt(engine, fake_clock):
    user, _hook_row = _hook(engine, fake_clock, "http://127.0.0.1:9/hook")  # nothing listens
    _ended_job(engine, fake_clock, user, JobStatus.CANCELLED)
    for attempt in range(1, webhooks.MAX_ATTEMPTS + 1):
        assert _deliver(engine, fake_clock) == 0
        fake_clock.advance(webhooks.retry_delay(attempt).total_seconds())
    [delivery] = _deliveries(engine)
    assert delivery.gave_up_at is not None and delivery.attempts == webhooks.MAX_ATTEMPTS
    assert "ConnectError" in (delivery.last_error or "")


def test_backoff_doubles_and_is_capped():
    delays = [webhooks.retry_delay(n) for n in range(1, webhooks.MAX_ATTEMPTS + 1)]
    assert delays[:3] == [timedelta(seconds=10), timedelta(seconds=20), timedelta(seconds=40)]
    assert max(delays) <= webhooks.LONGEST_RETRY == webhooks.retry_delay(30)


def test_a_webhook_hears_only_of_jobs_that_end_after_it_was_added(engine, fake_clock):
    user = make_user(engine)
    _ended_job(engine, fake_clock, user)
    fake_clock.advance(5)
    _hook(engine, fake_clock, "https://hooks.example.test/x", user=user)
    with session_scope(engine) as session:
        assert webhooks.enqueue_ended_jobs(session, now=fake_clock.now()) == 0


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://localhost:8501/",
        "http://LOCALHOST.:8501/",
        "http://10.0.0.5/x",
        "http://[::1]/x",
        "http://169.254.169.254/latest/meta-data",
        "ftp://example.com/x",
        "https://user:pw@example.com/x",
        "https://exa\x00mple.com/",
        "not a url",
    ],
)
def test_internal_or_malformed_addresses_are_refused(engine, fake_clock, url):
    user = make_user(engine)
    with pytest.raises(ValidationFailed), session_scope(engine) as session:
        webhooks.add_webhook(session, user_id=user.id, url=url, now=fake_clock.now(),
                             allow_private=False)  # fmt: skip


def test_a_name_resolving_to_an_internal_address_is_refused_at_delivery(engine, fake_clock):
    user = make_user(engine)
    with session_scope(engine) as session:
        webhooks.add_webhook(session, user_id=user.id, url="http://localhost.test.invalid/x",
                             now=fake_clock.now(), allow_private=False)  # fmt: skip
    _ended_job(engine, fake_clock, user)
    with session_scope(engine) as session:
        webhooks.enqueue_ended_jobs(session, now=fake_clock.now())
    with public_only_client(allow_private=False) as client:
        webhooks.deliver_due(engine, client, clock_now=fake_clock.now)
    [delivery] = _deliveries(engine)
    assert delivery.delivered_at is None and "resolve" in (delivery.last_error or "")


def test_only_the_owner_deletes_a_webhook_and_its_pending_deliveries_stop(engine, fake_clock):
    owner, hook = _hook(engine, fake_clock, "http://127.0.0.1:9/hook")
    other = make_user(engine)
    _ended_job(engine, fake_clock, owner)
    with session_scope(engine) as session:
        webhooks.enqueue_ended_jobs(session, now=fake_clock.now())
    with pytest.raises(NotFound), session_scope(engine) as session:
        webhooks.delete_webhook(session, user_id=other.id, webhook_id=hook.id, now=fake_clock.now())
    with read_scope(engine) as session:
        assert webhooks.recent_deliveries(session, user_id=other.id) == []
        assert len(webhooks.recent_deliveries(session, user_id=owner.id)) == 1
    with session_scope(engine) as session:
        webhooks.delete_webhook(session, user_id=owner.id, webhook_id=hook.id, now=fake_clock.now())
    [delivery] = _deliveries(engine)
    assert delivery.gave_up_at is not None and delivery.last_error == "webhook deleted"


def test_a_stale_or_tampered_signature_does_not_verify():
    body = b'{"type":"job.succeeded"}'
    header = webhooks.sign("whsec_x", body, timestamp=1_000_000)
    assert webhooks.verify_signature("whsec_x", header, body, now=1_000_100)
    assert not webhooks.verify_signature("whsec_x", header, body + b" ", now=1_000_100)
    assert not webhooks.verify_signature("whsec_y", header, body, now=1_000_100)
    assert not webhooks.verify_signature("whsec_x", header, body, now=1_000_000 + 301)
    assert not webhooks.verify_signature("whsec_x", "garbage", body, now=1_000_000)


def test_a_name_that_resolves_public_then_internal_never_reaches_the_internal_address(
    engine, fake_clock, monkeypatch
):
    """DNS rebinding. Before: delivery looked the name up, found a public address, and then
    httpx looked it up again and connected to what the second answer said (loopback), so a
    receiver on this server got the post. Now the one address checked is the one connected to.

    DNS and the internet are edges a test cannot run: the resolver answers a public address
    once and loopback afterwards; connections to anything but loopback are refused here."""
    receiver = Receiver()
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.create_connection
    answers = iter(["8.8.8.8"])

    def rebinding(host, port, *args, **kwargs):
        if host != "rebind.test":
            return real_getaddrinfo(host, port, *args, **kwargs)
        address = next(answers, "127.0.0.1")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port or 0))]

    def no_internet(address, *args, **kwargs):
        if address[0] == "8.8.8.8":
            raise ConnectionRefusedError("no internet in tests")
        return real_connect(address, *args, **kwargs)

    with ServerThread(receiver.app()) as server:
        port = server.url.rsplit(":", 1)[1]
        user = make_user(engine)
        with session_scope(engine) as session:
            webhooks.add_webhook(session, user_id=user.id, url=f"http://rebind.test:{port}/hook",
                                 now=fake_clock.now(), allow_private=False)  # fmt: skip
        _ended_job(engine, fake_clock, user)
        with session_scope(engine) as session:
            webhooks.enqueue_ended_jobs(session, now=fake_clock.now())
        monkeypatch.setattr(socket, "getaddrinfo", rebinding)
        monkeypatch.setattr(socket, "create_connection", no_internet)
        with public_only_client(allow_private=False) as client:
            webhooks.deliver_due(engine, client, clock_now=fake_clock.now)
    assert receiver.received == []
    [delivery] = _deliveries(engine)
    assert delivery.delivered_at is None and delivery.last_error
