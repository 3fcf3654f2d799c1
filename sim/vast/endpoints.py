"""The Vast.ai REST endpoints our provider uses, in Vast's own dialect and error shapes.

Each is a module-level Starlette endpoint over the account in `request.app.state.vast`; auth
and injected faults happen around them (`sim.vast.middleware`).
"""

from __future__ import annotations

import base64
import bisect
import json
from collections import Counter
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sim.vast.instance import gpu_taken_probability
from sim.vast.market import DEFAULT_STORAGE_GB, priced
from sim.vast.query import by_field, matches_all
from sim.vast.replies import error, read_json
from sim.vast.state import account_of

DEFAULT_SEARCH = {
    "verified": {"eq": True},
    "external": {"eq": False},
    "rentable": {"eq": True},
    "rented": {"eq": False},
}
LIST_FILTERABLE = {"id", "label", "actual_status", "gpu_name", "verification", "machine_id"}
MAX_PAGE = 25
CHARGES_PAGE = 100
MAX_CHARGES_PAGE = 500


async def search_offers(request: Request) -> Response:
    """`POST /api/v0/bundles/`: offers matching the query, priced for the storage asked."""
    state = account_of(request.app)
    query = await read_json(request)
    if query is None:
        return error(400, "invalid_args", "body must be a JSON object")
    order = query.pop("order", [["score", "desc"]])
    try:
        limit = int(query.pop("limit", 64) or 64)
        storage_gb = float(query.pop("allocated_storage", DEFAULT_STORAGE_GB))
    except (TypeError, ValueError):
        return error(400, "invalid_args", "limit and allocated_storage must be numbers")
    for control in ("type", "no_default", "disable_bundling"):
        query.pop(control, None)
    filters = {**DEFAULT_SEARCH, **query}
    with state.lock:  # prices include the storage the search asked to allocate
        offers = [priced(offer, storage_gb) for offer in state.market.offers.values()]
    try:
        found = [offer for offer in offers if matches_all(offer, filters)]
    except (ValueError, TypeError) as exc:
        return error(400, "invalid_args", f"Error in query: {exc}")
    with state.lock:  # the market moves on: offers nobody wanted are replaced
        state.market.churn(keep={offer["id"] for offer in found})
    for column, direction in reversed(order):
        found.sort(key=by_field(column), reverse=direction == "desc")
    return JSONResponse({"offers": found[:limit]})


async def create_instance(request: Request) -> Response:
    """`PUT /api/v0/asks/{offer_id}/`: rent an offer (single use) with Vast's input limits."""
    state = account_of(request.app)
    offer_id = int(request.path_params["offer_id"])
    body = await read_json(request)
    if body is None or not body.get("image"):
        return error(400, "invalid_args", "image is required")
    if len(str(body.get("label") or "")) > 256:
        return error(400, "label_too_long", "Please limit label length to 256 characters.")
    problem = _create_limits(body)
    if problem:
        return error(400, "invalid_args", problem)
    with state.lock:
        market = state.market
        if offer_id in market.taken:
            return error(
                410,
                "no_such_ask",
                f"error 410/3603: no_such_ask Offer {offer_id} is no longer available.",
            )
        if offer_id in market.offers and state.rng.random() < state.faults.offer_vanish_p:
            market.vanish(offer_id)  # someone else was faster
        if offer_id not in market.offers:
            return error(
                404,
                "no_such_ask",
                f"error 404/3603: no_such_ask Instance type by id {offer_id} is not available.",
            )
        instance = state.create(offer_id, body)
    return JSONResponse(
        {"success": True, "new_contract": instance.id, "instance_api_key": instance.api_key}
    )


async def list_instances(request: Request) -> Response:
    """`GET /api/v1/instances/`: the account's instances, filtered, 25 a page by `next_token`,
    with the columns `select_cols` names (default every one)."""
    state = account_of(request.app)
    try:
        filters = json.loads(request.query_params.get("select_filters") or "{}")
        limit = int(request.query_params.get("limit", MAX_PAGE))
        order_by = json.loads(request.query_params.get("order_by") or "[]")
        if not isinstance(order_by, list):
            raise ValueError("order_by must be a list")
        token = request.query_params.get("after_token")
        after = int(base64.b64decode(token).decode()) if token else 0
        columns = json.loads(request.query_params.get("select_cols") or '["*"]')
        if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
            raise ValueError("select_cols must be a list of column names")
    except (ValueError, json.JSONDecodeError):
        return error(400, "invalid_args", "Error in query parameters")
    for column in filters:
        if column not in LIST_FILTERABLE:
            message = f"Error in query parameters: {column} is not a valid search key"
            return error(400, "invalid_args", message)
    limit = 5 if limit <= 0 else min(limit, MAX_PAGE)
    with state.lock:
        now = state.now()
        listed = state.listed(now)
        try:
            if filters:
                listed = [i for i in listed if matches_all(state.render(i, now), filters)]
        except (ValueError, TypeError) as exc:
            return error(400, "invalid_args", f"Error in query parameters: {exc}")
        # Keyset paging on the id order: only the page is rendered, as Vast pages in its
        # database, so listing many instances costs each page its own rows.
        start = bisect.bisect_right(listed, after, key=lambda inst: inst.id)
        page = listed[start : start + limit]
        rows = [_selected(state.render(inst, now), columns) for inst in page]
    label_counts = Counter(inst.label or "" for inst in listed)
    more = len(listed) > start + limit
    next_token = base64.b64encode(str(page[-1].id).encode()).decode() if more else None
    return JSONResponse(
        {
            "success": True,
            "instances_found": len(rows),
            "total_instances": len(listed),
            "label_counts": label_counts,
            "next_token": next_token,
            "instances": rows,
        }
    )


