"""One simulated rented instance: its provisioning timeline, forced states and billed seconds.

Pure functions of sim time: an instance never changes on its own, its status is computed from
when it was created and what an operator (or the user) did to it since.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Timings:
    """Seconds an instance spends in each provisioning step (sim clock)."""

    null_s: float = 1.0
    created_s: float = 1.0
    loading_s: float = 3.0


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

    def alive(self, now: float) -> bool:
        """Whether the instance still exists (and bills) at `now`."""
        return self.gone_at is None or now < self.gone_at

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

    def as_listed(self, now: float, public_ip: str) -> dict[str, Any]:
        """The instance as the v1 list and show-one return it, quirks included."""
        status = self.status(now)
        offer = self.offer
        running = status == "running" and self.comfy_port is not None
        return {
            "id": self.id,
            "machine_id": offer["machine_id"],
            "host_id": offer["host_id"],
            "actual_status": status,
            "intended_status": "running",
            "cur_state": "running",
            "next_state": "running",
            "status_msg": self.status_msg
            or ("success, running " + self.image if status == "running" else None),
            "label": self.label,
            "public_ipaddr": f"{public_ip}\n",
            "ports": (
                {
                    "8188/tcp": [{"HostIp": "0.0.0.0", "HostPort": str(self.comfy_port)}],
                    "22/tcp": None,
                }
                if running
                else None
            ),
            "ssh_host": "ssh5.vast.ai",
            "ssh_port": 20_000 + self.id % 10_000,
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
            "start_date": self.created_at,
            "end_date": None,
            "uptime_mins": None if status != "running" else round((now - self.created_at) / 60, 2),
            "image_uuid": self.image,
            "onstart": self.onstart,
            "extra_env": [[key, value] for key, value in self.env.items()],
            "geolocation": offer["geolocation"],
            "verification": "verified",
            "reliability2": offer["reliability2"],
            "is_bid": False,
            "disk_space": self.disk,
        }
