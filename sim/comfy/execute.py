"""Running prompts as ComfyUI's queue and executor do: one at a time, cached across prompts,
every WebSocket message in the real server's order.

For one prompt the submitting client sees `execution_start`, `execution_cached` (the nodes
whose outputs are still cached from the last prompt), then per node that runs a
`progress_state`, `executing`, per sampler step `progress_state` + `progress` (+ a binary
JPEG preview when the server was started with a preview method), `executed` for nodes that
wrote files, a finishing `progress_state`; then `execution_success` (or `execution_error` /
`execution_interrupted`). Every client then gets a `status` broadcast, and the submitter
`executing {node: null}`, whatever the outcome. A cached output node is not run again: it
is re-announced with `executed` and the files of the run that made it, without progress.
The queue broadcasts `status` when a prompt is queued and when it starts, as ComfyUI's
`queue_updated` does.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import string
import struct
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from sim.comfy import render, sizes
from sim.comfy.config import ComfySimConfig
from sim.comfy.provision import (
    REPORT_NAME,
    WANT_NAME,
    ModelFile,
    Provisioning,
    report_bytes,
    true_file,
    want_files,
)
from sim.comfy.provision import installed as folders_of
from sim.comfy.schema import FILE_INPUTS, classes

PREVIEW_IMAGE = 1
"""ComfyUI's binary event type for a preview frame: `>I` event, `>I` format, image bytes."""
PREVIEW_JPEG = 1
MAXIMUM_HISTORY_SIZE = 10_000
SAMPLERS = {"KSampler", "KSamplerAdvanced"}
DETAILERS = {"FaceDetailer"}
"""Nodes that sample inside (the Impact Pack's detailers: one KSampler run per detected face
and cycle); the simulator finds one face per picture, so the picture keeps its size."""
LATENTS = ("EmptyLatentImage", "EmptyHunyuanLatentVideo", "EmptySD3LatentImage", "WanImageToVideo")
LOADER_CLASSES = {node for node, _input in FILE_INPUTS}
OOM_MESSAGE = (
    "CUDA out of memory. Tried to allocate 2.00 GiB\n"
    "This error means you ran out of memory on your GPU.\n\n"
    "TIPS: If the workflow worked before you might have accidentally set the batch_size to a "
    "large number."
)


@dataclass
class QueueItem:
    """A queued prompt: ComfyUI's `(number, prompt_id, prompt, extra_data, outputs)`."""

    number: float
    prompt_id: str
    prompt: dict[str, Any]
    extra_data: dict[str, Any]
    outputs: list[str]

    def wire(self) -> list[Any]:
        """The item as `/queue` and history entries show it."""
        return [self.number, self.prompt_id, self.prompt, self.extra_data, self.outputs]

    @property
    def client_id(self) -> str | None:
        """The WebSocket client that submitted it, if it said."""
        client = self.extra_data.get("client_id")
        return None if client is None else str(client)


class Sockets:
    """The connected `/ws` clients by id; a message to no id goes to every client."""

    def __init__(self) -> None:
        self.by_sid: dict[str, WebSocket] = {}

    async def send(self, kind: str, data: dict[str, Any], sid: str | None) -> None:
        """A JSON message `{"type": kind, "data": data}` to `sid` (None: to everyone)."""
        await self._deliver(json.dumps({"type": kind, "data": data}), sid)

    async def send_preview(self, jpeg: bytes, sid: str | None) -> None:
        """A binary preview frame, framed as ComfyUI's `send_image` frames it."""
        await self._deliver(struct.pack(">II", PREVIEW_IMAGE, PREVIEW_JPEG) + jpeg, sid)

    async def close(self, sid: str | None) -> None:
        """Close the socket of `sid` (the drop fault)."""
        socket = self.by_sid.pop(sid or "", None)
        if socket is not None:
            await socket.close()

    async def _deliver(self, message: str | bytes, sid: str | None) -> None:
        targets = list(self.by_sid) if sid is None else [sid]
        for target in targets:
            socket = self.by_sid.get(target)
            if socket is None:
                continue
            try:
                if isinstance(message, bytes):
                    await socket.send_bytes(message)
                else:
                    await socket.send_text(message)
            except (RuntimeError, WebSocketDisconnect):
                self.by_sid.pop(target, None)


class NodeFailure(Exception):
    """A node raised while running: ComfyUI's `execution_error` names its type and message."""

    def __init__(self, exception_type: str, message: str) -> None:
        super().__init__(message)
        self.exception_type = exception_type
        self.message = message


