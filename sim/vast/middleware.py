"""What wraps every call to the simulated Vast API: the call log, auth, Vast's rate limits and
injected faults.

Outermost first: `CallLog` records every call with its final status (refusals and injected
faults included); `VastAuth` refuses a wrong key as Vast does; `MinIntervals` (on when
`Faults.min_intervals` is) refuses a call sooner than its endpoint's interval for the same
caller (`sim.vast.limits`); `Storms` adds latency and random 429s and 502s to any endpoint;
`Outages` breaks one endpoint at a time (the list down, the search quota spent, destroys
failing, a create's reply lost after the instance exists). The control API under `/_sim/`
passes through untouched.
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sim.vast import replies
from sim.vast.state import account_of

API_PREFIX = "/api/"


def endpoint_name(scope: Scope) -> str | None:
    """The name of the Vast API route `scope` is for (None: not a Vast API call)."""
    if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX):
        return None
    for route in scope["app"].routes:
        if isinstance(route, Route) and route.matches(scope)[0] is Match.FULL:
            return route.name
    return None


class _VastMiddleware:
    """An ASGI middleware acting on Vast API calls only."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = endpoint_name(scope)
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        refusal = await self.refuse(scope, endpoint)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.call(scope, receive, send, endpoint)

    async def refuse(self, scope: Scope, endpoint: str) -> Response | None:
        """A reply that replaces the endpoint's, or None to let the call through."""
        return None

    async def call(self, scope: Scope, receive: Receive, send: Send, endpoint: str) -> None:
        """Pass the call on (subclasses may watch or replace what comes back)."""
        await self.app(scope, receive, send)


class CallLog(_VastMiddleware):
    """Appends (method, endpoint, status) of every Vast API call to `VastState.calls`, before
    the reply leaves (a client that got its answer finds its call already counted)."""

    async def call(self, scope: Scope, receive: Receive, send: Send, endpoint: str) -> None:
        state = account_of(scope["app"])
        logged = False

        def log(status: int) -> None:
            nonlocal logged
            with state.lock:
                state.calls.append((scope["method"], endpoint, status))
            logged = True

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                log(int(message["status"]))
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            if not logged:
                log(500)


def caller_key(scope: Scope) -> str | None:
    """The API key a call presents: its Bearer header, else its `api_key` query param."""
    request = Request(scope)
    bearer = request.headers.get("authorization", "")
    if bearer.lower().startswith("bearer "):
        return bearer[7:]
    return request.query_params.get("api_key")


class VastAuth(_VastMiddleware):
    """Bearer header or `api_key` query param; a wrong key is a 404 `auth_error` (VAST.md §1.2)."""

    async def refuse(self, scope: Scope, endpoint: str) -> Response | None:
        if caller_key(scope) != account_of(scope["app"]).api_key:
            return replies.error(404, "auth_error", "Invalid user key")
        return None


class MinIntervals(_VastMiddleware):
    """When `Faults.min_intervals` is on, a 429 (any of Vast's shapes, no `Retry-After`, as
    Vast sends none) for a call sooner than its endpoint's interval for the same caller
    (key and client IP), on the sim clock."""

    async def refuse(self, scope: Scope, endpoint: str) -> Response | None:
        state = account_of(scope["app"])
        client = scope.get("client") or ("", 0)
        identity = f"{caller_key(scope)}@{client[0]}"
        with state.lock:
            if not state.faults.min_intervals:
                return None
            limit = state.intervals.refused(identity, endpoint, state.now())
            shape = state.rng.randrange(3) if limit is not None else 0
        if limit is None:
            return None
        return replies.rate_limited(shape, None, limit.threshold_s)


class Storms(_VastMiddleware):
    """Latency, and with the configured probabilities a 429 (any of Vast's shapes) or a 502."""

    async def refuse(self, scope: Scope, endpoint: str) -> Response | None:
        state = account_of(scope["app"])
        with state.lock:
            faults = state.faults
            roll = state.rng.random()
            shape = state.rng.randrange(3)
            server_roll = state.rng.random()
        if faults.latency_s:
            await asyncio.sleep(faults.latency_s)
        if roll < faults.rate_limit_p:
            return replies.rate_limited(shape, faults.retry_after_s)
        if server_roll < faults.server_error_p:
            return replies.bad_gateway()
        return None


class Outages(_VastMiddleware):
    """One endpoint broken at a time, as the switches in `Faults` say."""

    async def refuse(self, scope: Scope, endpoint: str) -> Response | None:
        state = account_of(scope["app"])
        with state.lock:
            faults = state.faults
            if endpoint == "list" and faults.list_outage:
                return replies.server_error()
            if endpoint == "search" and faults.search_quota_exceeded:
                return replies.error(
                    429,
                    "search_quota_exceeded",
                    "Daily search quota exceeded; resets at UTC midnight.",
                )
            if endpoint == "destroy" and faults.destroy_fail_times > 0:
                faults.destroy_fail_times -= 1
                return replies.server_error()
        return None

    async def call(self, scope: Scope, receive: Receive, send: Send, endpoint: str) -> None:
        state = account_of(scope["app"])
        with state.lock:
            failure, hang_s = state.faults.create_then_fail, state.faults.hang_s
        if endpoint != "create" or failure is None:
            await self.app(scope, receive, send)
            return
        # The create goes through; only its reply is lost (a 502, after a stall if "hang").
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        await self.app(scope, receive, hold)
        if 200 <= _status(held) < 300:
            if failure == "hang":
                await asyncio.sleep(hang_s)
            await replies.bad_gateway()(scope, receive, send)
            return
        for message in held:
            await send(message)


def _status(messages: list[Message]) -> int:
    for message in messages:
        if message["type"] == "http.response.start":
            return int(message["status"])
    return 500
