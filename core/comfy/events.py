"""ComfyUI WebSocket messages as typed events; pure parsing, no I/O.

Text frames are JSON `{"type": ..., "data": {...}}`. Binary frames start with a big-endian
uint32 event type; type 1 is a preview image followed by a uint32 format (1 JPEG, 2 PNG) and
the image bytes (ComfyUI `server.py`, `BinaryEventTypes.PREVIEW_IMAGE`).
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any

MEDIA_TYPES = {
    ".png": "image/png",
    ".webp": "image/webp",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".mov": "video/quicktime",
}
"""File extension -> media type, for the files ComfyUI's save nodes write."""


@dataclass(frozen=True)
class OutputRef:
    """A file ComfyUI wrote, as `/view` addresses it."""

    filename: str
    subfolder: str = ""
    type: str = "output"

    @property
    def mime(self) -> str:
        """The media type the file's extension says (`application/octet-stream` if unknown)."""
        _stem, dot, extension = self.filename.lower().rpartition(".")
        return MEDIA_TYPES.get(f".{extension}" if dot else "", "application/octet-stream")


@dataclass(frozen=True)
class Status:
    queue_remaining: int


@dataclass(frozen=True)
class ExecutionStart:
    prompt_id: str


@dataclass(frozen=True)
class Cached:
    prompt_id: str
    nodes: tuple[str, ...]


@dataclass(frozen=True)
class Executing:
    """`node` is None when the prompt finished."""

    prompt_id: str
    node: str | None


@dataclass(frozen=True)
class Progress:
    prompt_id: str
    node: str | None
    value: int
    max: int


@dataclass(frozen=True)
class NodeProgress:
    """One node's line in a `progress_state` message."""

    node_id: str
    state: str
    """"running", "finished" or "error"."""
    value: float
    max: float


@dataclass(frozen=True)
class ProgressState:
    """Every started node's progress in the running prompt (ComfyUI's `progress_state`)."""

    prompt_id: str
    nodes: tuple[NodeProgress, ...]


@dataclass(frozen=True)
class Executed:
    prompt_id: str
    node: str
    outputs: tuple[OutputRef, ...]


@dataclass(frozen=True)
class Success:
    prompt_id: str


@dataclass(frozen=True)
class ExecutionError:
    prompt_id: str
    node_id: str | None
    node_type: str | None
    message: str
    exception_type: str | None


@dataclass(frozen=True)
class Interrupted:
    prompt_id: str


@dataclass(frozen=True)
class Preview:
    """A live preview of the image being sampled (no prompt id: it belongs to the current run)."""

    mime: str
    data: bytes


@dataclass(frozen=True)
class Unknown:
    """A message type we do not act on (previews, crystools stats, future types)."""

    type: str


Event = (
    Status
    | ExecutionStart
    | Cached
    | Executing
    | Progress
    | ProgressState
    | Executed
    | Success
    | ExecutionError
    | Interrupted
    | Preview
    | Unknown
)

BINARY_PREVIEW_IMAGE = 1
PREVIEW_FORMATS = {1: "image/jpeg", 2: "image/png"}


def outputs_of(output: dict[str, Any]) -> tuple[OutputRef, ...]:
    """The files in one node's `output` (`images`, `gifs`, `videos` lists)."""
    refs = []
    for key in ("images", "gifs", "videos"):
        for item in output.get(key) or []:
            if isinstance(item, dict) and item.get("filename"):
                refs.append(
                    OutputRef(
                        filename=str(item["filename"]),
                        subfolder=str(item.get("subfolder") or ""),
                        type=str(item.get("type") or "output"),
                    )
                )
    return tuple(refs)


def parse_event(message: str | bytes) -> Event:
    """One WebSocket message as an event: JSON messages, preview frames; junk is `Unknown`."""
    if isinstance(message, bytes):
        return _parse_binary(message)
    try:
        payload = json.loads(message)
    except json.JSONDecodeError:
        return Unknown("invalid_json")
    if not isinstance(payload, dict):
        return Unknown("invalid_json")
    kind = str(payload.get("type"))
    data = json_object(payload.get("data"))
    prompt_id = str(data.get("prompt_id") or "")
    match kind:
        case "status":
            info = json_object(json_object(data.get("status")).get("exec_info"))
            return Status(int(info.get("queue_remaining") or 0))
        case "execution_start":
            return ExecutionStart(prompt_id)
        case "execution_cached":
            return Cached(prompt_id, tuple(str(n) for n in data.get("nodes") or []))
        case "executing":
            node = data.get("node")
            return Executing(prompt_id, str(node) if node is not None else None)
        case "progress":
            node = data.get("node")
            return Progress(
                prompt_id,
                str(node) if node is not None else None,
                int(data.get("value") or 0),
                int(data.get("max") or 0),
            )
        case "progress_state":
            return ProgressState(prompt_id, _node_progress(json_object(data.get("nodes"))))
        case "executed":
            return Executed(
                prompt_id, str(data.get("node")), outputs_of(json_object(data.get("output")))
            )
        case "execution_success":
            return Success(prompt_id)
        case "execution_error":
            return ExecutionError(
                prompt_id,
                node_id=_str_or_none(data.get("node_id")),
                node_type=_str_or_none(data.get("node_type")),
                message=str(data.get("exception_message") or "unknown error").strip(),
                exception_type=_str_or_none(data.get("exception_type")),
            )
        case "execution_interrupted":
            return Interrupted(prompt_id)
    return Unknown(kind)


def _node_progress(nodes: dict[str, Any]) -> tuple[NodeProgress, ...]:
    lines = []
    for node_id, raw in nodes.items():
        line = json_object(raw)
        lines.append(
            NodeProgress(
                node_id=str(node_id),
                state=str(line.get("state") or ""),
                value=_number(line.get("value")),
                max=_number(line.get("max")),
            )
        )
    return tuple(lines)


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def _parse_binary(frame: bytes) -> Event:
    """A binary frame: a JPEG/PNG preview, or `Unknown` for other or truncated frames."""
    if len(frame) < 8:
        return Unknown("binary")
    event_type, image_format = struct.unpack(">II", frame[:8])
    if event_type != BINARY_PREVIEW_IMAGE or image_format not in PREVIEW_FORMATS:
        return Unknown("binary")
    return Preview(PREVIEW_FORMATS[image_format], frame[8:])


def json_object(value: object) -> dict[str, Any]:
    """`value` if it is a JSON object, else an empty one: a wrong shape reads as absent."""
    return value if isinstance(value, dict) else {}


def _str_or_none(value: object) -> str | None:
    return None if value is None else str(value)
