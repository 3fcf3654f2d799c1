"""API requests' audit entries record the client's IP, from X-Forwarded-For only via a
trusted proxy, over real loopback HTTP (issue 23; the web's side: tests/pages)."""

from __future__ import annotations

import dataclasses

import httpx
from sqlmodel import select

from api.app import create_app
from api.main import services_from
from core.accounts.api_tokens import Scope, create_token
from core.clock import SystemClock
from core.config import load_settings
from core.db import read_scope, session_scope
from core.models import AuditEntry
from sim.server import ServerThread
from testing.api import ACCEPTED
from testing.factories import make_user

REFUSED = {"prompt": "a portrait of a 15 year old"}  # audited as policy.refused


def refused_ip(engine, trusted: str, headers: dict[str, str]) -> str | None:
    """Send a refused prompt to the API (served like `aikings-api`) and return the audit IP."""
    user = make_user(engine, **ACCEPTED)
    with session_scope(engine) as session:
        token = create_token(
            session, user_id=user.id, name="bot", scopes=frozenset({Scope.GENERATE}),
            now=SystemClock().now(),
        ).secret  # fmt: skip
    base = services_from(load_settings(trusted_proxies=trusted))
    svc = dataclasses.replace(base, engine=engine)
    with ServerThread(create_app(svc), proxy_headers=False) as server:
        reply = httpx.post(
            f"{server.url}/v1/jobs",
            json=REFUSED,
            headers={"Authorization": f"Bearer {token}", **headers},
            timeout=30,
        )
    assert reply.status_code == 422
    with read_scope(engine) as session:
        entry = session.exec(
            select(AuditEntry).where(
                AuditEntry.action == "policy.refused", AuditEntry.actor == f"user:{user.id}"
            )
        ).one()
    return entry.ip


def test_the_api_ignores_a_forwarded_for_header_from_an_untrusted_peer(engine):
    spoofed = {"X-Forwarded-For": "203.0.113.9"}
    assert refused_ip(engine, "", spoofed) == "127.0.0.1"
    assert refused_ip(engine, "10.0.0.0/8", spoofed) == "127.0.0.1"


def test_the_api_takes_the_client_from_a_trusted_proxy(engine):
    # The client wrote a fake first hop; the proxy (this loopback peer) appended the real one.
    forwarded = {"X-Forwarded-For": "6.6.6.6, 203.0.113.9"}
    assert refused_ip(engine, "127.0.0.1", forwarded) == "203.0.113.9"
