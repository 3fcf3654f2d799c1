"""One simulated ComfyUI server per simulated Vast instance, each on its own loopback port.

Plugged into `VastState.endpoints`, it makes every rented instance publish a distinct
`8188/tcp` host port, as Vast maps each instance's port to its own random public port.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from sim.comfy import ComfySimConfig, create_app
from sim.server import ServerThread


class ComfyFleet:
    """Starts a ComfyUI simulator when an instance is created and stops it when it is gone."""

    def __init__(
        self, config: Callable[[], ComfySimConfig] = ComfySimConfig, host: str = "127.0.0.1"
    ) -> None:
        self._config = config
        self._host = host
        self._servers: dict[int, ServerThread] = {}
        self._lock = threading.Lock()

    def open(self, instance_id: int) -> int:
        """Start instance `instance_id`'s ComfyUI; the port it listens on."""
        server = ServerThread(create_app(self._config()), host=self._host).start()
        with self._lock:
            self._servers[instance_id] = server
        return server.port

    def close(self, instance_id: int) -> None:
        """Stop instance `instance_id`'s ComfyUI in the background (the caller holds a lock)."""
        with self._lock:
            server = self._servers.pop(instance_id, None)
        if server is not None:
            threading.Thread(target=server.stop, daemon=True).start()

    def ports(self) -> dict[int, int]:
        """Instance id -> port of every server running now."""
        with self._lock:
            return {instance_id: server.port for instance_id, server in self._servers.items()}

    def close_all(self) -> None:
        """Stop every server and wait for them."""
        with self._lock:
            servers = list(self._servers.values())
            self._servers.clear()
        for server in servers:
            server.stop()
