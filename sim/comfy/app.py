"""A ComfyUI server in miniature: the HTTP routes and WebSocket of the real one (v0.3.64).

Endpoints are module-level functions reading the server state from `request.app.state.comfy`
(`sim.comfy.execute.ComfyServer`); validation lives in `sim.comfy.validate`, running prompts
in `sim.comfy.execute`, the files it writes in `sim.comfy.render`. Two middlewares stand in
front, as on a rented vastai/comfy instance: the authenticating proxy (a bearer token, when
the config names one; 401 otherwise) and the fault switch (502 from the proxy while ComfyUI
is down, starting or restarting). Every route is also served under `/api`, as ComfyUI does.
Faults are switched at `POST /_sim/faults`, which neither middleware guards.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from sim.comfy.config import COMFYUI_VERSION, ComfySimConfig
from sim.comfy.execute import ComfyServer, QueueItem, ms, new_prompt_id
from sim.comfy.schema import classes, object_info
from sim.comfy.validate import ServerCrash, top_error, validate_prompt

CONTROL_PREFIX = "/_sim/"
CRASH_TEXT = "500 Internal Server Error\n\nServer got itself in trouble"
"""What aiohttp answers when a handler raises (invalid JSON on `/prompt`, for one)."""
MODEL_FOLDERS = (
    "checkpoints",
    "configs",
    "loras",
    "vae",
    "text_encoders",
    "diffusion_models",
    "clip_vision",
    "style_models",
    "embeddings",
    "diffusers",
    "vae_approx",
    "controlnet",
    "gligen",
    "upscale_models",
    "custom_nodes",
    "hypernetworks",
    "photomaker",
    "classifiers",
    "model_patches",
    "audio_encoders",
    "ipadapter",
    "ultralytics_bbox",
    "ultralytics_segm",
    "ultralytics",
)
"""The folders ComfyUI (with ComfyUI_IPAdapter_plus, then the Impact Subpack) registers, in
its order."""


def _server(request: Request | WebSocket) -> ComfyServer:
    server: ComfyServer = request.app.state.comfy
    return server


def _crash() -> Response:
    return PlainTextResponse(CRASH_TEXT, status_code=500)


async def _json_body(request: Request) -> Any:
    """The JSON body; ValueError when it is not JSON (the real handler then crashes)."""
    return json.loads(await request.body())


# ---- middleware -----------------------------------------------------------------------------


class ProxyAuth:
    """The bearer-token proxy in front of ComfyUI: 401 (HTTP) or a refused handshake (WS)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        token = scope["app"].state.comfy.config.token
        headers = dict(scope["headers"])
        if token is None or headers.get(b"authorization") == f"Bearer {token}".encode():
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await PlainTextResponse("Unauthorized", status_code=401)(scope, receive, send)