class Interrupted(Exception):
    """The running prompt was interrupted."""


def is_link(value: Any) -> bool:
    """Whether an input value is a link `[node id, slot]` (ComfyUI's `is_link`)."""
    return (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], int | float)
    )


def ms() -> int:
    """Wall-clock milliseconds, as ComfyUI stamps messages."""
    return int(time.time() * 1000)


class ComfyServer:
    """Everything one simulated ComfyUI holds: files, queue, history, cache and sockets."""

    def __init__(self, config: ComfySimConfig) -> None:
        self.config = config
        self.sockets = Sockets()
        self.files: dict[tuple[str, str, str], bytes] = {}
        self.history: dict[str, dict[str, Any]] = {}
        self.pending: list[QueueItem] = []
        self.running: QueueItem | None = None
        self.number = 0
        self.interrupted: set[str] = set()
        self.cache: dict[str, dict[str, Any] | None] = {}
        """Input signature -> the UI output of the node that ran with it (ComfyUI's cache)."""
        self.last_node_id: str | None = None
        self.later: list[tuple[ModelFile, float]] = []
        """Files the start script's watcher was asked for, each with when it is checked."""
        self.asked_at = 0.0
        """When the last want file was uploaded (the watcher looks every few seconds)."""
        self._wake: asyncio.Event | None = None
        self._worker: asyncio.Task[None] | None = None

    # ---- what is installed ------------------------------------------------------------------

    def now(self) -> float:
        """Seconds on the configured clock."""
        return self.config.clock()

    def healthy(self) -> bool:
        """Whether ComfyUI answers at all right now (not down, not starting, not restarting)."""
        config = self.config
        if config.unhealthy or self.now() < config.unhealthy_until:
            return False
        return config.provisioning is None or not config.provisioning.restarting(self.now())

    def installed(self) -> dict[str, list[str]]:
        """Models folder -> files on disk now (nothing until a start's downloads are done)."""
        provisioning = self.config.provisioning
        if provisioning is not None:
            return folders_of(self._landed(provisioning))
        return self.config.models

    def model_files(self) -> list[ModelFile]:
        """The model files on disk, with what the start script knows of each."""
        provisioning = self.config.provisioning
        if provisioning is not None:
            self._watch(provisioning)
            return provisioning.files + [item for item, _done in self.later]
        return [
            ModelFile(f"{folder}/{name}", *true_file(f"{folder}/{name}"), pinned=False)
            for folder, names in sorted(self.config.models.items())
            for name in names
        ]

    def file(self, kind: str, subfolder: str, name: str) -> bytes | None:
        """A file `/view` can serve: outputs, uploads, and the start script's report."""
        if (kind, subfolder, name) == ("input", "", REPORT_NAME):
            provisioning = self.config.provisioning
            if provisioning is None:
                return report_bytes(self.model_files(), self.config.bad_files)
            if self.now() < provisioning.downloaded_at:
                return None
            landed = self._landed(provisioning)
            pending = provisioning.pending(self.now())
            pending += [item.path for item, done in self.later if done > self.now()]
            return report_bytes(landed, self.config.bad_files, pending)
        if provisioning := self.config.provisioning:
            self._watch(provisioning)
        return self.files.get((kind, subfolder, name))

    def upload(self, key: tuple[str, str, str], data: bytes) -> None:
        """Store an uploaded input file (a want file is then seen by the watcher)."""
        self.files[key] = data
        if key == ("input", "", WANT_NAME):
            self.asked_at = self.now()

    def _landed(self, provisioning: Provisioning) -> list[ModelFile]:
        """The files in place and checked now: the start's, then those asked for later."""
        self._watch(provisioning)
        now = self.now()
        later = [item for item, done in self.later if done <= now]
        return provisioning.landed(now) + later

    def _watch(self, provisioning: Provisioning) -> None:
        """The start script's watcher, which begins once the start's downloads are done: it
        takes a complete want file away and fetches its files (one batch after another; a
        file it verified before takes no time)."""
        data = self.files.get(("input", "", WANT_NAME))
        now = self.now()
        watching = self.config.watches_for_downloads and now >= provisioning.done_at
        asked = want_files(data) if data is not None and watching else None
        if asked is None:
            return
        del self.files[("input", "", WANT_NAME)]
        have = {item.path for item in provisioning.files} | {i.path for i, _d in self.later}
        new = [item for item in asked if item.path not in have]
        start = max([self.asked_at, provisioning.done_at, *(done for _i, done in self.later)])
        done = start + provisioning.fetch_s(new)
        self.later += [(item, done) for item in new]

    def uploads(self) -> set[str]:
        """Names graphs may give LoadImage: `name` or `subfolder/name` of each input file."""
        return {
            f"{sub}/{name}" if sub else name for kind, sub, name in self.files if kind == "input"
        }

    # ---- the queue --------------------------------------------------------------------------

    def queue_remaining(self) -> int:
        """Prompts queued or running (ComfyUI's `get_tasks_remaining`)."""
        return len(self.pending) + (self.running is not None)

    def queue_info(self) -> dict[str, Any]:
        """`{"exec_info": {"queue_remaining": n}}`, as `/prompt` and `status` carry it."""
        return {"exec_info": {"queue_remaining": self.queue_remaining()}}

    async def broadcast_status(self) -> None:
        """The `status` every client gets whenever the queue changes."""
        await self.sockets.send("status", {"status": self.queue_info()}, None)

    def next_number(self, front: bool) -> int:
        """The queue position number of a prompt submitted without one."""
        number = -self.number if front else self.number
        self.number += 1
        return number

    async def put(self, item: QueueItem) -> None:
        """Queue `item` (lowest number first) and start the worker on first use."""
        if self._worker is None:
            self._wake = asyncio.Event()
            self._worker = asyncio.get_running_loop().create_task(self._work())
        self.pending.append(item)
        self.pending.sort(key=lambda queued: queued.number)
        await self.broadcast_status()
        assert self._wake is not None  # created with the worker
        self._wake.set()

    def record(self, item: QueueItem, entry: dict[str, Any]) -> None:
        """Keep a finished prompt's history entry, oldest dropped past the maximum."""
        if len(self.history) > MAXIMUM_HISTORY_SIZE:
            self.history.pop(next(iter(self.history)))
        self.history[item.prompt_id] = {"prompt": item.wire(), **entry}

    async def _work(self) -> None:
        assert self._wake is not None
        while True:
            if not self.pending:
                self._wake.clear()
                await self._wake.wait()
                continue
            item = self.pending.pop(0)
            self.running = item
            await self.broadcast_status()
            try:
                entry = await Run(self, item).execute()
            finally:
                self.running = None
                self.last_node_id = None
            self.record(item, entry)
            await self.broadcast_status()
            if item.client_id is not None:
                data = {"node": None, "prompt_id": item.prompt_id}
                await self.sockets.send("executing", data, item.client_id)


