"""The simulated Vast.ai API as one Starlette app: its routes, listed once, and its middleware.

`create_app(state)` serves Vast's endpoints (`sim.vast.endpoints`) behind the call log, auth,
Vast's minimum intervals and fault injection (`sim.vast.middleware`), and the `/_sim/` control API
(`sim.vast.control`) beside them.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from sim.vast import control, endpoints
from sim.vast.middleware import CallLog, MinIntervals, Outages, Storms, VastAuth
from sim.vast.state import VastState

INSTANCE = "/api/v0/instances/{instance_id:int}/"
ASK = "/api/v0/asks/{offer_id:int}/"

ROUTES = [
    Route("/api/v0/bundles/", endpoints.search_offers, methods=["POST"], name="search"),
    Route(ASK, endpoints.create_instance, methods=["PUT"], name="create"),
    Route("/api/v1/instances/", endpoints.list_instances, methods=["GET"], name="list"),
    Route("/api/v0/instances/", endpoints.legacy_list, methods=["GET"], name="legacy_list"),
    Route(INSTANCE, endpoints.show_instance, methods=["GET"], name="show"),
    Route(INSTANCE, endpoints.manage_instance, methods=["PUT"], name="manage"),
    Route(INSTANCE, endpoints.destroy_instance, methods=["DELETE"], name="destroy"),
    Route("/api/v0/users/current/", endpoints.current_user, methods=["GET"], name="user"),
    Route("/api/v0/charges/", endpoints.charges, methods=["GET"], name="charges"),
    Route("/_sim/faults", control.set_faults, methods=["POST"]),
    Route("/_sim/timings", control.set_timings, methods=["POST"]),
    Route("/_sim/advance", control.advance, methods=["POST"]),
    Route("/_sim/state", control.dump, methods=["GET"]),
    Route("/_sim/instances", control.seed_instance, methods=["POST"]),
    Route("/_sim/instances/{instance_id:int}", control.operate, methods=["POST"]),
    Route("/_sim/comfy_port", control.set_comfy_port, methods=["POST"]),
]

MIDDLEWARE = [
    Middleware(CallLog),
    Middleware(VastAuth),
    Middleware(MinIntervals),
    Middleware(Storms),
    Middleware(Outages),
]
"""Outermost first: every call is logged, authenticated, held to Vast's intervals (when on),
then exposed to faults."""


def create_app(state: VastState | None = None) -> Starlette:
    """The simulated Vast.ai API over `state` (a fresh account when None)."""
    app = Starlette(routes=ROUTES, middleware=MIDDLEWARE)
    app.state.vast = state or VastState()
    return app