class UpstreamFaults:
    """502 from the proxy while ComfyUI behind it is down, starting or restarting."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] in ("http", "websocket")
            and not scope["path"].startswith(CONTROL_PREFIX)
            and not scope["app"].state.comfy.healthy()
        ):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1011})
                return
            await PlainTextResponse("Bad Gateway", status_code=502)(scope, receive, send)
            return
        await self.app(scope, receive, send)


# ---- routes ---------------------------------------------------------------------------------


async def system_stats(request: Request) -> Response:
    """Versions, RAM and the GPU, with the command line ComfyUI was started with."""
    config = _server(request).config
    return JSONResponse(
        {
            "system": {
                "os": "posix",
                "ram_total": 67_430_727_680,
                "ram_free": 60_112_345_088,
                "comfyui_version": COMFYUI_VERSION,
                "python_version": "3.12.3 (main, Feb  4 2025, 14:48:35) [GCC 13.3.0]",
                "pytorch_version": "2.8.0+cu128",
                "embedded_python": False,
                "argv": config.argv(),
            },
            "devices": [
                {
                    "name": "cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync",
                    "type": "cuda",
                    "index": 0,
                    "vram_total": 25_386_352_640,
                    "vram_free": 24_108_597_248,
                    "torch_vram_total": 0,
                    "torch_vram_free": 0,
                }
            ],
        }
    )


async def list_model_folders(request: Request) -> Response:
    """Every registered models folder."""
    extra = sorted(set(_server(request).config.models) - set(MODEL_FOLDERS))
    return JSONResponse([*MODEL_FOLDERS, *extra])


async def list_models(request: Request) -> Response:
    """The files in one models folder; 404 for a folder ComfyUI does not know."""
    server = _server(request)
    folder = request.path_params["folder"]
    if folder not in MODEL_FOLDERS and folder not in server.config.models:
        return Response(status_code=404)
    return JSONResponse(sorted(server.installed().get(folder, [])))


async def get_object_info(request: Request) -> Response:
    """Every node class with file lists filled from disk."""
    server = _server(request)
    installed, uploads = server.installed(), sorted(server.uploads())
    return JSONResponse({name: object_info(name, installed, uploads) for name in classes()})


async def get_object_info_node(request: Request) -> Response:
    """One node class, or {} for a class the server does not have."""
    server = _server(request)
    name = request.path_params["node_class"]
    if name not in classes():
        return JSONResponse({})
    return JSONResponse({name: object_info(name, server.installed(), sorted(server.uploads()))})


async def get_prompt(request: Request) -> Response:
    """The queue size, as `{"exec_info": {"queue_remaining": n}}`."""
    return JSONResponse(_server(request).queue_info())


async def post_prompt(request: Request) -> Response:
    """Validate and queue a prompt; 400 with ComfyUI's error shapes when refused."""
    server = _server(request)
    try:
        body = await _json_body(request)
        return await _queue(server, body)
    except (ValueError, TypeError, ServerCrash):
        return _crash()


async def _queue(server: ComfyServer, body: Any) -> Response:
    if not isinstance(body, dict | list | str):
        raise TypeError("argument is not iterable")
    if not isinstance(body, dict) or "prompt" not in body:
        error = top_error("no_prompt", "No prompt provided", "No prompt provided")
        return JSONResponse({"error": error, "node_errors": {}}, status_code=400)
    if "number" in body:
        number: float = float(body["number"])
    else:
        number = server.next_number(bool(body.get("front")))
    prompt = body["prompt"]
    prompt_id = str(body.get("prompt_id") or new_prompt_id())
    verdict = validate_prompt(prompt, installed=server.installed(), uploads=server.uploads())
    extra_data = body.get("extra_data", {})
    if not isinstance(extra_data, dict):
        raise TypeError("extra_data is not an object")
    if "client_id" in body:
        extra_data["client_id"] = body["client_id"]
    if verdict.error is not None:
        return JSONResponse(
            {"error": verdict.error, "node_errors": verdict.node_errors}, status_code=400
        )
    extra_data["create_time"] = ms()
    await server.put(QueueItem(number, prompt_id, prompt, extra_data, verdict.outputs))
    return JSONResponse(
        {"prompt_id": prompt_id, "number": number, "node_errors": verdict.node_errors}
    )


async def get_queue(request: Request) -> Response:
    """The running and pending prompts, each `[number, id, prompt, extra_data, outputs]`."""
    server = _server(request)
    running = [server.running.wire()] if server.running is not None else []
    return JSONResponse(
        {"queue_running": running, "queue_pending": [item.wire() for item in server.pending]}
    )


