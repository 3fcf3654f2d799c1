"""ComfyClient: submit a graph, follow its WebSocket events, fetch the outputs.

The WebSocket opens *before* the prompt is submitted (with our client id), so no event is
missed. If the socket drops mid-run the client falls back to polling `/history/{id}`, which
ComfyUI fills when the prompt ends; the run's outcome never depends on the socket. A socket
whose run succeeded is kept for the client's next run (`IDLE_SOCKETS`): a job then opens no
connection, and waits for no closing handshake.
"""

from __future__ import annotations

import ssl
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.sync.client import ClientConnection, connect

from core.comfy.events import (
    Event,
    Executed,
    ExecutionError,
    Interrupted,
    OutputRef,
    Success,
    json_object,
    outputs_of,
    parse_event,
)
from core.errors import ComfyError, ComfyUnavailable, ExecutionFailed, GraphInvalid

HISTORY_POLL_S = 1.0
WAIT_CALLBACK_S = 1.0
"""The longest a run waits on a silent server before calling its `on_wait` again."""
AUTH_REFUSED = (401, 403)
IDLE_SOCKETS = 16
"""Sockets a client keeps open between runs: as many as runs it may have at once (a rented
instance runs one job at a time, but one ComfyUI address may serve several instances'
jobs: an operator's own GPU server, the simulator), within a bound."""
WS_CLOSE_TIMEOUT_S = 0.05
"""How long a run's socket waits for the server to finish the closing handshake before it
drops the connection: the run's outcome is in hand by then. The library's default (10 s)
held a finished job's thread, and so its instance, for the whole 10 s whenever a busy server
left the handshake unanswered (1 run in 10 with 16 instances on the simulator)."""

_ssl_lock = threading.Lock()
_ssl_context: ssl.SSLContext | None = None


def shared_ssl_context() -> ssl.SSLContext:
    """The process's one verifying TLS context (httpx's defaults): building one costs
    20–50 ms of CPU, so every client and WebSocket shares it instead of making its own."""
    global _ssl_context
    with _ssl_lock:
        if _ssl_context is None:
            _ssl_context = httpx.create_ssl_context()
        return _ssl_context


@dataclass(frozen=True)
class RunResult:
    """A finished prompt and the files it wrote, in node order."""

    prompt_id: str
    outputs: list[OutputRef]