def signatures(prompt: dict[str, Any], digest_of: Callable[[str], str | None]) -> dict[str, str]:
    """Node id -> input signature: class, values and the signatures of what feeds it, plus an
    uploaded image's digest (LoadImage's IS_CHANGED). Equal signatures share a cache entry."""
    memo: dict[str, str] = {}

    def of(node_id: str) -> str:
        if node_id not in memo:
            node = prompt[node_id]
            inputs = {
                name: ["link", of(value[0]), value[1]] if is_link(value) else value
                for name, value in sorted(node["inputs"].items())
            }
            changed = (
                digest_of(str(inputs.get("image"))) if node["class_type"] == "LoadImage" else None
            )
            text = json.dumps([node["class_type"], inputs, changed], sort_keys=True, default=str)
            memo[node_id] = hashlib.sha256(text.encode()).hexdigest()
        return memo[node_id]

    return {node_id: of(node_id) for node_id in prompt}


@dataclass
class Run:
    """One prompt's execution (ComfyUI's `PromptExecutor.execute`)."""

    server: ComfyServer
    item: QueueItem
    messages: list[list[Any]] = field(default_factory=list)
    executed: list[str] = field(default_factory=list)
    ui_outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    progress: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def client(self) -> str | None:
        return self.item.client_id

    async def execute(self) -> dict[str, Any]:
        """Run every output node the prompt validated with; the history entry's parts."""
        server, prompt, pid = self.server, self.item.prompt, self.item.prompt_id
        await self._message("execution_start", {"prompt_id": pid})
        uploads = {
            f"{sub}/{name}" if sub else name: data
            for (kind, sub, name), data in server.files.items()
            if kind == "input"
        }
        signature = signatures(prompt, lambda name: _digest(uploads.get(name)))
        live = set(signature.values())
        # The classic cache keeps only what the current prompt can use.
        server.cache = {key: ui for key, ui in server.cache.items() if key in live}
        cached = [node_id for node_id in prompt if signature[node_id] in server.cache]
        await self._message("execution_cached", {"nodes": cached, "prompt_id": pid})
        success = False
        try:
            for node_id in _staging(prompt, self.item.outputs, set(cached)):
                await self._node(node_id, signature[node_id])
            success = True
        except Interrupted:
            node_id = server.last_node_id or ""
            await self._message(
                "execution_interrupted",
                {
                    "prompt_id": pid,
                    "node_id": node_id,
                    "node_type": _class_of(prompt, node_id),
                    "executed": list(self.executed),
                },
                broadcast=True,
            )
        except _Failed as failed:
            await self._message("execution_error", self._error_data(failed, cached))
        if success:
            await self._message("execution_success", {"prompt_id": pid})
        server.interrupted.discard(pid)
        return {
            "outputs": dict(self.ui_outputs),
            "status": {
                "status_str": "success" if success else "error",
                "completed": success,
                "messages": self.messages,
            },
            "meta": {
                node_id: {
                    "node_id": node_id,
                    "display_node": node_id,
                    "parent_node": None,
                    "real_node_id": node_id,
                }
                for node_id in self.ui_outputs
            },
        }

    def _error_data(self, failed: _Failed, cached: list[str]) -> dict[str, Any]:
        node = self.item.prompt[failed.node_id]
        return {
            "prompt_id": self.item.prompt_id,
            "node_id": failed.node_id,
            "node_type": node["class_type"],
            "executed": list(self.executed),
            "exception_message": failed.failure.message,
            "exception_type": failed.failure.exception_type,
            "traceback": [
                '  File "/workspace/ComfyUI/execution.py", line 496, in execute\n'
                "    output_data, output_ui, has_subgraph = await get_output_data(...)\n"
            ],
            "current_inputs": {
                name: [f"<{name} object>" if is_link(value) else value]
                for name, value in node["inputs"].items()
            },
            "current_outputs": cached,
        }

    async def _message(self, kind: str, data: dict[str, Any], *, broadcast: bool = False) -> None:
        """A status message: kept for the history entry, sent to the submitter (or everyone)."""
        data = {**data, "timestamp": ms()}
        self.messages.append([kind, data])
        if self.client is not None or broadcast:
            await self.server.sockets.send(kind, data, self.client)

    async def _progress_state(self, node_id: str, state: str, value: float, maximum: float) -> None:
        self.progress[node_id] = {
            "value": value,
            "max": maximum,
            "state": state,
            "node_id": node_id,
            "prompt_id": self.item.prompt_id,
            "display_node_id": node_id,
            "parent_node_id": None,
            "real_node_id": node_id,
        }
        data = {"prompt_id": self.item.prompt_id, "nodes": dict(self.progress)}
        await self.server.sockets.send("progress_state", data, self.client)

    async def _node(self, node_id: str, signature: str) -> None:
        server, pid = self.server, self.item.prompt_id
        if pid in server.interrupted:
            raise Interrupted
        if signature in server.cache:
            ui = server.cache[signature]
            if ui is not None:
                self.ui_outputs[node_id] = ui
            if self.client is not None:
                data = {"node": node_id, "display_node": node_id, "output": ui, "prompt_id": pid}
                await server.sockets.send("executed", data, self.client)
            await self._progress_state(node_id, "finished", 1.0, 1.0)
            return
        await self._progress_state(node_id, "running", 0.0, 1.0)
        server.last_node_id = node_id
        if self.client is not None:
            data = {"node": node_id, "display_node": node_id, "prompt_id": pid}
            await server.sockets.send("executing", data, self.client)
        try:
            ui = await self._work(node_id)
        except NodeFailure as failure:
            raise _Failed(node_id, failure) from None
        if ui is not None:
            self.ui_outputs[node_id] = ui
            if self.client is not None:
                data = {"node": node_id, "display_node": node_id, "output": ui, "prompt_id": pid}
                await server.sockets.send("executed", data, self.client)
        server.cache[signature] = ui
        self.executed.append(node_id)
        done = self.progress[node_id]["max"]
        await self._progress_state(node_id, "finished", done, done)

    async def _work(self, node_id: str) -> dict[str, Any] | None:
        """What the node does; its UI output when it wrote files."""
        node = self.item.prompt[node_id]
        class_type = node["class_type"]
        inputs = node["inputs"]
        if class_type in LOADER_CLASSES:
            await self._load(class_type, inputs)
        elif class_type == "IPAdapterUnifiedLoader":
            self._check_unified_loader()
        elif class_type == "IPAdapterAdvanced":
            self._check_clip_vision(inputs)
        elif class_type in SAMPLERS:
            await self._sample(node_id, inputs)
        elif class_type in DETAILERS:
            await self._sample(node_id, inputs, cycles=int(inputs.get("cycle", 1)))
        elif class_type in ("SaveImage", "PreviewImage", "SaveAnimatedWEBP", "SaveVideo"):
            return self._save(node_id, class_type, inputs)
        elif classes()[class_type].output_node:
            raise NodeFailure(
                "NotImplementedError", f"the ComfyUI simulator cannot run {class_type}"
            )
        return None

    async def _load(self, class_type: str, inputs: dict[str, Any]) -> None:
        for (node_class, input_name), folder in FILE_INPUTS.items():
            if node_class != class_type or input_name not in inputs:
                continue
            path = f"{folder}/{inputs[input_name]}"
            if self.server.config.bad_files.get(path) == "short":
                raise NodeFailure(
                    "safetensors_rust.SafetensorError",
                    "Error while deserializing header: MetadataIncompleteBuffer",
                )
            size_bytes, _digest = true_file(path)
            delay = size_bytes / 1e9 * self.server.config.load_s_per_gb
            if delay:
                await asyncio.sleep(delay)

    def _check_unified_loader(self) -> None:
        """What ComfyUI_IPAdapter_plus raises when the files its preset names are absent."""
        installed = self.server.installed()
        if not installed.get("clip_vision"):
            raise NodeFailure("Exception", "ClipVision model not found.")
        if not installed.get("ipadapter"):
            raise NodeFailure("Exception", "IPAdapter model not found.")

    def _check_clip_vision(self, inputs: dict[str, Any]) -> None:
        """IPAdapterAdvanced takes CLIP vision from the unified loader or its own input."""
        link = inputs.get("ipadapter")
        source = _class_of(self.item.prompt, str(link[0])) if isinstance(link, list) else ""
        if source != "IPAdapterUnifiedLoader" and "clip_vision" not in inputs:
            raise NodeFailure("Exception", "Missing CLIPVision model.")

    async def _sample(self, node_id: str, inputs: dict[str, Any], *, cycles: int = 1) -> None:
        """Stream the steps (`cycles` runs of them, counted as one; and previews); raise on
        interrupt or the failure fault."""
        server, config, pid = self.server, self.server.config, self.item.prompt_id
        steps = int(inputs.get("steps", 1)) * cycles
        seed = int(inputs.get("seed", inputs.get("noise_seed", 0)))
        for step in range(1, steps + 1):
            while config.hang and pid not in server.interrupted:
                await asyncio.sleep(0.05)
            if pid in server.interrupted:
                raise Interrupted
            if config.fail_at_step == step:
                raise NodeFailure("torch.OutOfMemoryError", OOM_MESSAGE)
            if config.step_delay_s:
                await asyncio.sleep(config.step_delay_s)
            await self._progress_state(node_id, "running", float(step), float(steps))
            data = {"value": step, "max": steps, "prompt_id": pid, "node": node_id}
            await server.sockets.send("progress", data, self.client)
            if config.preview_method != "none":
                await server.sockets.send_preview(render.preview_jpeg(seed, step), self.client)
            if config.drop_ws and step == 1:
                await server.sockets.close(self.client)

    def _upload(self, name: str) -> bytes | None:
        subfolder, _, file_name = name.rpartition("/")
        return self.server.files.get(("input", subfolder, file_name))

    def _save(self, node_id: str, class_type: str, inputs: dict[str, Any]) -> dict[str, Any]:
        """Write the node's files; its UI output (`images`, plus `animated` for a WebP or a
        video: core SaveVideo reports its MP4 under `images` too, as ComfyUI's PreviewVideo
        does)."""
        prompt = self.item.prompt
        latent = _find_upstream(prompt, node_id, LATENTS)
        sampler = _find_upstream(prompt, node_id, tuple(SAMPLERS))
        size = sizes.output_size(prompt, node_id, self._upload)
        seed = int((sampler or {}).get("inputs", {}).get("seed", 0))
        kind = "temp" if class_type == "PreviewImage" else "output"
        prefix = str(inputs.get("filename_prefix", "ComfyUI"))
        if class_type == "PreviewImage":
            prefix = "ComfyUI_temp_" + "".join(random.choices(string.ascii_lowercase, k=5))
        existing = [(sub, name) for (folder, sub, name) in self.server.files if folder == kind]
        subfolder, stem, counter = render.save_path(prefix, existing)
        if class_type in ("SaveAnimatedWEBP", "SaveVideo"):
            frames = int(latent["inputs"].get("length", 8)) if latent else 8
            if class_type == "SaveVideo":
                name = f"{stem}_{counter:05}_.mp4"
                data = self._mp4(node_id, size, seed, frames)
            else:
                name = f"{stem}_{counter:05}_.webp"
                fps = float(inputs.get("fps", 6))
                data = render.animated_webp(size, seed, prompt, frames, fps)
            self.server.files[(kind, subfolder, name)] = data
            return {
                "images": [{"filename": name, "subfolder": subfolder, "type": kind}],
                "animated": [True],
            }
        repeat = _find_upstream(prompt, node_id, ("RepeatLatentBatch", "RepeatImageBatch"))
        batch = int(latent["inputs"].get("batch_size", 1)) if latent else 1
        if repeat is not None:
            batch = int(repeat["inputs"].get("amount", 1))
        caption = _positive_text(prompt, sampler)
        extra = self.item.extra_data.get("extra_pnginfo")
        images = []
        for index in range(batch):
            name = f"{stem}_{counter + index:05}_.png"
            data = render.png(
                size,
                seed + index,
                prompt,
                caption,
                extra if isinstance(extra, dict) else None,
                grain=self.server.config.output_grain,
            )
            self.server.files[(kind, subfolder, name)] = data
            images.append({"filename": name, "subfolder": subfolder, "type": kind})
        return {"images": images}

    def _mp4(self, node_id: str, size: tuple[int, int], seed: int, frames: int) -> bytes:
        """SaveVideo's H.264 MP4 at its CreateVideo's frame rate, with `prompt` and every
        `extra_pnginfo` key as metadata items (SaveVideo's `saved_metadata`)."""
        prompt = self.item.prompt
        create = _find_upstream(prompt, node_id, ("CreateVideo",))
        fps = float((create or {}).get("inputs", {}).get("fps", 30.0))
        extra = self.item.extra_data.get("extra_pnginfo")
        metadata = dict(extra) if isinstance(extra, dict) else {}
        metadata["prompt"] = prompt
        return render.mp4(size, seed, metadata, frames, fps)


