"""One reused ComfyClient per ComfyUI server, so a job does not pay for a new connection pool
and TLS context (22–28 ms of CPU each) every time it runs.

Clients are keyed by URL *and* credentials: an instance whose token changes gets a new client.
The caller brings the credentials (a claim read its instance's token with the instance).
The cache is bounded; the least recently used client is closed when it overflows.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping

from core.comfy.client import ComfyClient

MAX_CLIENTS = 64


class ComfyClients:
    """A callable `url -> ComfyClient` handing out one shared, long-lived client per server."""

    def __init__(self, *, max_clients: int = MAX_CLIENTS) -> None:
        self._max_clients = max_clients
        self._clients: OrderedDict[tuple[str, tuple[tuple[str, str], ...]], ComfyClient]
        self._clients = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, url: str, headers: Mapping[str, str] | None = None) -> ComfyClient:
        """The client for `url` authenticating with `headers` (none: no credentials),
        created on first use; callers must not close it (`close()` here releases them all)."""
        headers = dict(headers or {})
        key = (url.rstrip("/"), tuple(sorted(headers.items())))
        evicted: list[ComfyClient] = []
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = ComfyClient(url, headers=headers)
                self._clients[key] = client
            self._clients.move_to_end(key)
            while len(self._clients) > self._max_clients:
                evicted.append(self._clients.popitem(last=False)[1])
        for old in evicted:
            old.close()
        return client

    def close(self) -> None:
        """Close every client (process shutdown)."""
        with self._lock:
            clients, self._clients = list(self._clients.values()), OrderedDict()
        for client in clients:
            client.close()
