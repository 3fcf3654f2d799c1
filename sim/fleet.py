"""One simulated ComfyUI server per simulated Vast instance, each on its own loopback port.

Plugged into `VastState.endpoints`, it makes every rented instance publish a distinct
`8188/tcp` host port, as Vast maps each instance's port to its own random public port. Each
server is started the way the instance's launch asks: behind the `OPEN_BUTTON_TOKEN` proxy,
with the `--preview-method` of `COMFYUI_ARGS`, and (when the launch lists `AIK_MODEL_<n>`
downloads) provisioned on the Vast clock: once the container runs, ComfyUI restarts while
the files arrive over the offer's `inet_down` link, the first image's (`AIK_FIRST`) first.
An image the fleet knows as prebuilt has its models already, so nothing is downloaded.
Files asked for later (the want file the start script watches) arrive over the same link.
"""

from __future__ import annotations

import shlex
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from sim.comfy import ComfySimConfig, create_app
from sim.comfy.config import PREVIEW_METHODS
from sim.comfy.provision import (
    ModelFile,
    Provisioning,
    download_s,
    files_from_env,
    installed,
)
from sim.server import ServerThread
from sim.vast.instance import SimInstance

DEFAULT_LINK_MBPS = 1000.0
FIRST_ENV = "AIK_FIRST"
"""How many of the launch's downloads (in number order) a first image needs."""


@dataclass(frozen=True)
class StartModel:
    """How a rented instance's start behaves: per-connection download cap (a CDN serves one
    stream at a bounded rate), downloads at once (the start script's), ComfyUI's restart
    time, and which images already hold every model."""

    stream_mbps: float = 500.0
    parallel: int = 4
    segments: int = 8
    """Connections per file (the start script's aria2c `-x8 -s8`)."""
    hash_gb_per_s: float = 1.0
    """sha256 speed of the start script's check; the last file is checked after it lands."""
    comfy_start_s: float = 20.0
    prebuilt_images: frozenset[str] = field(default_factory=frozenset)


class ComfyFleet:
    """Starts a ComfyUI simulator when an instance is created and stops it when it is gone."""

    def __init__(
        self,
        config: Callable[[], ComfySimConfig] = ComfySimConfig,
        host: str = "127.0.0.1",
        start: StartModel | None = None,
    ) -> None:
        self._config = config
        self._host = host
        self.start = start or StartModel()
        self._servers: dict[int, ServerThread] = {}
        self._configs: dict[int, ComfySimConfig] = {}
        self._lock = threading.Lock()

    def open(self, instance: SimInstance, clock: Callable[[], float]) -> int:
        """Start `instance`'s ComfyUI as its launch asks, on the Vast `clock`; its port."""
        config = self.configure(instance, clock)
        server = ServerThread(create_app(config), host=self._host).start()
        with self._lock:
            self._servers[instance.id] = server
            self._configs[instance.id] = config
        return server.port

    def config_of(self, instance_id: int) -> ComfySimConfig | None:
        """The config instance `instance_id`'s ComfyUI was started with (its start's timings)."""
        with self._lock:
            return self._configs.get(instance_id)

    def configure(self, instance: SimInstance, clock: Callable[[], float]) -> ComfySimConfig:
        """The server config for `instance`: token, preview method, and its provisioning."""
        config = self._config()
        config.clock = clock
        config.token = instance.env.get("OPEN_BUTTON_TOKEN") or config.token
        config.preview_method = _preview_method(instance.env.get("COMFYUI_ARGS", ""), config)
        files = files_from_env(instance.env)
        if not files:
            return config
        config.models = installed(files)
        first_count = min(len(files), int(instance.env.get(FIRST_ENV, len(files))))
        first, rest = files[:first_count], files[first_count:]
        link_mbps = float(instance.offer.get("inet_down") or DEFAULT_LINK_MBPS)
        if instance.image in self.start.prebuilt_images:
            first_s = rest_s = 0.0  # verified at build time: the stamps spare download and hash
        else:
            first_s, rest_s = self._fetch_s(first, link_mbps), self._fetch_s(rest, link_mbps)
        running_at = instance.boot_done_at()
        config.provisioning = Provisioning(
            started_at=float("inf") if running_at is None else running_at,
            files=files,
            download_s=first_s,
            comfy_start_s=self.start.comfy_start_s,
            first_count=first_count,
            rest_s=rest_s,
            fetch_s=lambda asked: self._fetch_s(asked, link_mbps),
        )
        return config

    def _fetch_s(self, files: list[ModelFile], link_mbps: float) -> float:
        """Seconds the start script takes to fetch and check `files` over `link_mbps`."""
        sizes = [item.size_bytes for item in files]
        if not sizes:
            return 0.0
        fetch_s = download_s(
            sizes,
            link_mbps=link_mbps,
            stream_mbps=self.start.stream_mbps,
            parallel=self.start.parallel,
            segments=self.start.segments,
        )
        return fetch_s + max(sizes) / 1e9 / self.start.hash_gb_per_s

    def close(self, instance_id: int) -> None:
        """Stop instance `instance_id`'s ComfyUI in the background (the caller holds a lock)."""
        with self._lock:
            server = self._servers.pop(instance_id, None)
            self._configs.pop(instance_id, None)
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
            self._configs.clear()
        for server in servers:
            server.stop()


def _preview_method(args: str, config: ComfySimConfig) -> str:
    """The `--preview-method` in ComfyUI's command line, else the config's."""
    words = shlex.split(args)
    for index, word in enumerate(words[:-1]):
        if word == "--preview-method" and words[index + 1] in PREVIEW_METHODS:
            return words[index + 1]
    return config.preview_method
