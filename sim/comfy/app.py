"""A ComfyUI server in miniature: the HTTP routes and WebSocket events of the real one.

It validates graphs the way ComfyUI does (unknown classes, missing inputs, links to nowhere or
of the wrong type, model files that are not installed), runs one prompt at a time, streams
`status`, `execution_start`, `execution_cached`, `executing`, `progress` (plus binary preview
frames), `executed`, `execution_success` / `execution_error` / `execution_interrupted` to the
submitting client's `/ws`, and writes real PNG (or animated WebP) outputs that depend on seed
and prompt and carry the graph as ComfyUI's `prompt` metadata. Messages and error shapes follow
ComfyUI's `server.py` and `execution.py`. Faults are switched at `POST /_sim/faults`.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import struct
import textwrap
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, ImageDraw, PngImagePlugin
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from sim.comfy.nodes import LINK_TYPES, NODES

DEFAULT_MODELS = {
    "checkpoints": ["sdxl_base_1.0.safetensors", "realvis_xl_4.0.safetensors"],
    "diffusion_models": ["wan2.1_t2v_1.3B_fp16.safetensors"],
    "text_encoders": ["umt5_xxl_fp8_e4m3fn_scaled.safetensors"],
    "vae": ["wan_2.1_vae.safetensors"],
    "ipadapter": ["ip-adapter-plus_sdxl_vit-h.safetensors"],
    "clip_vision": ["CLIP-ViT-H-14-laion2B-s32B-b79K.safetensors"],
}
PREVIEW_IMAGE = 1
"""ComfyUI's binary event type for a preview frame: `>I` event, `>I` format, image bytes."""
PREVIEW_JPEG = 1
CACHEABLE = {"CheckpointLoaderSimple", "UNETLoader", "CLIPLoader", "VAELoader", "LoadImage"}
"""Loader nodes whose outputs the simulator keeps between prompts, as ComfyUI's cache does."""
EXIF_MODEL = 0x0110
"""The EXIF tag ComfyUI's SaveAnimatedWEBP writes `prompt:<graph JSON>` into."""


@dataclass
class ComfySimConfig:
    """What the simulated server has installed and how it misbehaves."""

    models: dict[str, list[str]] = field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_MODELS.items()}
    )
    step_delay_s: float = 0.0
    unhealthy: bool = False
    """`/system_stats` answers 503 (ComfyUI never came up)."""
    unhealthy_until: float = 0.0
    """Monotonic time before which it is unhealthy (a slow start)."""
    fail_at_step: int | None = None
    """The sampler raises at this step: `execution_error`, history status error."""
    hang: bool = False
    """A prompt starts and never finishes."""
    drop_ws: bool = False
    """Close every WebSocket right after the first progress event."""
    previews: bool = True
    """Send a small JPEG preview frame (binary) after each sampler step."""
    max_side: int = 4096


@dataclass
class _Run:
    prompt_id: str
    number: int
    graph: dict[str, Any]
    client_id: str | None