def _clear_or_delete(
    apply: Callable[[ComfyServer, bool, set[str]], Awaitable[None]],
) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint taking a `{"clear": true}` / `{"delete": [ids]}` body: `apply(server,
    clear, ids)`, then 200; bad JSON crashes as ComfyUI does, a body not an object clears
    and deletes nothing."""

    async def endpoint(request: Request) -> Response:
        try:
            body = await _json_body(request)
        except ValueError:
            return _crash()
        if not isinstance(body, dict):
            body = {}
        doomed = {str(prompt_id) for prompt_id in body.get("delete", [])}
        await apply(_server(request), bool(body.get("clear")), doomed)
        return Response(status_code=200)

    return endpoint


async def _clear_queue(server: ComfyServer, clear: bool, doomed: set[str]) -> None:
    """`{"clear": true}` empties the pending queue; `{"delete": [ids]}` removes those."""
    server.pending[:] = [
        item for item in server.pending if not clear and item.prompt_id not in doomed
    ]
    await server.broadcast_status()


post_queue = _clear_or_delete(_clear_queue)


async def get_history(request: Request) -> Response:
    """History entries, oldest first; `max_items` keeps the newest N, `offset` skips."""
    history = _server(request).history
    try:
        raw_max, raw_offset = (
            request.query_params.get("max_items"),
            request.query_params.get("offset"),
        )
        max_items = None if raw_max is None else int(raw_max)
        offset = -1 if raw_offset is None else int(raw_offset)
    except ValueError:
        return _crash()
    if offset < 0 and max_items is not None:
        offset = len(history) - max_items
    out: dict[str, Any] = {}
    for index, (prompt_id, entry) in enumerate(history.items()):
        if index < offset:
            continue
        out[prompt_id] = entry
        if max_items is not None and len(out) >= max_items:
            break
    return JSONResponse(out)


async def get_history_entry(request: Request) -> Response:
    """`{id: entry}` once the prompt has finished, `{}` before (or for an unknown id)."""
    prompt_id = request.path_params["prompt_id"]
    entry = _server(request).history.get(prompt_id)
    return JSONResponse({prompt_id: entry} if entry is not None else {})


async def _clear_history(server: ComfyServer, clear: bool, doomed: set[str]) -> None:
    """`{"clear": true}` or `{"delete": [ids]}` on the history."""
    for prompt_id in list(server.history) if clear else doomed:
        server.history.pop(prompt_id, None)


post_history = _clear_or_delete(_clear_history)


async def view(request: Request) -> Response:
    """A file from the output, input or temp folder, typed by its name."""
    query = request.query_params
    name = query.get("filename")
    if name is None:
        return Response(status_code=404)
    if not name or name.startswith("/") or ".." in name:
        return Response(status_code=400)
    kind = query.get("type", "output")
    if kind not in ("output", "input", "temp"):
        return Response(status_code=400)
    subfolder = query.get("subfolder", "")
    if ".." in subfolder or subfolder.startswith("/"):
        return Response(status_code=403)
    data = _server(request).file(kind, subfolder, name.rsplit("/", 1)[-1])
    if data is None:
        return Response(status_code=404)
    media = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return Response(data, media_type=media, headers={"Content-Disposition": f'filename="{name}"'})


async def upload_image(request: Request) -> Response:
    """Store an uploaded image; without `overwrite` a new name is found for a different file
    of the same name ("x (1).png"), an identical one is kept."""
    server = _server(request)
    form = await request.form()
    upload = form.get("image")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return Response(status_code=400)
    data = await upload.read()
    await upload.close()
    kind = str(form.get("type") or "input")
    if kind not in ("input", "temp", "output"):
        kind = "input"
    subfolder = str(form.get("subfolder") or "")
    name = upload.filename
    if "/" in name or ".." in name or ".." in subfolder or subfolder.startswith("/"):
        return Response(status_code=400)
    if str(form.get("overwrite") or "") not in ("true", "1"):
        name = _free_name(server, kind, subfolder, name, data)
    server.upload((kind, subfolder, name), data)
    return JSONResponse({"name": name, "subfolder": subfolder, "type": kind})


def _free_name(server: ComfyServer, kind: str, subfolder: str, name: str, data: bytes) -> str:
    stem, dot, extension = name.rpartition(".")
    if not dot:
        stem, extension = name, ""
    candidate, counter = name, 1
    while (kind, subfolder, candidate) in server.files:
        existing = server.files[(kind, subfolder, candidate)]
        if hashlib.sha256(existing).digest() == hashlib.sha256(data).digest():
            break
        candidate = f"{stem} ({counter}){dot}{extension}"
        counter += 1
    return candidate


async def interrupt(request: Request) -> Response:
    """Stop the running prompt; with `{"prompt_id": ...}` only if that one is running."""
    server = _server(request)
    try:
        body = await _json_body(request)
    except ValueError:
        body = {}
    wanted = body.get("prompt_id") if isinstance(body, dict) else None
    running = server.running
    if running is not None and (not wanted or wanted == running.prompt_id):
        server.interrupted.add(running.prompt_id)
    return Response(status_code=200)


async def free(request: Request) -> Response:
    """`{"free_memory": true}` drops every cached node output."""
    server = _server(request)
    try:
        body = await _json_body(request)
    except ValueError:
        return _crash()
    if isinstance(body, dict) and body.get("free_memory"):
        server.cache.clear()
    return Response(status_code=200)


async def websocket(socket: WebSocket) -> None:
    """`/ws`: a `status` greeting with the client id, then every message for this client."""
    server = _server(socket)
    sid = socket.query_params.get("clientId") or uuid.uuid4().hex
    await socket.accept()
    server.sockets.by_sid[sid] = socket
    await socket.send_text(
        json.dumps({"type": "status", "data": {"status": server.queue_info(), "sid": sid}})
    )
    running = server.running
    if running is not None and running.client_id == sid and server.last_node_id is not None:
        await socket.send_text(
            json.dumps({"type": "executing", "data": {"node": server.last_node_id}})
        )
    try:
        while True:
            await socket.receive_text()
    except WebSocketDisconnect:
        if server.sockets.by_sid.get(sid) is socket:
            server.sockets.by_sid.pop(sid, None)


async def set_faults(request: Request) -> Response:
    """Switch faults: any field of ComfySimConfig, plus `unhealthy_for_s` (from now)."""
    server = _server(request)
    body = await request.json()
    for name, value in body.items():
        if name == "unhealthy_for_s":
            server.config.unhealthy_until = server.now() + float(value)
        elif hasattr(server.config, name):
            setattr(server.config, name, value)
    return JSONResponse({"ok": True})


ROUTES: list[BaseRoute] = [
    Route("/system_stats", system_stats),
    Route("/models", list_model_folders),
    Route("/models/{folder}", list_models),
    Route("/object_info", get_object_info),
    Route("/object_info/{node_class}", get_object_info_node),
    Route("/prompt", get_prompt, methods=["GET"]),
    Route("/prompt", post_prompt, methods=["POST"]),
    Route("/queue", get_queue, methods=["GET"]),
    Route("/queue", post_queue, methods=["POST"]),
    Route("/history", get_history, methods=["GET"]),
    Route("/history", post_history, methods=["POST"]),
    Route("/history/{prompt_id}", get_history_entry),
    Route("/view", view),
    Route("/upload/image", upload_image, methods=["POST"]),
    Route("/interrupt", interrupt, methods=["POST"]),
    Route("/free", free, methods=["POST"]),
    WebSocketRoute("/ws", websocket),
]


def create_app(config: ComfySimConfig | None = None) -> Starlette:
    """A simulated ComfyUI server for `config` (defaults: healthy, every model installed)."""
    app = Starlette(
        routes=[
            *ROUTES,
            Mount("/api", routes=ROUTES),
            Route("/_sim/faults", set_faults, methods=["POST"]),
        ],
        middleware=[Middleware(ProxyAuth), Middleware(UpstreamFaults)],
    )
    app.state.comfy = ComfyServer(config or ComfySimConfig())
    return app
