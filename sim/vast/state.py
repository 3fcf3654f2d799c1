"""The simulated Vast.ai account: its market, its instances and its clock, behind one lock.

Pure state, no HTTP: the endpoints in `sim.vast.endpoints` map requests onto it. Timings,
faults and the clock are plain attributes so a test (through the `/_sim/` control API) can
script any scenario.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sim.vast import billing
from sim.vast.faults import Faults
from sim.vast.instance import SimInstance, Timings
from sim.vast.limits import Intervals
from sim.vast.market import Market, priced


class ComfyEndpoints(Protocol):
    """Starts and stops the ComfyUI server one simulated instance exposes."""

    def open(self, instance: SimInstance, clock: Callable[[], float]) -> int:
        """Start `instance`'s ComfyUI as its launch asks (image, env, offer, boot time) on the
        sim `clock`; the loopback port it listens on."""
        ...

    def close(self, instance_id: int) -> None:
        """Stop instance `instance_id`'s ComfyUI (it was destroyed or vanished)."""
        ...


@dataclass
class VastState:
    """Everything the simulated account holds; every access goes through `lock`."""

    api_key: str = "sim-key"
    comfy_host: str = "127.0.0.1"
    comfy_port: int | None = 8188
    seed: int = 0
    timings: Timings = field(default_factory=Timings)
    faults: Faults = field(default_factory=Faults)
    credit: float = 250.0
    offset_s: float = 0.0
    lock: threading.RLock = field(default_factory=threading.RLock)
    instances: dict[int, SimInstance] = field(default_factory=dict)
    calls: list[tuple[str, str, int]] = field(default_factory=list)
    """(method, endpoint, status) of every API call, for tests counting provider calls."""
    intervals: Intervals = field(default_factory=Intervals)
    """When each caller last called each endpoint (enforced when `faults.min_intervals`)."""
    endpoints: ComfyEndpoints | None = None
    """When set, each instance gets its own ComfyUI server instead of sharing `comfy_port`."""

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.market = Market(self.rng)
        self._next_instance = 1_000_001
        self._open_endpoints: set[int] = set()
        self.market.refill(12)

    @property
    def offers(self) -> dict[int, dict[str, Any]]:
        """The offers on the market now, by id."""
        return self.market.offers

    def now(self) -> float:
        """Sim time: wall-clock epoch seconds plus whatever `/_sim/advance` added."""
        return time.time() + self.offset_s

    def create(self, offer_id: int, body: dict[str, Any]) -> SimInstance:
        """Rent `offer_id`; the caller checked it is on the market."""
        instance_id = self._next_instance
        self._next_instance += 1
        now = self.now()
        disk_gb = float(body.get("disk") or 10)
        api_key = f"inst-{self.rng.getrandbits(64):016x}"
        instance = SimInstance(
            id=instance_id,
            offer=priced(self.market.take(offer_id), disk_gb),
            label=body.get("label"),
            image=str(body.get("image", "")),
            env=dict(body.get("env") or {}),
            onstart=body.get("onstart"),
            disk=disk_gb,
            created_at=now,
            comfy_port=self.comfy_port,
            timings=Timings(**vars(self.timings)),
            stuck_loading=self.faults.stuck_loading,
            visible_at=now + self.faults.list_lag_s,
            api_key=api_key,
        )
        if self.endpoints is not None:
            instance.comfy_port = self.endpoints.open(instance, self.now)
            self._open_endpoints.add(instance_id)
        self.instances[instance_id] = instance
        return instance

    def find(self, instance_id: int) -> SimInstance | None:
        """The instance `instance_id` if it exists right now."""
        instance = self.instances.get(instance_id)
        if instance is None or not instance.alive(self.now()):
            return None
        return instance

    def reap(self, now: float) -> None:
        """Stop the ComfyUI servers of instances that no longer exist."""
        if self.endpoints is None:
            return
        for instance_id in sorted(self._open_endpoints):
            if not self.instances[instance_id].alive(now):
                self._open_endpoints.discard(instance_id)
                self.endpoints.close(instance_id)

    def listed(self, now: float) -> list[SimInstance]:
        """Instances the list endpoint shows right now (lagging creations are hidden)."""
        self.reap(now)
        return [
            inst
            for inst in sorted(self.instances.values(), key=lambda i: i.id)
            if inst.alive(now) and now >= inst.visible_at
        ]

    def destroy(self, instance: SimInstance) -> None:
        """Destroy: gone now, or after the configured linger."""
        now = self.now()
        instance.destroyed_at = now
        instance.gone_at = now + self.faults.destroy_linger_s

    def render(self, instance: SimInstance, now: float) -> dict[str, Any]:
        """The instance as the v1 list and show-one return it, quirks included."""
        return instance.as_listed(now, self.comfy_host)

    def charges(self, start: float, end: float) -> list[dict[str, Any]]:
        """Per-instance charges between two epoch times (see `sim.vast.billing.charges`)."""
        return billing.charges(self.instances.values(), start, end, self.now())

    def state_dump(self) -> dict[str, Any]:
        """Every instance ever created with whether it is alive (for leak checks)."""
        now = self.now()
        return {
            "now": now,
            "credit": self.credit,
            "instances": [
                {
                    "id": inst.id,
                    "label": inst.label,
                    "alive": inst.alive(now),
                    "status": inst.status(now),
                    "intended_status": inst.intended_status,
                    "destroyed_at": inst.destroyed_at,
                    "created_at": inst.created_at,
                    "comfy_port": inst.comfy_port,
                    "dph_total": inst.offer["dph_total"],
                    "machine_id": inst.offer["machine_id"],
                }
                for inst in sorted(self.instances.values(), key=lambda i: i.id)
            ],
        }


def account_of(app: Any) -> VastState:
    """The account a simulator app serves (`app.state.vast`, set by `create_app`)."""
    state: VastState = app.state.vast
    return state