class ComfySim:
    """State of one simulated ComfyUI server."""

    def __init__(self, config: ComfySimConfig) -> None:
        self.config = config
        self.history: dict[str, dict[str, Any]] = {}
        self.files: dict[tuple[str, str, str], bytes] = {}
        self.sockets: dict[str, WebSocket] = {}
        self.queue: asyncio.Queue[_Run] | None = None
        self.worker: asyncio.Task[None] | None = None
        self.running: _Run | None = None
        self.pending: list[_Run] = []
        self.counter = 0
        self.interrupted: set[str] = set()
        self.loaded: dict[str, str] = {}
        """Node id -> inputs signature of the loader nodes the last prompt ran (the cache)."""

    def healthy(self) -> bool:
        return not self.config.unhealthy and time.monotonic() >= self.config.unhealthy_until

    # ---- validation -----------------------------------------------------------------------

    def validate(self, graph: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """None when the graph is valid, else ComfyUI's (error, node_errors) pair."""
        if not isinstance(graph, dict) or not graph:
            return _top_error("invalid_prompt", "Prompt is not a non-empty object"), {}
        for node_id, node in graph.items():
            class_type = node.get("class_type") if isinstance(node, dict) else None
            if class_type not in NODES:
                return (
                    _top_error(
                        "invalid_prompt",
                        f"Cannot execute because node {class_type} does not exist.",
                        f"Node ID '#{node_id}'",
                    ),
                    {},
                )
        outputs = [nid for nid, node in graph.items() if NODES[node["class_type"]].output_node]
        if not outputs:
            return _top_error("prompt_no_outputs", "Prompt has no outputs"), {}
        node_errors: dict[str, Any] = {}
        for node_id, node in graph.items():
            errors = self._node_errors(graph, node)
            if errors:
                node_errors[node_id] = {
                    "errors": errors,
                    "dependent_outputs": outputs,
                    "class_type": node["class_type"],
                }
        if node_errors:
            details = "\n".join(
                f"{item['message']}: {item['details']}"
                for entry in node_errors.values()
                for item in entry["errors"]
            )
            error = _top_error(
                "prompt_outputs_failed_validation", "Prompt outputs failed validation", details
            )
            return error, node_errors
        return None

    def _node_errors(self, graph: dict[str, Any], node: dict[str, Any]) -> list[dict[str, Any]]:
        spec = NODES[node["class_type"]]
        inputs = node.get("inputs") or {}
        errors = []
        for name, kind in spec.inputs.items():
            if name not in inputs:
                errors.append(
                    _input_error("required_input_missing", "Required input is missing", name)
                )
                continue
            value = inputs[name]
            if kind in LINK_TYPES:
                errors += _link_errors(graph, name, kind, value)
            elif kind == "FILE" and value not in self.config.models.get(
                spec.model_folder or "", []
            ):
                installed = self.config.models.get(spec.model_folder or "", [])
                errors.append(
                    _input_error(
                        "value_not_in_list",
                        "Value not in list",
                        name,
                        f"{name}: '{value}' not in {installed}",
                        received_value=value,
                        input_config=[installed, {}],
                    )
                )
            elif kind == "UPLOAD" and ("input", "", str(value)) not in self.files:
                # LoadImage.VALIDATE_INPUTS answers this string; ComfyUI wraps it.
                errors.append(
                    _input_error(
                        "custom_validation_failed",
                        "Custom validation failed for node",
                        name,
                        f"{name} - Invalid image file: {value}",
                    )
                )
            elif kind in ("INT", "FLOAT") and not isinstance(value, int | float):
                errors.append(
                    _input_error(
                        "invalid_input_type",
                        f"Failed to convert an input value to a {kind} value",
                        name,
                        f"{name}, {value}, could not convert {value!r}",
                        received_value=value,
                    )
                )
            elif name in ("width", "height") and value > self.config.max_side:
                errors.append(
                    _input_error(
                        "value_bigger_than_max",
                        f"Value {value} bigger than max of {self.config.max_side}",
                        name,
                        received_value=value,
                    )
                )
            elif name in ("width", "height") and value < 16:
                errors.append(
                    _input_error(
                        "value_smaller_than_min",
                        f"Value {value} smaller than min of 16",
                        name,
                        received_value=value,
                    )
                )
        return errors

    # ---- execution ------------------------------------------------------------------------

    async def submit(self, graph: dict[str, Any], client_id: str | None) -> _Run:
        if self.queue is None:
            self.queue = asyncio.Queue()
            self.worker = asyncio.get_running_loop().create_task(self._work())
        self.counter += 1
        run = _Run(str(uuid.uuid4()), self.counter, graph, client_id)
        self.pending.append(run)
        await self.queue.put(run)
        return run

    async def _work(self) -> None:
        assert self.queue is not None
        while True:
            run = await self.queue.get()
            self.pending.remove(run)
            self.running = run
            try:
                await self._execute(run)
            finally:
                self.running = None
                await self._send(
                    run.client_id,
                    "status",
                    {"status": {"exec_info": {"queue_remaining": len(self.pending)}}},
                )

    async def _send(self, client_id: str | None, kind: str, data: dict[str, Any]) -> None:
        socket = self.sockets.get(client_id or "")
        if socket is None:
            return
        try:
            await socket.send_text(json.dumps({"type": kind, "data": data}))
        except (RuntimeError, WebSocketDisconnect):
            self.sockets.pop(client_id or "", None)

    async def _send_preview(self, client_id: str | None, jpeg: bytes) -> None:
        """A binary preview frame, framed as ComfyUI's `send_image` frames it."""
        socket = self.sockets.get(client_id or "")
        if socket is None:
            return
        try:
            await socket.send_bytes(struct.pack(">II", PREVIEW_IMAGE, PREVIEW_JPEG) + jpeg)
        except (RuntimeError, WebSocketDisconnect):
            self.sockets.pop(client_id or "", None)

    async def _message(self, run: _Run, kind: str, data: dict[str, Any], log: list[Any]) -> None:
        """Send a status message and keep it for the history entry, stamped like ComfyUI's."""
        data = {**data, "prompt_id": run.prompt_id, "timestamp": _ms()}
        log.append([kind, data])
        await self._send(run.client_id, kind, data)

    async def _execute(self, run: _Run) -> None:
        pid, graph, client = run.prompt_id, run.graph, run.client_id
        messages: list[Any] = []
        await self._message(run, "execution_start", {}, messages)
        signatures = {
            node_id: json.dumps(node, sort_keys=True)
            for node_id, node in graph.items()
            if node["class_type"] in CACHEABLE
        }
        cached = sorted(nid for nid, sig in signatures.items() if self.loaded.get(nid) == sig)
        await self._message(run, "execution_cached", {"nodes": cached}, messages)
        self.loaded = signatures
        outputs: dict[str, Any] = {}
        executed: list[str] = list(cached)
        for node_id in _topological(graph):
            if node_id in cached:
                continue
            node = graph[node_id]
            await self._send(
                client, "executing", {"node": node_id, "display_node": node_id, "prompt_id": pid}
            )
            failure = self._missing_model(node)
            if failure is not None:
                await self._fail(run, node_id, node, executed, failure, messages)
                return
            if node["class_type"] == "KSampler":
                if await self._sample(run, node_id, node, executed, messages):
                    return
            if NODES[node["class_type"]].output_node:
                output = self._save(graph, node_id, node)
                outputs[node_id] = output
                await self._send(
                    client,
                    "executed",
                    {"node": node_id, "display_node": node_id, "output": output, "prompt_id": pid},
                )
            executed.append(node_id)
        await self._message(run, "execution_success", {}, messages)
        await self._send(client, "executing", {"node": None, "prompt_id": pid})
        self._record(run, outputs, "success", messages)

    def _missing_model(self, node: dict[str, Any]) -> tuple[str, str] | None:
        """(exception type, message) ComfyUI_IPAdapter_plus raises when its files are absent."""
        if node["class_type"] != "IPAdapterUnifiedLoader":
            return None
        if not self.config.models.get("clip_vision"):
            return "Exception", "ClipVision model not found."
        if not self.config.models.get("ipadapter"):
            return "Exception", "IPAdapter model not found."
        return None

    async def _fail(
        self,
        run: _Run,
        node_id: str,
        node: dict[str, Any],
        executed: list[str],
        failure: tuple[str, str],
        messages: list[Any],
    ) -> None:
        """`execution_error` for `node_id`, in the shape ComfyUI's executor reports it."""
        self.loaded = {}  # ComfyUI drops cached outputs of a failed prompt
        exception_type, message = failure
        data = {
            "node_id": node_id,
            "node_type": node["class_type"],
            "executed": list(executed),
            "exception_message": message,
            "exception_type": exception_type,
            "traceback": [f'  File "execution.py", line 496, in execute\n    raise {message}\n'],
            "current_inputs": {name: [value] for name, value in (node.get("inputs") or {}).items()},
            "current_outputs": list(executed),
        }
        await self._message(run, "execution_error", data, messages)
        self._record(run, {}, "error", messages)

    async def _sample(
        self,
        run: _Run,
        node_id: str,
        node: dict[str, Any],
        executed: list[str],
        messages: list[Any],
    ) -> bool:
        """Stream progress (and previews); True when the run ended here (error, interrupt)."""
        steps = int(node["inputs"]["steps"])
        for step in range(1, steps + 1):
            if run.prompt_id in self.interrupted or self.config.hang:
                while self.config.hang and run.prompt_id not in self.interrupted:
                    await asyncio.sleep(0.05)
                data = {"node_id": node_id, "node_type": "KSampler", "executed": list(executed)}
                await self._message(run, "execution_interrupted", data, messages)
                self._record(run, {}, "error", messages)
                return True
            if self.config.fail_at_step == step:
                failure = (
                    "torch.OutOfMemoryError",
                    "CUDA out of memory. Tried to allocate 2.00 GiB\n"
                    "This error means you ran out of memory on your GPU.",
                )
                await self._fail(run, node_id, node, executed, failure, messages)
                return True
            if self.config.step_delay_s:
                await asyncio.sleep(self.config.step_delay_s)
            await self._send(
                run.client_id,
                "progress",
                {"value": step, "max": steps, "prompt_id": run.prompt_id, "node": node_id},
            )
            if self.config.previews:
                seed = int(node["inputs"].get("seed", 0))
                await self._send_preview(run.client_id, _preview(seed, step))
            if self.config.drop_ws and step == 1:
                socket = self.sockets.pop(run.client_id or "", None)
                if socket is not None:
                    await socket.close()
        return False

    def _save(self, graph: dict[str, Any], node_id: str, node: dict[str, Any]) -> dict[str, Any]:
        inputs = node["inputs"]
        latent = _find_upstream(graph, node_id, ("EmptyLatentImage", "EmptyHunyuanLatentVideo"))
        sampler = _find_upstream(graph, node_id, ("KSampler",))
        size = (
            (int(latent["inputs"]["width"]), int(latent["inputs"]["height"]))
            if latent
            else (512, 512)
        )
        seed = int(sampler["inputs"]["seed"]) if sampler else 0
        text = json.dumps(graph, sort_keys=True)
        prefix = str(inputs.get("filename_prefix", "ComfyUI"))
        images = []
        if node["class_type"] == "SaveAnimatedWEBP":
            frames = int(latent["inputs"].get("length", 8)) if latent else 8
            data = _animated_webp(size, seed, text, frames, float(inputs.get("fps", 16)))
            name = f"{prefix}_{len(self.files):05}_.webp"
            self.files[("output", "", name)] = data
            images.append({"filename": name, "subfolder": "", "type": "output"})
            return {"images": images, "animated": [True]}
        batch = int(latent["inputs"].get("batch_size", 1)) if latent else 1
        for index in range(batch):
            data = _png(size, seed + index, text, _positive_text(graph, sampler))
            name = f"{prefix}_{len(self.files):05}_.png"
            self.files[("output", "", name)] = data
            images.append({"filename": name, "subfolder": "", "type": "output"})
        return {"images": images}

    def _record(self, run: _Run, outputs: dict[str, Any], status: str, messages: list[Any]) -> None:
        self.history[run.prompt_id] = {
            "prompt": [
                run.number,
                run.prompt_id,
                run.graph,
                {"client_id": run.client_id},
                list(outputs),
            ],
            "outputs": outputs,
            "status": {
                "status_str": status,
                "completed": status == "success",
                "messages": messages,
            },
            "meta": {},
        }


def create_app(config: ComfySimConfig | None = None) -> Starlette:
    """A simulated ComfyUI server for `config` (defaults: healthy, every model installed)."""
    sim = ComfySim(config or ComfySimConfig())

    async def system_stats(_request: Request) -> Response:
        if not sim.healthy():
            return Response("ComfyUI is starting", status_code=503)
        return JSONResponse(
            {
                "system": {
                    "os": "posix",
                    "python_version": "3.12.3",
                    "embedded_python": False,
                    "comfyui_version": "0.3.60",
                    "pytorch_version": "2.8.0+cu128",
                    "argv": ["main.py", "--listen", "0.0.0.0", "--port", "8188"],
                    "ram_total": 67_430_727_680,
                    "ram_free": 60_112_345_088,
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
                    },
                ],
            }
        )

    async def models(_request: Request) -> Response:
        return JSONResponse(sorted(sim.config.models))

    async def models_in(request: Request) -> Response:
        folder = request.path_params["folder"]
        if folder not in sim.config.models:
            return Response(status_code=404)
        return JSONResponse(sim.config.models[folder])

    async def object_info(_request: Request) -> Response:
        info = {}
        for name, spec in NODES.items():
            required: dict[str, Any] = {}
            for input_name, kind in spec.inputs.items():
                if kind == "FILE":
                    required[input_name] = [sim.config.models.get(spec.model_folder or "", [])]
                else:
                    required[input_name] = [kind]
            info[name] = {
                "input": {"required": required},
                "output": list(spec.outputs),
                "output_node": spec.output_node,
                "name": name,
                "display_name": name,
                "category": "sim",
            }
        return JSONResponse(info)

    async def post_prompt(request: Request) -> Response:
        if not sim.healthy():
            return Response("ComfyUI is starting", status_code=503)
        try:
            body = await request.json()
        except (json.JSONDecodeError, ValueError):
            return JSONResponse(
                {"error": _top_error("invalid_prompt", "Invalid JSON"), "node_errors": {}},
                status_code=400,
            )
        if not isinstance(body, dict) or "prompt" not in body:
            error = _top_error("no_prompt", "No prompt provided", "No prompt provided")
            return JSONResponse({"error": error, "node_errors": {}}, status_code=400)
        graph = body["prompt"]
        problem = sim.validate(graph)
        if problem is not None:
            error, node_errors = problem
            return JSONResponse({"error": error, "node_errors": node_errors}, status_code=400)
        run = await sim.submit(graph, body.get("client_id"))
        return JSONResponse({"prompt_id": run.prompt_id, "number": run.number, "node_errors": {}})

    async def get_history(request: Request) -> Response:
        prompt_id = request.path_params["prompt_id"]
        entry = sim.history.get(prompt_id)
        return JSONResponse({prompt_id: entry} if entry else {})

    async def get_queue(_request: Request) -> Response:
        running = (
            [[sim.running.number, sim.running.prompt_id, sim.running.graph, {}, []]]
            if sim.running
            else []
        )
        pending = [[r.number, r.prompt_id, r.graph, {}, []] for r in sim.pending]
        return JSONResponse({"queue_running": running, "queue_pending": pending})

    async def view(request: Request) -> Response:
        key = (
            request.query_params.get("type", "output"),
            request.query_params.get("subfolder", ""),
            request.query_params.get("filename", ""),
        )
        data = sim.files.get(key)
        if data is None:
            return Response(status_code=404)
        media = "image/webp" if key[2].endswith(".webp") else "image/png"
        return Response(data, media_type=media)

    async def upload_image(request: Request) -> Response:
        form = await request.form()
        upload = form.get("image")
        if upload is None or isinstance(upload, str):
            return Response(status_code=400)
        data = await upload.read()
        await upload.close()
        name = str(upload.filename or "upload.png").replace("/", "_")
        subfolder = str(form.get("subfolder") or "")
        kind = str(form.get("type") or "input")
        sim.files[(kind, subfolder, name)] = data
        return JSONResponse({"name": name, "subfolder": subfolder, "type": kind})

    async def interrupt(request: Request) -> Response:
        """Stop the running prompt; with `{"prompt_id": ...}` only if that one is running."""
        try:
            body = await request.json()
        except (json.JSONDecodeError, ValueError):
            body = {}
        wanted = body.get("prompt_id") if isinstance(body, dict) else None
        running = sim.running
        if running is not None and wanted in (None, running.prompt_id):
            sim.interrupted.add(running.prompt_id)
        return Response(status_code=200)

    async def free(_request: Request) -> Response:
        return Response(status_code=200)

    async def websocket(socket: WebSocket) -> None:
        client_id = socket.query_params.get("clientId") or uuid.uuid4().hex
        await socket.accept()
        sim.sockets[client_id] = socket
        await socket.send_text(
            json.dumps(
                {
                    "type": "status",
                    "data": {
                        "status": {"exec_info": {"queue_remaining": len(sim.pending)}},
                        "sid": client_id,
                    },
                }
            )
        )
        try:
            while True:
                await socket.receive_text()
        except WebSocketDisconnect:
            if sim.sockets.get(client_id) is socket:
                sim.sockets.pop(client_id, None)

    async def set_faults(request: Request) -> Response:
        body = await request.json()
        for name, value in body.items():
            if name == "unhealthy_for_s":
                sim.config.unhealthy_until = time.monotonic() + float(value)
            elif hasattr(sim.config, name):
                setattr(sim.config, name, value)
        return JSONResponse({"ok": True})

    app = Starlette(
        routes=[
            Route("/system_stats", system_stats),
            Route("/models", models),
            Route("/models/{folder}", models_in),
            Route("/object_info", object_info),
            Route("/prompt", post_prompt, methods=["POST"]),
            Route("/history/{prompt_id}", get_history),
            Route("/queue", get_queue),
            Route("/view", view),
            Route("/upload/image", upload_image, methods=["POST"]),
            Route("/interrupt", interrupt, methods=["POST"]),
            Route("/free", free, methods=["POST"]),
            WebSocketRoute("/ws", websocket),
            Route("/_sim/faults", set_faults, methods=["POST"]),
        ]
    )
    app.state.comfy = sim
    return app


