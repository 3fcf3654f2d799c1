"""The client's address for every audit entry an API request writes, behind trusted proxies.

A pure ASGI middleware (not `BaseHTTPMiddleware`, which would run the route in another
context): it resolves the peer and `X-Forwarded-For` through `core.proxies` with
`TRUSTED_PROXIES` and sets `core.audit`'s request IP around the request, so every
`audit.record` of the request, also in the thread pool running sync routes, carries it.
uvicorn runs with `proxy_headers=False` (`api.main`), so the peer is the real connection.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

from core import audit, proxies


class ClientIpMiddleware:
    """Sets the request's client IP for the audit log (`core.audit.set_request_ip`)."""

    def __init__(self, app: ASGIApp, *, trusted: Sequence[proxies.Network]) -> None:
        self.app = app
        self.trusted = tuple(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        peer = str(client[0]) if client else None
        forwarded = [
            value.decode("latin-1")
            for name, value in scope.get("headers", [])
            if name == b"x-forwarded-for"
        ]
        token = audit.set_request_ip(proxies.client_ip(peer, forwarded, self.trusted))
        try:
            await self.app(scope, receive, send)
        finally:
            audit.reset_request_ip(token)
