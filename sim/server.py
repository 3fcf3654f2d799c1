"""Run an ASGI app with uvicorn in a background thread on a loopback port."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn


class ServerThread:
    """A uvicorn server serving `app` from a daemon thread.

    `start()` returns once the socket is listening; `url` is then valid. Port 0 picks a free
    port. `stop()` asks uvicorn to exit and waits for the thread.
    """

    def __init__(
        self, app: Any, host: str = "127.0.0.1", port: int = 0, *, proxy_headers: bool = True
    ) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted sockets inherit this: without it Nagle holds the body of a response whose
        # headers went out in a separate write, until the client's delayed ACK (~40 ms).
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock.bind((host, port))
        self.host = host
        self.port: int = self._sock.getsockname()[1]
        # proxy_headers=False serves like `aikings-api`: the peer stays the real connection
        # (uvicorn otherwise rewrites it from a loopback peer's X-Forwarded-For).
        config = uvicorn.Config(
            app,
            log_level="warning",
            lifespan="off",
            ws="websockets-sansio",
            access_log=False,
            proxy_headers=proxy_headers,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    @property
    def url(self) -> str:
        """Base URL of the running server, e.g. ``http://127.0.0.1:40123``."""
        return f"http://{self.host}:{self.port}"

    def start(self, timeout_s: float = 10.0) -> ServerThread:
        """Start serving; raise RuntimeError if uvicorn is not up within `timeout_s`."""
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"simulator server on port {self.port} failed to start")
            time.sleep(0.01)
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop serving and wait for the thread to end."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        self._sock.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