def _selected(row: dict[str, Any], columns: list[str]) -> dict[str, Any]:
    """`row` cut to `select_cols` as Vast answers it: `*` is every column, and a column it
    does not know comes back null."""
    if "*" in columns:
        return row
    return {column: row.get(column) for column in columns}


async def legacy_list(_request: Request) -> Response:
    """`GET /api/v0/instances/`: retired by Vast, 410 `deprecated_endpoint`."""
    return error(
        410,
        "deprecated_endpoint",
        "/api/v0/instances/ is deprecated. Use /api/v1/instances/ instead.",
    )


async def show_instance(request: Request) -> Response:
    """`GET /api/v0/instances/{id}/`: one instance under the plural key, null when gone."""
    state = account_of(request.app)
    with state.lock:
        instance = state.find(int(request.path_params["instance_id"]))
        rendered = state.render(instance, state.now()) if instance else None
    return JSONResponse({"instances": rendered})


async def manage_instance(request: Request) -> Response:
    """`PUT /api/v0/instances/{id}/`: set the label and/or the state (stopped or running)."""
    state = account_of(request.app)
    body = await read_json(request) or {}
    with state.lock:
        instance = state.find(int(request.path_params["instance_id"]))
        if instance is None:
            iid = request.path_params["instance_id"]
            return error(404, "no_such_instance", f"Instance {iid} not found.")
        if "label" in body:
            if len(str(body["label"])) > 1024:
                return error(400, "label_too_long", "Please limit label length to 1024.")
            instance.label = body["label"]
        wanted = body.get("state")
        if wanted not in (None, "stopped", "running"):
            return error(400, "invalid_args", f"state must be stopped or running, not {wanted!r}")
        now = state.now()
        if wanted == "stopped":
            instance.stop(now)
        elif wanted == "running" and (stopped_since := instance.stopped_since()) is not None:
            timings = state.timings  # restarts follow the account's timings of now
            chance = gpu_taken_probability(now - stopped_since, timings.gpu_taken_half_life_s)
            taken = state.rng.random() < chance
            instance.start(now, gpu_taken=taken, restart_s=timings.restart_s)
    msg = f"label for {instance.id} set to '{instance.label}'" if "label" in body else ""
    return JSONResponse({"success": True, "msg": msg})


async def destroy_instance(request: Request) -> Response:
    """`DELETE /api/v0/instances/{id}/`: gone for good; an unknown id is 404 `not_found`."""
    state = account_of(request.app)
    with state.lock:
        instance = state.find(int(request.path_params["instance_id"]))
        if instance is None:
            return error(404, "not_found", "Instance not found")
        if instance.destroyed_at is None:
            state.destroy(instance)
    return JSONResponse({"success": True})


async def current_user(request: Request) -> Response:
    """`GET /api/v0/users/current/`: the account, with its prepaid `credit`."""
    state = account_of(request.app)
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
    """`GET /api/v0/charges/`: per-instance charges inside the required `day` range, by pages
    of `limit` (default 100, at most 500) with `next_token`, newest first unless told."""
    state = account_of(request.app)
    params = request.query_params
    try:
        filters = json.loads(params.get("select_filters") or "{}")
        day = filters["day"]
        start, end = float(day["gte"]), float(day["lte"])
        types = filters.get("type", {}).get("in", ["instance"])
        limit = max(1, min(int(params.get("limit", CHARGES_PAGE)), MAX_CHARGES_PAGE))
    except (ValueError, KeyError, TypeError, AttributeError, json.JSONDecodeError):
        return JSONResponse(
            {
                "success": False,
                "msg": "Must provide both 'day' gte and lte filters for instance charges",
            },
            status_code=400,
        )
    try:
        after = _charges_cursor(params.get("after_token"))
    except (ValueError, KeyError, TypeError, json.JSONDecodeError):
        return error(400, "invalid_token", "Invalid pagination token")
    with state.lock:
        results = state.charges(start, end) if "instance" in types else []
    newest_first = params.get("latest_first", "true").lower() != "false"
    ordered = sorted(results, key=_contract_id, reverse=newest_first)
    if after is not None:
        ordered = [r for r in ordered if (_contract_id(r) < after) == newest_first]
        ordered = [r for r in ordered if _contract_id(r) != after]
    page = ordered[:limit]
    next_token = None
    if len(ordered) > limit:
        cursor = {"values": {"id": _contract_id(page[-1])}}
        next_token = base64.b64encode(json.dumps(cursor).encode()).decode()
    return JSONResponse(
        {
            "success": True,
            "count": len(page),
            "total": len(results),
            "next_token": next_token,
            "results": page,
        }
    )


def _contract_id(charge: dict[str, Any]) -> int:
    return int(str(charge["source"]).rsplit("-", 1)[1])


def _charges_cursor(token: str | None) -> int | None:
    """The instance id a `/charges/` page token points after (Vast's `{"values": {"id": N}}`)."""
    if not token:
        return None
    return int(json.loads(base64.b64decode(token, validate=True))["values"]["id"])


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