def _top_error(kind: str, message: str, details: str = "") -> dict[str, Any]:
    return {"type": kind, "message": message, "details": details, "extra_info": {}}


def _input_error(
    kind: str, message: str, name: str, details: str | None = None, **extra: Any
) -> dict[str, Any]:
    """One entry of a node's `errors`, shaped as ComfyUI's `validate_inputs` builds it."""
    return {
        "type": kind,
        "message": message,
        "details": details or name,
        "extra_info": {"input_name": name, **extra},
    }


def _link_errors(graph: dict[str, Any], name: str, kind: str, value: Any) -> list[dict[str, Any]]:
    """What ComfyUI says about a linked input: malformed, dangling, or of the wrong type."""
    if not isinstance(value, list) or len(value) != 2:
        return [
            _input_error(
                "bad_linked_input",
                "Bad linked input, must be a length-2 list of [node_id, slot_index]",
                name,
                received_value=value,
            )
        ]
    source, slot = str(value[0]), value[1]
    if source not in graph:
        # ComfyUI looks the node up unguarded; the KeyError becomes this reason.
        return [
            {
                "type": "exception_during_validation",
                "message": "Exception when validating node",
                "details": repr(source),
                "extra_info": {"exception_type": "KeyError", "traceback": []},
            }
        ]
    outputs = NODES[graph[source]["class_type"]].outputs
    if not isinstance(slot, int) or not 0 <= slot < len(outputs):
        return [
            _input_error(
                "exception_during_inner_validation",
                "Exception when validating inner node",
                name,
                "tuple index out of range",
                linked_node=value,
            )
        ]
    if outputs[slot] != kind:
        return [
            _input_error(
                "return_type_mismatch",
                "Return type mismatch between linked nodes",
                name,
                f"{name}, received_type({outputs[slot]}) mismatch input_type({kind})",
                received_type=outputs[slot],
                linked_node=value,
            )
        ]
    return []


