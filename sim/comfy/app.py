"""A ComfyUI server in miniature: the HTTP routes and WebSocket events of the real one.

It validates graphs the way ComfyUI does (unknown classes, missing inputs, links to nowhere,
model files that are not installed), runs one prompt at a time, streams `executing`,
`progress`, `executed`, `execution_success` / `execution_error` to the submitting client's
`/ws`, and writes real PNG (or animated WebP) outputs that depend on seed and prompt.
Faults are switched at `POST /_sim/faults`.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
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
}


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
            error = _top_error(
                "prompt_outputs_failed_validation", "Prompt outputs failed validation"
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
                if not (
                    isinstance(value, list)
                    and len(value) == 2
                    and str(value[0]) in graph
                    and isinstance(value[1], int)
                    and value[1] < len(NODES[graph[str(value[0])]["class_type"]].outputs)
                ):
                    errors.append(_input_error("bad_linked_input", "Bad linked input", name))
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
                    )
                )
            elif kind == "UPLOAD" and ("input", "", str(value)) not in self.files:
                errors.append(
                    _input_error(
                        "custom_validation_failed",
                        "Invalid image file",
                        name,
                        f"Invalid image file: {value}",
                    )
                )
            elif kind in ("INT", "FLOAT") and not isinstance(value, int | float):
                errors.append(
                    _input_error(
                        "invalid_input_type",
                        f"Failed to convert an input value to a {kind} value",
                        name,
                    )
                )
            elif name in ("width", "height") and not 16 <= value <= self.config.max_side:
                errors.append(_input_error("value_bigger_than_max", "Value bigger than max", name))
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

    async def _execute(self, run: _Run) -> None:
        pid, graph, client = run.prompt_id, run.graph, run.client_id
        messages: list[Any] = [["execution_start", {"prompt_id": pid, "timestamp": _ms()}]]
        await self._send(client, "execution_start", {"prompt_id": pid, "timestamp": _ms()})
        outputs: dict[str, Any] = {}
        for node_id in _topological(graph):
            node = graph[node_id]
            await self._send(
                client, "executing", {"node": node_id, "display_node": node_id, "prompt_id": pid}
            )
            if node["class_type"] == "KSampler":
                failed = await self._sample(run, node_id, node, messages)
                if failed:
                    return
            spec = NODES[node["class_type"]]
            if spec.output_node:
                output = self._save(graph, node_id, node)
                outputs[node_id] = output
                await self._send(
                    client,
                    "executed",
                    {"node": node_id, "display_node": node_id, "output": output, "prompt_id": pid},
                )
        messages.append(["execution_success", {"prompt_id": pid, "timestamp": _ms()}])
        await self._send(client, "execution_success", {"prompt_id": pid, "timestamp": _ms()})
        await self._send(client, "executing", {"node": None, "prompt_id": pid})
        self._record(run, outputs, "success", messages)

    async def _sample(
        self, run: _Run, node_id: str, node: dict[str, Any], messages: list[Any]
    ) -> bool:
        """Stream progress; True when the run ended here (error, interrupt)."""
        steps = int(node["inputs"]["steps"])
        for step in range(1, steps + 1):
            if run.prompt_id in self.interrupted or self.config.hang:
                while self.config.hang and run.prompt_id not in self.interrupted:
                    await asyncio.sleep(0.05)
                data = {
                    "prompt_id": run.prompt_id,
                    "node_id": node_id,
                    "node_type": "KSampler",
                    "executed": [],
                    "timestamp": _ms(),
                }
                await self._send(run.client_id, "execution_interrupted", data)
                self._record(run, {}, "error", [*messages, ["execution_interrupted", data]])
                return True
            if self.config.fail_at_step == step:
                data = {
                    "prompt_id": run.prompt_id,
                    "node_id": node_id,
                    "node_type": "KSampler",
                    "executed": [],
                    "exception_message": "CUDA out of memory. Tried to allocate 2.00 GiB",
                    "exception_type": "torch.OutOfMemoryError",
                    "traceback": ["..."],
                    "current_inputs": {},
                    "current_outputs": {},
                    "timestamp": _ms(),
                }
                await self._send(run.client_id, "execution_error", data)
                self._record(run, {}, "error", [*messages, ["execution_error", data]])
                return True
            if self.config.step_delay_s:
                await asyncio.sleep(self.config.step_delay_s)
            await self._send(
                run.client_id,
                "progress",
                {"value": step, "max": steps, "prompt_id": run.prompt_id, "node": node_id},
            )
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
        graph = body.get("prompt") if isinstance(body, dict) else None
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

    async def interrupt(_request: Request) -> Response:
        if sim.running is not None:
            sim.interrupted.add(sim.running.prompt_id)
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


def _input_error(kind: str, message: str, name: str, details: str | None = None) -> dict[str, Any]:
    return {
        "type": kind,
        "message": message,
        "details": details or name,
        "extra_info": {"input_name": name},
    }


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
        node = graph[node_id]
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


def _animated_webp(size: tuple[int, int], seed: int, text: str, frames: int, fps: float) -> bytes:
    images = [_frame(size, seed, text, shift=index * 15) for index in range(max(frames, 1))]
    out = io.BytesIO()
    images[0].save(
        out,
        format="WEBP",
        save_all=True,
        append_images=images[1:],
        duration=int(1000 / max(fps, 1)),
        quality=60,
        method=0,
    )
    return out.getvalue()
