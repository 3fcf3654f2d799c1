"""The simulator's control API under `/_sim/` (not Vast's): tests script scenarios with it.

Faults and timings, clock jumps, pre-existing instances, operator actions on one instance,
where ComfyUI listens, and a dump of every instance ever created.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sim.vast.faults import Faults
from sim.vast.instance import Timings
from sim.vast.replies import error, read_json
from sim.vast.state import account_of

OPERATOR_STATES = ("exited", "offline", "stopped", "unknown", "frozen")


async def set_faults(request: Request) -> Response:
    """Merge the body into the fault switches; answer all of them."""
    state = account_of(request.app)
    body = await read_json(request) or {}
    with state.lock:
        state.faults = Faults(**{**vars(state.faults), **body})
        return JSONResponse(vars(state.faults))


async def set_timings(request: Request) -> Response:
    """Merge the body into the boot timings of instances created from now on."""
    state = account_of(request.app)
    body = await read_json(request) or {}
    with state.lock:
        state.timings = Timings(**{**vars(state.timings), **body})
        return JSONResponse(vars(state.timings))


async def advance(request: Request) -> Response:
    """Move the sim clock forward by `seconds`."""
    state = account_of(request.app)
    body = await read_json(request) or {}
    with state.lock:
        state.offset_s += float(body.get("seconds", 0))
        return JSONResponse({"now": state.now()})


async def dump(request: Request) -> Response:
    """Every instance ever created, alive or not (for leak checks)."""
    state = account_of(request.app)
    with state.lock:
        return JSONResponse(state.state_dump())


async def seed_instance(request: Request) -> Response:
    """Create an instance out of band (an orphan, or a foreign one); running an hour already
    unless `running` is false."""
    state = account_of(request.app)
    body = await read_json(request) or {}
    with state.lock:
        offer_id = next(iter(state.market.offers))
        instance = state.create(offer_id, {"image": "vastai/comfy", "label": body.get("label")})
        instance.visible_at = instance.created_at
        if body.get("running", True):
            instance.created_at -= 3600
    return JSONResponse({"id": instance.id})


async def operate(request: Request) -> Response:
    """Operator actions on one instance: vanish, exited, offline, stopped, unknown, frozen,
    oci_error, comfy_port."""
    state = account_of(request.app)
    body = await read_json(request) or {}
    with state.lock:
        instance = state.instances.get(int(request.path_params["instance_id"]))
        if instance is None:
            return error(404, "not_found", "Instance not found")
        action = body.get("action")
        if action == "vanish":
            instance.gone_at = state.now()
        elif action in OPERATOR_STATES:
            instance.force(action, state.now())
        elif action == "oci_error":
            instance.force("created", state.now())
            instance.status_msg = "Error response from daemon: OCI runtime create failed: x"
        elif action == "comfy_port":
            instance.comfy_port = body.get("port")
        else:
            return error(400, "invalid_args", f"unknown action {action!r}")
    return JSONResponse({"success": True})


async def set_comfy_port(request: Request) -> Response:
    """Where the shared ComfyUI of instances created from now on listens."""
    state = account_of(request.app)
    body = await read_json(request) or {}
    with state.lock:
        state.comfy_port = body.get("port")
    return JSONResponse({"comfy_port": state.comfy_port})