@dataclass
class _Failed(Exception):
    node_id: str
    failure: NodeFailure


def _digest(data: bytes | None) -> str | None:
    return hashlib.sha256(data).hexdigest() if data is not None else None


def _class_of(prompt: dict[str, Any], node_id: str) -> str:
    node = prompt.get(node_id)
    return str(node["class_type"]) if isinstance(node, dict) else ""


def _staging(prompt: dict[str, Any], outputs: list[str], cached: set[str]) -> list[str]:
    """The nodes to visit, inputs first: each output node (cached or not) and every node it
    needs whose output is not cached."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(node_id: str) -> None:
        if node_id in seen:
            return
        seen.add(node_id)
        for value in prompt[node_id]["inputs"].values():
            if is_link(value) and value[0] not in cached:
                visit(value[0])
        order.append(node_id)

    for output in outputs:
        visit(output)
    return order


def _find_upstream(
    prompt: dict[str, Any], start: str, wanted: tuple[str, ...]
) -> dict[str, Any] | None:
    stack, seen = [start], set()
    while stack:
        node_id = stack.pop()
        if node_id in seen:
            continue
        seen.add(node_id)
        node: dict[str, Any] = prompt[node_id]
        if node["class_type"] in wanted:
            return node
        stack += [value[0] for value in node["inputs"].values() if is_link(value)]
    return None


def _positive_text(prompt: dict[str, Any], sampler: dict[str, Any] | None) -> str:
    """The text of the sampler's positive prompt, for the caption."""
    link = (sampler or {}).get("inputs", {}).get("positive")
    node = prompt.get(link[0]) if is_link(link) else None
    return str((node or {}).get("inputs", {}).get("text", ""))


def new_prompt_id() -> str:
    """A server-minted prompt id."""
    return str(uuid.uuid4())
