"""Simulators on loopback for tests, with a small client for their `/_sim/` control API."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from sim.comfy import ComfySimConfig
from sim.comfy import create_app as create_comfy_app
from sim.server import ServerThread
from sim.vast import Timings, VastState, create_app

SIM_KEY = "sim-key"


class VastSim:
    """A running Vast simulator and its control API."""

    def __init__(self, server: ServerThread, state: VastState) -> None:
        self.server = server
        self.state = state
        self.url = server.url
        self._control = httpx.Client(base_url=server.url, timeout=10)

    def faults(self, **faults: Any) -> None:
        """Switch faults on or off (see sim.vast.state.Faults)."""
        self._control.post("/_sim/faults", json=faults).raise_for_status()

    def advance(self, seconds: float) -> None:
        """Move the simulator's clock forward."""
        self._control.post("/_sim/advance", json={"seconds": seconds}).raise_for_status()

    def seed(self, label: str | None, *, running: bool = True) -> int:
        """Create an instance out of band (an orphan or a foreign one); return its id."""
        reply = self._control.post("/_sim/instances", json={"label": label, "running": running})
        reply.raise_for_status()
        return int(reply.json()["id"])

    def operate(self, instance_id: int | str, action: str, **extra: Any) -> None:
        """An operator action on one instance: vanish, exited, offline, comfy_port, ..."""
        reply = self._control.post(
            f"/_sim/instances/{instance_id}", json={"action": action, **extra}
        )
        reply.raise_for_status()

    def dump(self) -> dict[str, Any]:
        """Every instance ever created, alive or not."""
        state: dict[str, Any] = self._control.get("/_sim/state").json()
        return state

    def alive(self) -> list[dict[str, Any]]:
        """The instances that exist (and bill) right now."""
        return [inst for inst in self.dump()["instances"] if inst["alive"]]

    def close(self) -> None:
        self._control.close()


@contextmanager
def vast_sim(**state: Any) -> Iterator[VastSim]:
    """A Vast simulator whose instances are running as soon as they exist (unless told)."""
    state.setdefault("timings", Timings(null_s=0, created_s=0, loading_s=0))
    vast_state = VastState(api_key=SIM_KEY, **state)
    with ServerThread(create_app(vast_state)) as server:
        sim = VastSim(server, vast_state)
        try:
            yield sim
        finally:
            sim.close()


@contextmanager
def comfy_behind_vast(
    comfy_config: ComfySimConfig | None = None, **vast_state: Any
) -> Iterator[tuple[ComfySim, VastSim]]:
    """A ComfyUI simulator and a Vast simulator whose instances serve it (booting at once
    unless `timings` says otherwise)."""
    with comfy_sim(comfy_config) as comfy:
        port = int(comfy.url.rsplit(":", 1)[1])
        with vast_sim(comfy_port=port, **vast_state) as vast:
            yield comfy, vast


@contextmanager
def comfy_sim(config: ComfySimConfig | None = None) -> Iterator[ComfySim]:
    """A ComfyUI simulator on loopback; `.url`, and `.state` to flip faults directly."""
    app = create_comfy_app(config)
    with ServerThread(app) as server:
        yield ComfySim(url=server.url, state=app.state.comfy)


@dataclass
class ComfySim:
    """A running ComfyUI simulator."""

    url: str
    state: Any