def _ms() -> int:
    return int(time.time() * 1000)


def _topological(graph: dict[str, Any]) -> list[str]:
    order: list[str] = []
    seen: set[str] = set()

    def visit(node_id: str) -> None:
        if node_id in seen:
            return
        seen.add(node_id)
        for value in (graph[node_id].get("inputs") or {}).values():
            if isinstance(value, list) and len(value) == 2 and str(value[0]) in graph:
                visit(str(value[0]))
        order.append(node_id)

    for node_id in sorted(graph):
        visit(node_id)
    return order


def _find_upstream(
    graph: dict[str, Any], start: str, classes: tuple[str, ...]
) -> dict[str, Any] | None:
    stack, seen = [start], set()
    while stack:
        node_id = stack.pop()
        if node_id in seen:
            continue
        seen.add(node_id)
        node: dict[str, Any] = graph[node_id]
        if node["class_type"] in classes:
            return node
        for value in (node.get("inputs") or {}).values():
            if isinstance(value, list) and len(value) == 2 and str(value[0]) in graph:
                stack.append(str(value[0]))
    return None


def _positive_text(graph: dict[str, Any], sampler: dict[str, Any] | None) -> str:
    """The text of the sampler's positive prompt, for the caption."""
    if sampler is None:
        return ""
    link = sampler["inputs"].get("positive")
    node = graph.get(str(link[0])) if isinstance(link, list) else None
    return str((node or {}).get("inputs", {}).get("text", ""))


