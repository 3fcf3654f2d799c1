"""The simulated Vast.ai account: offers, instances and their lifecycle, on a settable clock.

Pure state, no HTTP: `sim.vast.app` maps requests onto it. Timings, faults and the clock are
plain attributes so a test (through the `/_sim/` control API) can script any scenario.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

HOURS_PER_MONTH = 720
"""Vast prices storage per GB-month; the hourly total spreads it over a 30-day month."""

GPU_MODELS = [
    ("RTX 4090", 24_564),
    ("RTX 3090", 24_576),
    ("RTX A6000", 49_140),
    ("A100 SXM4", 81_920),
]


@dataclass
class Timings:
    """Seconds an instance spends in each provisioning step (sim clock)."""

    null_s: float = 1.0
    created_s: float = 1.0
    loading_s: float = 3.0


@dataclass
class Faults:
    """Switchable misbehaviour, each as Vast or the network really showed it."""

    rate_limit_p: float = 0.0
    """Probability that a call answers 429 (in one of the three body shapes Vast uses)."""
    retry_after_s: float | None = None
    server_error_p: float = 0.0
    """Probability that a call answers 502/503/504."""
    list_outage: bool = False
    """The v1 list answers 500."""
    list_lag_s: float = 0.0
    """A new instance is absent from the list this long after its creation."""
    create_then_fail: str | None = None
    """`"502"`: create the instance, then answer 502. `"hang"`: create it, then stall."""
    hang_s: float = 5.0
    destroy_fail_times: int = 0
    """The next N destroys answer 500 and do nothing."""
    destroy_linger_s: float = 0.0
    """A destroy answers success, but the instance stays listed (running) this long."""
    stuck_loading: bool = False
    """New instances never leave `loading`."""
    offer_vanish_p: float = 0.0
    """Probability that an offer found by search is rented by someone else before our create."""
    latency_s: float = 0.0
    """Added to every API response."""
    search_quota_exceeded: bool = False
    """Searches answer 429 `search_quota_exceeded` (Vast's daily quota; resets at midnight)."""


@dataclass
class SimInstance:
    """One rented instance."""

    id: int
    offer: dict[str, Any]
    """The offer rented, priced for this instance's disk (`dph_total` includes storage)."""
    label: str | None
    image: str
    env: dict[str, str]
    onstart: str | None
    disk: float
    created_at: float
    comfy_port: int | None
    timings: Timings
    stuck_loading: bool = False
    forced_status: str | None = None
    forced_at: float | None = None
    status_msg: str | None = None
    destroyed_at: float | None = None
    gone_at: float | None = None
    visible_at: float = 0.0
    api_key: str = ""

    def boot_done_at(self) -> float | None:
        """When the container reaches `running` on its own (None: it never does)."""
        if self.stuck_loading:
            return None
        timings = self.timings
        return self.created_at + timings.null_s + timings.created_s + timings.loading_s

    def force(self, status: str | None, now: float) -> None:
        """An operator (or the user's stop/start) sets the state from `now` on."""
        self.forced_status = status
        self.forced_at = now if status is not None else None

    def status(self, now: float) -> str | None:
        """`actual_status` at sim time `now` (None while provisioning, as Vast reports it)."""
        if self.forced_status is not None:
            return self.forced_status
        age = now - self.created_at
        if age < self.timings.null_s:
            return None
        if age < self.timings.null_s + self.timings.created_s:
            return "created"
        running_at = self.boot_done_at()
        if running_at is None or now < running_at:
            return "loading"
        return "running"

    def billed_seconds(self, start: float, end: float) -> tuple[float, float]:
        """(GPU seconds, storage seconds) inside [start, end].

        Vast bills storage for every second the instance exists, and the GPU only while the
        container runs (not while it is created, loading, stopped or exited).
        """
        alive_until = min(end, self.gone_at if self.gone_at is not None else end)
        storage = max(0.0, alive_until - max(start, self.created_at))
        running_at = self.boot_done_at()
        if running_at is None:
            return 0.0, storage
        running_until = alive_until
        if self.forced_at is not None:
            running_until = min(running_until, self.forced_at)
        return max(0.0, running_until - max(start, running_at)), storage


class ComfyEndpoints(Protocol):
    """Starts and stops the ComfyUI server one simulated instance exposes."""

    def open(self, instance: SimInstance, clock: Callable[[], float]) -> int:
        """Start `instance`'s ComfyUI as its launch asks (image, env, offer, boot time) on the
        sim `clock`; the loopback port it listens on."""
        ...

    def close(self, instance_id: int) -> None:
        """Stop instance `instance_id`'s ComfyUI (it was destroyed or vanished)."""
        ...


def storage_pricing(dph_base: float, storage_cost: float, disk_gb: float) -> dict[str, float]:
    """An offer's storage-inclusive hourly prices for `disk_gb` of disk, as Vast reports them."""
    storage_per_hour = storage_cost * disk_gb / HOURS_PER_MONTH
    return {
        "storage_total_cost": round(storage_per_hour, 6),
        "dph_total": round(dph_base + storage_per_hour, 6),
    }


def priced(offer: dict[str, Any], disk_gb: float) -> dict[str, Any]:
    """A copy of `offer` priced for `disk_gb` of allocated storage."""
    return {**offer, **storage_pricing(offer["dph_base"], offer["storage_cost"], disk_gb)}


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
    offers: dict[int, dict[str, Any]] = field(default_factory=dict)
    taken_offers: set[int] = field(default_factory=set)
    calls: list[tuple[str, str, int]] = field(default_factory=list)
    """(method, path, status) of every API call, for tests counting provider calls."""
    endpoints: ComfyEndpoints | None = None
    """When set, each instance gets its own ComfyUI server instead of sharing `comfy_port`."""

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self._next_instance = 1_000_001
        self._next_offer = 5_000_001
        self._open_endpoints: set[int] = set()
        self.refill_offers(12)

    def now(self) -> float:
        """Sim time: wall-clock epoch seconds plus whatever `/_sim/advance` added."""
        return time.time() + self.offset_s

    def refill_offers(self, count: int) -> None:
        """Put `count` fresh offers on the market (offers are single use)."""
        for _ in range(count):
            gpu, vram = self.rng.choice(GPU_MODELS)
            offer_id = self._next_offer
            self._next_offer += 1
            dph_base = round(self.rng.uniform(0.25, 1.5), 4)
            storage_cost = round(self.rng.uniform(0.05, 0.3), 3)
            self.offers[offer_id] = {
                "id": offer_id,
                "ask_contract_id": offer_id,
                "bundle_id": offer_id + 7,
                "machine_id": self.rng.randint(10_000, 99_999),
                "host_id": self.rng.randint(100, 999),
                "num_gpus": 1,
                "gpu_name": gpu,
                "gpu_ram": vram,
                "gpu_total_ram": vram,
                "cuda_max_good": 12.8,
                "cpu_cores_effective": 16.0,
                "cpu_ram": 64_000,
                "disk_space": round(self.rng.uniform(60, 500), 1),
                "inet_down": round(self.rng.uniform(200, 2000), 1),
                "inet_up": round(self.rng.uniform(100, 1000), 1),
                "direct_port_count": self.rng.choice([0, 20, 100]),
                "dph_base": dph_base,
                "storage_cost": storage_cost,
                **storage_pricing(dph_base, storage_cost, 5.0),
                "reliability": round(self.rng.uniform(0.95, 0.999), 4),
                "reliability2": round(self.rng.uniform(0.95, 0.999), 4),
                "score": round(self.rng.uniform(100, 400), 2),
                "verification": "verified",
                "verified": True,
                "external": False,
                "rentable": True,
                "rented": False,
                "geolocation": self.rng.choice(["Washington, US", "Quebec, CA", "Bavaria, DE"]),
                "hosting_type": self.rng.choice([0, 1]),
            }

    def churn(self, keep: set[int], count: int = 2) -> None:
        """The market moves: up to `count` offers outside `keep` leave, as many new ones appear.

        Offers a search just returned are kept, so a client can still rent what it saw.
        """
        movable = sorted(set(self.offers) - keep)
        for offer_id in self.rng.sample(movable, min(count, len(movable))):
            self.offers.pop(offer_id)
            self.taken_offers.add(offer_id)
        self.refill_offers(min(count, len(movable)))

    def create(self, offer_id: int, body: dict[str, Any]) -> SimInstance:
        """Rent `offer_id`; the caller checked it is available."""
        offer = self.offers.pop(offer_id)
        self.taken_offers.add(offer_id)
        instance_id = self._next_instance
        self._next_instance += 1
        now = self.now()
        disk_gb = float(body.get("disk") or 10)
        instance = SimInstance(
            id=instance_id,
            offer=priced(offer, disk_gb),
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
            api_key=f"inst-{self.rng.getrandbits(64):016x}",
        )
        if self.endpoints is not None:
            instance.comfy_port = self.endpoints.open(instance, self.now)
            self._open_endpoints.add(instance_id)
        self.instances[instance_id] = instance
        self.refill_offers(1)
        return instance

    def alive(self, instance: SimInstance, now: float) -> bool:
        """Whether the instance still exists (and bills) at `now`."""
        return instance.gone_at is None or now < instance.gone_at

    def reap(self, now: float) -> None:
        """Stop the ComfyUI servers of instances that no longer exist."""
        if self.endpoints is None:
            return
        for instance_id in sorted(self._open_endpoints):
            if not self.alive(self.instances[instance_id], now):
                self._open_endpoints.discard(instance_id)
                self.endpoints.close(instance_id)

    def listed(self, now: float) -> list[SimInstance]:
        """Instances the list endpoint shows right now (lagging creations are hidden)."""
        self.reap(now)
        return [
            inst
            for inst in sorted(self.instances.values(), key=lambda i: i.id)
            if self.alive(inst, now) and now >= inst.visible_at
        ]

    def destroy(self, instance: SimInstance) -> None:
        """Destroy: gone now, or after the configured linger."""
        now = self.now()
        instance.destroyed_at = now
        instance.gone_at = now + self.faults.destroy_linger_s

    def render(self, instance: SimInstance, now: float) -> dict[str, Any]:
        """The instance as the v1 list and show-one return it, quirks included."""
        status = instance.status(now)
        offer = instance.offer
        running = status == "running" and instance.comfy_port is not None
        return {
            "id": instance.id,
            "machine_id": offer["machine_id"],
            "host_id": offer["host_id"],
            "actual_status": status,
            "intended_status": "running",
            "cur_state": "running",
            "next_state": "running",
            "status_msg": instance.status_msg
            or ("success, running " + instance.image if status == "running" else None),
            "label": instance.label,
            "public_ipaddr": f"{self.comfy_host}\n",
            "ports": (
                {
                    "8188/tcp": [{"HostIp": "0.0.0.0", "HostPort": str(instance.comfy_port)}],
                    "22/tcp": None,
                }
                if running
                else None
            ),
            "ssh_host": "ssh5.vast.ai",
            "ssh_port": 20_000 + instance.id % 10_000,
            "direct_port_start": -1,
            "direct_port_end": -1,
            "dph_total": offer["dph_total"],
            "dph_base": offer["dph_base"],
            "storage_cost": offer["storage_cost"],
            "storage_total_cost": offer["storage_total_cost"],
            "gpu_name": offer["gpu_name"],
            "num_gpus": offer["num_gpus"],
            "gpu_ram": offer["gpu_ram"],
            "gpu_util": None,
            "start_date": instance.created_at,
            "end_date": None,
            "uptime_mins": None
            if status != "running"
            else round((now - instance.created_at) / 60, 2),
            "image_uuid": instance.image,
            "onstart": instance.onstart,
            "extra_env": [[key, value] for key, value in instance.env.items()],
            "geolocation": offer["geolocation"],
            "verification": "verified",
            "reliability2": offer["reliability2"],
            "is_bid": False,
            "disk_space": instance.disk,
        }

    def charges(self, start: float, end: float) -> list[dict[str, Any]]:
        """Per-instance charges between two epoch times, billed per second.

        Storage (`storage_total_cost` per hour) bills while the instance exists; the GPU
        (`dph_base` per hour) only while it runs. Items split the two, as Vast's do.
        """
        results = []
        end = min(end, self.now())
        for inst in sorted(self.instances.values(), key=lambda i: i.id):
            begin = max(start, inst.created_at)
            finish = min(end, inst.gone_at if inst.gone_at is not None else end)
            if finish <= begin:
                continue
            gpu_s, storage_s = inst.billed_seconds(begin, finish)
            gpu = round(inst.offer["dph_base"] * gpu_s / 3600, 6)
            disk = round(inst.offer["storage_total_cost"] * storage_s / 3600, 6)
            results.append(
                {
                    "start": begin,
                    "end": finish,
                    "type": "instance",
                    "source": f"instance-{inst.id}",
                    "description": f"{inst.offer['gpu_name']} instance",
                    "amount": round(gpu + disk, 6),
                    "metadata": {"label": inst.label, "template_id": None},
                    "items": [
                        {"type": "gpu", "amount": gpu, "quantity": round(gpu_s / 3600, 6)},
                        {"type": "disk", "amount": disk, "quantity": round(storage_s / 3600, 6)},
                    ],
                }
            )
        return results

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
                    "alive": self.alive(inst, now),
                    "status": inst.status(now),
                    "destroyed_at": inst.destroyed_at,
                    "created_at": inst.created_at,
                    "comfy_port": inst.comfy_port,
                    "dph_total": inst.offer["dph_total"],
                    "machine_id": inst.offer["machine_id"],
                }
                for inst in sorted(self.instances.values(), key=lambda i: i.id)
            ],
        }
