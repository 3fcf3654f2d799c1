"""The Vast.ai REST API subset our provider uses, in Vast's own dialect and error shapes.

`create_app(state)` serves it over real HTTP. Under `/_sim/` a control API lets tests script
scenarios: faults, clock jumps, operator kills, pre-existing instances, and a state dump.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from sim.vast.state import Faults, SimInstance, Timings, VastState, priced

DEFAULT_SEARCH = {
    "verified": {"eq": True},
    "external": {"eq": False},
    "rentable": {"eq": True},
    "rented": {"eq": False},
}
DEFAULT_STORAGE_GB = 5.0
"""`allocated_storage` when a search names none (the SDK's default)."""
LIST_FILTERABLE = {"id", "label", "actual_status", "gpu_name", "verification", "machine_id"}
MAX_PAGE = 25

Handler = Callable[[Request], Awaitable[Response]]


def _error(status: int, error: str, msg: str) -> JSONResponse:
    return JSONResponse({"success": False, "error": error, "msg": msg}, status_code=status)


def _coerce(value: Any, expected: Any) -> Any:
    """The CLI sends numbers as strings (`num_gpus=1` -> "1"); Vast compares them as numbers."""
    if isinstance(expected, list):
        return [_coerce(value, item) for item in expected]
    if isinstance(value, int | float) and not isinstance(value, bool) and isinstance(expected, str):
        try:
            return float(expected)
        except ValueError:
            return expected
    return expected


def _by_field(field: str) -> Callable[[dict[str, Any]], tuple[bool, Any]]:
    """A sort key on one offer field that never compares a missing value with a present one."""

    def key(offer: dict[str, Any]) -> tuple[bool, Any]:
        return (offer.get(field) is None, offer.get(field))

    return key


def _matches(value: Any, condition: Any) -> bool:
    if not isinstance(condition, dict):
        condition = {"eq": condition}
    for op, raw in condition.items():
        expected = _coerce(value, raw)
        if op in ("eq", "=="):
            ok = value == expected
        elif op in ("neq", "!="):
            ok = value != expected
        elif op in ("in", "notin"):
            ok = (value in expected) == (op == "in")
        elif value is None:
            ok = False
        elif op in ("gt", ">"):
            ok = value > expected
        elif op in ("gte", ">="):
            ok = value >= expected
        elif op in ("lt", "<"):
            ok = value < expected
        elif op in ("lte", "<="):
            ok = value <= expected
        else:
            raise ValueError(f"unknown operator {op}")
        if not ok:
            return False
    return True


def create_app(state: VastState | None = None) -> Starlette:
    """The simulated Vast.ai API over `state` (a fresh account when None)."""
    state = state or VastState()

    def api(handler: Handler, endpoint: str) -> Handler:
        """Auth, injected rate limits and 5xx, and call accounting around a Vast endpoint."""

        async def wrapped(request: Request) -> Response:
            response = await _guarded(request)
            with state.lock:
                state.calls.append((request.method, endpoint, response.status_code))
            return response

        async def _guarded(request: Request) -> Response:
            key = request.query_params.get("api_key")
            bearer = request.headers.get("authorization", "")
            if bearer.lower().startswith("bearer "):
                key = bearer[7:]
            if key != state.api_key:
                # Vast answers a wrong key with 404 more often than 401 (see VAST.md §1.2).
                return _error(404, "auth_error", "Invalid user key")
            with state.lock:
                faults = state.faults
                roll = state.rng.random()
                shape = state.rng.randrange(3)
                server_roll = state.rng.random()
            if faults.latency_s:
                await asyncio.sleep(faults.latency_s)
            if roll < faults.rate_limit_p:
                return _rate_limited(shape, faults.retry_after_s)
            if server_roll < faults.server_error_p:
                return PlainTextResponse("Bad Gateway", status_code=502)
            return await handler(request)

        return wrapped

    async def search_offers(request: Request) -> Response:
        query = await _json(request)
        if query is None:
            return _error(400, "invalid_args", "body must be a JSON object")
        with state.lock:
            quota_exceeded = state.faults.search_quota_exceeded
        if quota_exceeded:
            return _error(
                429, "search_quota_exceeded", "Daily search quota exceeded; resets at UTC midnight."
            )
        order = query.pop("order", [["score", "desc"]])
        try:
            limit = int(query.pop("limit", 64) or 64)
            storage_gb = float(query.pop("allocated_storage", DEFAULT_STORAGE_GB))
        except (TypeError, ValueError):
            return _error(400, "invalid_args", "limit and allocated_storage must be numbers")
        for control in ("type", "no_default", "disable_bundling"):
            query.pop(control, None)
        filters = {**DEFAULT_SEARCH, **query}
        with state.lock:  # prices include the storage the search asked to allocate
            offers = [priced(offer, storage_gb) for offer in state.offers.values()]
        try:
            found = [o for o in offers if all(_matches(o.get(f), c) for f, c in filters.items())]
        except (ValueError, TypeError) as exc:
            return _error(400, "invalid_args", f"Error in query: {exc}")
        with state.lock:  # the market moves on: offers nobody wanted are replaced
            state.churn(keep={o["id"] for o in found})
        for column, direction in reversed(order):
            found.sort(key=_by_field(column), reverse=direction == "desc")
        return JSONResponse({"offers": found[:limit]})

    async def create_instance(request: Request) -> Response:
        offer_id = int(request.path_params["offer_id"])
        body = await _json(request)
        if body is None or not body.get("image"):
            return _error(400, "invalid_args", "image is required")
        if len(str(body.get("label") or "")) > 256:
            return _error(400, "label_too_long", "Please limit label length to 256 characters.")
        problem = _create_limits(body)
        if problem:
            return _error(400, "invalid_args", problem)
        with state.lock:
            if offer_id in state.taken_offers:
                return _error(
                    410,
                    "no_such_ask",
                    f"error 410/3603: no_such_ask Offer {offer_id} is no longer available.",
                )
            if offer_id in state.offers and state.rng.random() < state.faults.offer_vanish_p:
                state.offers.pop(offer_id)  # someone else was faster
                state.taken_offers.add(offer_id)
                state.refill_offers(1)
            if offer_id not in state.offers:
                return _error(
                    404,
                    "no_such_ask",
                    f"error 404/3603: no_such_ask Instance type by id {offer_id} is not available.",
                )
            instance = state.create(offer_id, body)
            failure = state.faults.create_then_fail
            hang_s = state.faults.hang_s
        if failure == "hang":
            await asyncio.sleep(hang_s)
        if failure is not None:
            return PlainTextResponse("Bad Gateway", status_code=502)
        return JSONResponse(
            {"success": True, "new_contract": instance.id, "instance_api_key": instance.api_key}
        )

    async def list_instances(request: Request) -> Response:
        with state.lock:
            if state.faults.list_outage:
                return PlainTextResponse("Internal Server Error", status_code=500)
        try:
            filters = json.loads(request.query_params.get("select_filters") or "{}")
            limit = int(request.query_params.get("limit", MAX_PAGE))
            order_by = json.loads(request.query_params.get("order_by") or "[]")
            if not isinstance(order_by, list):
                raise ValueError("order_by must be a list")
            token = request.query_params.get("after_token")
            after = int(base64.b64decode(token).decode()) if token else 0
        except (ValueError, json.JSONDecodeError):
            return _error(400, "invalid_args", "Error in query parameters")
        for column in filters:
            if column not in LIST_FILTERABLE:
                return _error(
                    400,
                    "invalid_args",
                    f"Error in query parameters: {column} is not a valid search key",
                )
        limit = 5 if limit <= 0 else min(limit, MAX_PAGE)
        with state.lock:
            now = state.now()
            rows = [state.render(inst, now) for inst in state.listed(now)]
        try:
            rows = [r for r in rows if all(_matches(r.get(c), v) for c, v in filters.items())]
        except (ValueError, TypeError) as exc:
            return _error(400, "invalid_args", f"Error in query parameters: {exc}")
        label_counts: dict[str, int] = {}
        for row in rows:
            label_counts[row["label"] or ""] = label_counts.get(row["label"] or "", 0) + 1
        remaining = [r for r in rows if r["id"] > after]
        page = remaining[:limit]
        more = len(remaining) > limit
        next_token = base64.b64encode(str(page[-1]["id"]).encode()).decode() if more else None
        return JSONResponse(
            {
                "success": True,
                "instances_found": len(page),
                "total_instances": len(rows),
                "label_counts": label_counts,
                "next_token": next_token,
                "instances": page,
            }
        )

    async def legacy_list(_request: Request) -> Response:
        return _error(
            410,
            "deprecated_endpoint",
            "/api/v0/instances/ is deprecated. Use /api/v1/instances/ instead.",
        )

    def _find(request: Request) -> SimInstance | None:
        instance = state.instances.get(int(request.path_params["instance_id"]))
        if instance is None or not state.alive(instance, state.now()):
            return None
        return instance

    async def show_instance(request: Request) -> Response:
        with state.lock:
            instance = _find(request)
            rendered = state.render(instance, state.now()) if instance else None
        return JSONResponse({"instances": rendered})

    async def manage_instance(request: Request) -> Response:
        body = await _json(request) or {}
        with state.lock:
            instance = _find(request)
            if instance is None:
                iid = request.path_params["instance_id"]
                return _error(404, "no_such_instance", f"Instance {iid} not found.")
            if "label" in body:
                if len(str(body["label"])) > 1024:
                    return _error(400, "label_too_long", "Please limit label length to 1024.")
                instance.label = body["label"]
            if body.get("state") == "stopped":
                instance.force("stopped", state.now())
            elif body.get("state") == "running" and instance.forced_status == "stopped":
                instance.force(None, state.now())
        msg = f"label for {instance.id} set to '{instance.label}'" if "label" in body else ""
        return JSONResponse({"success": True, "msg": msg})

    async def destroy_instance(request: Request) -> Response:
        with state.lock:
            if state.faults.destroy_fail_times > 0:
                state.faults.destroy_fail_times -= 1
                return PlainTextResponse("Internal Server Error", status_code=500)
            instance = _find(request)
            if instance is None:
                return _error(404, "not_found", "Instance not found")
            if instance.destroyed_at is None:
                state.destroy(instance)
        return JSONResponse({"success": True})

    async def current_user(_request: Request) -> Response:
        with state.lock:
            credit = state.credit
        return JSONResponse(
            {
                "id": 4242,
                "username": "sim",
                "email": "sim@example.test",
                "credit": credit,
                "balance": -credit,
                "balance_threshold": 0.0,
                "balance_threshold_enabled": False,
                "has_billing": True,
                "can_pay": True,
            }
        )

    async def charges(request: Request) -> Response:
        try:
            filters = json.loads(request.query_params.get("select_filters") or "{}")
            day = filters["day"]
            start, end = float(day["gte"]), float(day["lte"])
        except (ValueError, KeyError, TypeError, json.JSONDecodeError):
            return _error(400, "invalid_args", "select_filters needs a day range (gte, lte)")
        with state.lock:
            results = state.charges(start, end)
        total = round(sum(r["amount"] for r in results), 6)
        return JSONResponse(
            {
                "success": True,
                "count": len(results),
                "total": total,
                "next_token": None,
                "results": results,
            }
        )

    # ---- control API (not Vast): scripting scenarios from tests --------------------------

    async def set_faults(request: Request) -> Response:
        body = await _json(request) or {}
        with state.lock:
            state.faults = Faults(**{**vars(state.faults), **body})
        return JSONResponse(vars(state.faults))

    async def set_timings(request: Request) -> Response:
        body = await _json(request) or {}
        with state.lock:
            state.timings = Timings(**{**vars(state.timings), **body})
        return JSONResponse(vars(state.timings))

    async def advance(request: Request) -> Response:
        body = await _json(request) or {}
        with state.lock:
            state.offset_s += float(body.get("seconds", 0))
            return JSONResponse({"now": state.now()})

    async def dump(_request: Request) -> Response:
        with state.lock:
            return JSONResponse(state.state_dump())

    async def seed_instance(request: Request) -> Response:
        body = await _json(request) or {}
        with state.lock:
            offer_id = next(iter(state.offers))
            instance = state.create(offer_id, {"image": "vastai/comfy", "label": body.get("label")})
            instance.visible_at = instance.created_at
            if body.get("running", True):
                instance.created_at -= 3600
        return JSONResponse({"id": instance.id})

    async def operate(request: Request) -> Response:
        """Operator actions on one instance: vanish, exit, offline, stop, comfy_port, oci_error."""
        body = await _json(request) or {}
        with state.lock:
            instance = state.instances.get(int(request.path_params["instance_id"]))
            if instance is None:
                return _error(404, "not_found", "Instance not found")
            action = body.get("action")
            if action == "vanish":
                instance.gone_at = state.now()
            elif action in ("exited", "offline", "stopped", "unknown", "frozen"):
                instance.force(action, state.now())
            elif action == "oci_error":
                instance.force("created", state.now())
                instance.status_msg = "Error response from daemon: OCI runtime create failed: x"
            elif action == "comfy_port":
                instance.comfy_port = body.get("port")
            else:
                return _error(400, "invalid_args", f"unknown action {action!r}")
        return JSONResponse({"success": True})

    async def set_comfy_port(request: Request) -> Response:
        body = await _json(request) or {}
        with state.lock:
            state.comfy_port = body.get("port")
        return JSONResponse({"comfy_port": state.comfy_port})

    routes = [
        Route("/api/v0/bundles/", api(search_offers, "search"), methods=["POST"]),
        Route("/api/v0/asks/{offer_id:int}/", api(create_instance, "create"), methods=["PUT"]),
        Route("/api/v1/instances/", api(list_instances, "list"), methods=["GET"]),
        Route("/api/v0/instances/", api(legacy_list, "legacy_list"), methods=["GET"]),
        Route("/api/v0/instances/{instance_id:int}/", api(show_instance, "show"), methods=["GET"]),
        Route(
            "/api/v0/instances/{instance_id:int}/", api(manage_instance, "manage"), methods=["PUT"]
        ),
        Route(
            "/api/v0/instances/{instance_id:int}/",
            api(destroy_instance, "destroy"),
            methods=["DELETE"],
        ),
        Route("/api/v0/users/current/", api(current_user, "user"), methods=["GET"]),
        Route("/api/v0/charges/", api(charges, "charges"), methods=["GET"]),
        Route("/_sim/faults", set_faults, methods=["POST"]),
        Route("/_sim/timings", set_timings, methods=["POST"]),
        Route("/_sim/advance", advance, methods=["POST"]),
        Route("/_sim/state", dump, methods=["GET"]),
        Route("/_sim/instances", seed_instance, methods=["POST"]),
        Route("/_sim/instances/{instance_id:int}", operate, methods=["POST"]),
        Route("/_sim/comfy_port", set_comfy_port, methods=["POST"]),
    ]
    app = Starlette(routes=routes)
    app.state.vast = state
    return app


def _create_limits(body: dict[str, Any]) -> str | None:
    """Vast's create validation limits (create_instance.yaml x-input-validation)."""
    env = body.get("env") or {}
    if not isinstance(env, dict):
        return "env must be an object"
    long_values = [key for key, value in env.items() if len(str(value)) > 256]
    if long_values:
        return f"env values are limited to 256 characters: {', '.join(long_values)}"
    if sum(len(str(key)) + len(str(value)) for key, value in env.items()) > 32_768:
        return "env is limited to 32768 characters in total"
    script = sum(len(str(body.get(name) or "")) for name in ("args", "args_str", "onstart"))
    if script > 4096:
        return "args, args_str and onstart are limited to 4096 characters combined"
    if float(body.get("disk") or 8) < 8:
        return "disk must be at least 8 GB"
    return None


def _rate_limited(shape: int, retry_after_s: float | None) -> Response:
    """A 429 in one of the three shapes Vast sends."""
    headers = {"Retry-After": str(int(retry_after_s))} if retry_after_s is not None else None
    if shape == 0:
        return PlainTextResponse("API requests too frequent", status_code=429, headers=headers)
    if shape == 1:
        body: dict[str, Any] = {"detail": "API requests too frequent endpoint threshold=2.0"}
    else:
        body = {
            "success": False,
            "error": "rate_limit_exceeded",
            "msg": "API requests too frequent",
        }
    return JSONResponse(body, status_code=429, headers=headers)


async def _json(request: Request) -> dict[str, Any] | None:
    try:
        body = await request.json()
    except (json.JSONDecodeError, ValueError):
        return None
    return body if isinstance(body, dict) else None