def _colours(seed: int, text: str) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    digest = hashlib.sha256(f"{seed}:{text}".encode()).digest()
    return (digest[0], digest[1], digest[2]), (digest[3], digest[4], digest[5])


def _frame(size: tuple[int, int], seed: int, text: str, shift: int = 0) -> Image.Image:
    start, end = _colours(seed, text)
    gradient = Image.linear_gradient("L").rotate(shift % 360).resize(size)
    return Image.composite(Image.new("RGB", size, start), Image.new("RGB", size, end), gradient)


def _png(size: tuple[int, int], seed: int, text: str, caption: str = "") -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("prompt", text)
    image = _frame(size, seed, text)
    draw = ImageDraw.Draw(image)
    lines = ["SIMULATED", f"seed {seed}", *textwrap.wrap(caption, 48)[:6]]
    for index, line in enumerate(lines):
        draw.text((16, 16 + 14 * index), line, fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def _preview(seed: int, step: int) -> bytes:
    """A small JPEG latent preview for one sampler step."""
    out = io.BytesIO()
    _frame((64, 64), seed, "preview", shift=step * 20).save(out, format="JPEG", quality=70)
    return out.getvalue()


def _animated_webp(size: tuple[int, int], seed: int, text: str, frames: int, fps: float) -> bytes:
    images = [_frame(size, seed, text, shift=index * 15) for index in range(max(frames, 1))]
    exif = Image.Exif()
    exif[EXIF_MODEL] = f"prompt:{text}"  # where ComfyUI's SaveAnimatedWEBP puts the graph
    out = io.BytesIO()
    images[0].save(
        out,
        format="WEBP",
        save_all=True,
        append_images=images[1:],
        duration=int(1000 / max(fps, 1)),
        exif=exif,
        quality=60,
        method=0,
    )
    return out.getvalue()