class ComfyClient:
    """One ComfyUI server, over HTTP and its `/ws` event stream."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 30.0,
        headers: Mapping[str, str] | None = None,
        client_id: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id or uuid.uuid4().hex
        self.headers = dict(headers or {})
        self.timeout_s = timeout_s
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout_s,
            headers=self.headers,
            verify=shared_ssl_context(),
        )
        self._idle: list[tuple[str, ClientConnection]] = []  # (client id, its socket)
        self._idle_lock = threading.Lock()

    def close(self) -> None:
        """Release connections."""
        with self._idle_lock:
            idle, self._idle = self._idle, []
        for _client_id, socket in idle:
            socket.close()
        self._http.close()

    def __enter__(self) -> ComfyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- plain calls ----------------------------------------------------------------------

    def system_stats(self) -> dict[str, Any]:
        """`/system_stats`: versions, RAM, GPUs."""
        return dict(self._get_json("/system_stats"))

    def models(self, folder: str) -> list[str]:
        """The files installed in a models folder (`checkpoints`, `vae`, ...)."""
        return list(self._get_json(f"/models/{folder}"))

    def history(self, prompt_id: str) -> dict[str, Any]:
        """The history entry of one prompt, or {} while it has none."""
        return dict(self._get_json(f"/history/{prompt_id}").get(prompt_id) or {})

    def upload_image(self, data: bytes, filename: str) -> str:
        """Upload an input image; returns the name graphs must use in `LoadImage`."""
        reply = self._request(
            "POST",
            "/upload/image",
            files={"image": (filename, data, "image/png")},
            data={"overwrite": "true", "type": "input"},
        )
        body = reply.json()
        subfolder = body.get("subfolder") or ""
        return f"{subfolder}/{body['name']}" if subfolder else str(body["name"])

    def view(self, ref: OutputRef) -> bytes:
        """The bytes of an output file."""
        params = {"filename": ref.filename, "subfolder": ref.subfolder, "type": ref.type}
        return self._request("GET", "/view", params=params).content

    def interrupt(self, prompt_id: str | None = None) -> None:
        """Stop the prompt running now; with `prompt_id`, only if that prompt is the one running."""
        self._request("POST", "/interrupt", json={"prompt_id": prompt_id} if prompt_id else {})

    def submit(self, graph: dict[str, Any], *, client_id: str | None = None) -> str:
        """Queue `graph` (its events go to `client_id`, by default this client's); its prompt
        id. A refused graph raises GraphInvalid naming node/input."""
        body = {"prompt": graph, "client_id": client_id or self.client_id}
        reply = self._http_call("POST", "/prompt", json=body)
        if reply.status_code == 400:
            body = _json_or_text(reply)
            raise _graph_invalid(body if isinstance(body, dict) else {"error": body})
        _raise_for_status(reply)
        return str(reply.json()["prompt_id"])

    # ---- a whole run ----------------------------------------------------------------------

    def run(
        self,
        graph: dict[str, Any],
        *,
        on_event: Callable[[Event], None] | None = None,
        on_wait: Callable[[str], None] | None = None,
        timeout_s: float = 1800.0,
    ) -> RunResult:
        """Submit `graph` and wait for it: its outputs, or ExecutionFailed with ComfyUI's reason.

        `on_event` sees every event of this prompt; `on_wait(prompt_id)` is called at least
        every WAIT_CALLBACK_S while nothing arrives (a long node, a quiet server), so a caller
        can interrupt a run that sends no events. Each run listens under a client id of its
        own, so a shared client never mixes two runs' event streams.
        """
        deadline = time.monotonic() + timeout_s
        run_client_id, socket = self._take_socket()
        finished = None
        try:
            prompt_id = self.submit(graph, client_id=run_client_id)
            finished = self._follow(socket, prompt_id, on_event, on_wait, deadline)
        finally:
            self._give_back(run_client_id, socket, reusable=finished is not None)
        return finished or self._poll_history(prompt_id, on_wait, deadline)

    def _take_socket(self) -> tuple[str, ClientConnection]:
        """An idle socket still open, its messages since its last run dropped, or a new one:
        with its client id, which no other run uses meanwhile."""
        while True:
            with self._idle_lock:
                if not self._idle:
                    break
                client_id, socket = self._idle.pop()
            if _drained(socket):
                return client_id, socket
            socket.close()
        client_id = uuid.uuid4().hex
        return client_id, self._open_socket(client_id)

    def _give_back(self, client_id: str, socket: ClientConnection, *, reusable: bool) -> None:
        """Keep the socket of a run that succeeded for a next run; close any other (a run
        that failed or dropped its socket may leave events behind)."""
        if reusable:
            with self._idle_lock:
                if len(self._idle) < IDLE_SOCKETS:
                    self._idle.append((client_id, socket))
                    return
        socket.close()

    def _open_socket(self, client_id: str) -> ClientConnection:
        parts = urlsplit(self.base_url)
        secure = parts.scheme == "https"
        scheme, query = "wss" if secure else "ws", f"clientId={client_id}"
        url = urlunsplit((scheme, parts.netloc, f"{parts.path}/ws", query, ""))
        try:
            return connect(
                url,
                additional_headers=self.headers,
                open_timeout=self.timeout_s,
                close_timeout=WS_CLOSE_TIMEOUT_S,
                legacy=True,  # the socket outlives this call: kept between runs
                ssl=shared_ssl_context() if secure else None,
            )
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            raise ComfyUnavailable(f"ComfyUI WebSocket unavailable: {exc}") from exc

    def _follow(
        self,
        socket: ClientConnection,
        prompt_id: str,
        on_event: Callable[[Event], None] | None,
        on_wait: Callable[[str], None] | None,
        deadline: float,
    ) -> RunResult | None:
        """Events until the prompt ends; None if the socket dropped first."""
        outputs: list[OutputRef] = []
        wait_s = WAIT_CALLBACK_S if on_wait is not None else 30.0
        while time.monotonic() < deadline:
            try:
                message = socket.recv(timeout=max(0.1, min(wait_s, deadline - time.monotonic())))
            except TimeoutError:
                if on_wait is not None:
                    on_wait(prompt_id)
                continue
            except ConnectionClosed:
                return None
            event = parse_event(message)
            if getattr(event, "prompt_id", prompt_id) != prompt_id:
                continue
            if on_event is not None:
                on_event(event)
            match event:
                case Executed(outputs=refs):
                    outputs.extend(refs)
                case Success():
                    return RunResult(prompt_id, outputs)
                case ExecutionError(node_type=node_type, node_id=node_id, message=message):
                    raise ExecutionFailed(f"{node_type or 'a node'} (#{node_id}) failed: {message}")
                case Interrupted():
                    raise ExecutionFailed("the generation was interrupted")
        raise ExecutionFailed("the generation did not finish in time")

    def _poll_history(
        self, prompt_id: str, on_wait: Callable[[str], None] | None, deadline: float
    ) -> RunResult:
        while time.monotonic() < deadline:
            if on_wait is not None:
                on_wait(prompt_id)
            entry = self.history(prompt_id)
            status = entry.get("status") or {}
            if status.get("completed"):
                refs = [
                    ref
                    for _node, output in sorted((entry.get("outputs") or {}).items())
                    for ref in outputs_of(output)
                ]
                return RunResult(prompt_id, refs)
            if status.get("status_str") == "error":
                raise ExecutionFailed(_history_error(status))
            time.sleep(HISTORY_POLL_S)
        raise ExecutionFailed("the generation did not finish in time")

    # ---- transport ------------------------------------------------------------------------

    def _get_json(self, path: str) -> Any:
        return self._request("GET", path).json()

    def _request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        reply = self._http_call(method, path, **kw)
        _raise_for_status(reply)
        return reply

    def _http_call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            return self._http.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise ComfyUnavailable(f"ComfyUI {method} {path} failed: {exc}") from exc


def _drained(socket: ClientConnection) -> bool:
    """Drop what arrived on an idle socket since its run ended (queue status broadcasts);
    False if the server closed it meanwhile."""
    try:
        while True:
            socket.recv(timeout=0)
    except TimeoutError:
        return True
    except ConnectionClosed:
        return False


def _json_or_text(reply: httpx.Response) -> Any:
    try:
        return reply.json()
    except ValueError:
        return reply.text


def _raise_for_status(reply: httpx.Response) -> None:
    if reply.status_code in AUTH_REFUSED:
        # The proxy in front of ComfyUI does not take our token: this instance is unusable
        # to us, like one that stopped answering (the job is requeued, the GPU replaced).
        raise ComfyUnavailable(
            f"ComfyUI refused our credentials ({reply.status_code})", status=reply.status_code
        )
    if reply.status_code >= 500:
        raise ComfyUnavailable(
            f"ComfyUI answered {reply.status_code}", status=reply.status_code, body=reply.text[:300]
        )
    if reply.status_code >= 400:
        raise ComfyError(
            f"ComfyUI refused the request ({reply.status_code})",
            status=reply.status_code,
            body=_json_or_text(reply),
        )


def _graph_invalid(body: dict[str, Any]) -> GraphInvalid:
    """ComfyUI's refusal as one message: each node's input and reason with its details
    ("ckpt_name: 'x.safetensors' not in [...]"), else the top-level error and its details."""
    error = json_object(body.get("error"))
    node_errors = json_object(body.get("node_errors"))
    problems = []
    for node_id, detail in sorted(node_errors.items()):
        for item in json_object(detail).get("errors") or []:
            item = json_object(item)
            name = json_object(item.get("extra_info")).get("input_name") or item.get("details")
            node = f"{detail.get('class_type', 'node')} #{node_id}"
            problems.append(f"{node} input {name!r}: {_with_details(item)}")
    summary = "; ".join(problems) or _with_details(error) or str(body.get("error") or "invalid")
    return GraphInvalid(
        f"ComfyUI refused the workflow: {summary}",
        node_errors=node_errors,
        details=str(error.get("details") or ""),
        status=400,
        body=body,
    )


def _with_details(item: dict[str, Any]) -> str:
    """`message: details`, as ComfyUI logs a reason; the details alone repeat no input name."""
    message, details = str(item.get("message") or ""), str(item.get("details") or "")
    extra = json_object(item.get("extra_info"))
    if not details or details == extra.get("input_name"):
        return message
    return f"{message}: {details}" if message else details


def _history_error(status: dict[str, Any]) -> str:
    for kind, data in status.get("messages") or []:
        if kind == "execution_error":
            node = f"{data.get('node_type')} (#{data.get('node_id')})"
            return f"{node} failed: {data.get('exception_message')}"
        if kind == "execution_interrupted":
            return "the generation was interrupted"
    return "the generation failed"
