"""One simulated rented instance: its provisioning timeline, stops and restarts, billed seconds.

Pure functions of sim time: an instance never changes on its own, its status is computed from
when it was created and what an operator (or the user) did to it since.

Stop and start follow Vast (VAST.md §1.9, the `vastai` client's `stop`/`start instance`, and
SkyPilot resuming stopped instances): a stop halts the container, keeps the disk (storage still
bills) and releases the GPU; a start asks for that machine's GPU back. If someone else rented it
meanwhile the instance stays in the console's "Scheduling": `intended_status` running, but
`actual_status` and `cur_state` stopped, for as long as the GPU is taken (indefinitely here).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Timings:
    """Seconds an instance spends in each step (sim clock), and how fast a freed GPU goes."""

    null_s: float = 1.0
    created_s: float = 1.0
    loading_s: float = 3.0
    restart_s: float = 45.0
    """From a start that found its GPU free to `running`: the image and the models are on disk
    already, so only the container and ComfyUI start (an estimate, not a measurement)."""
    gpu_taken_half_life_s: float = 7200.0
    """How long a stopped instance's GPU stays free with even odds: after that long stopped,
    a start finds it rented by someone else half the time (an assumption; bench S varies it)."""


def gpu_taken_probability(stopped_s: float, half_life_s: float) -> float:
    """The chance that a GPU released `stopped_s` ago was rented by someone else since."""
    if stopped_s <= 0:
        return 0.0
    if half_life_s <= 0:
        return 1.0
    return float(1.0 - 0.5 ** (stopped_s / half_life_s))


@dataclass
class Restart:
    """One start of a stopped instance: when it was asked for, when it ran, when it stopped."""

    requested_at: float
    running_at: float | None
    """None: the GPU was taken meanwhile and the start never completes."""
    stopped_at: float | None = None


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
    intended_status: str = "running"
    """What the user last asked for: `running` or `stopped`."""
    stopped_at: float | None = None
    """When the user last stopped it (None: never, or started again since)."""
    first_stop_at: float | None = None
    """When the first stop ended the boot's running span."""
    restarts: list[Restart] = field(default_factory=list)

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

    def stop(self, now: float) -> None:
        """The user's `{"state": "stopped"}`: halt the container, keep the disk, free the GPU."""
        if self.intended_status == "stopped":
            return
        self.intended_status = "stopped"
        self.stopped_at = now
        if self.restarts:
            self.restarts[-1].stopped_at = now
        else:
            self.first_stop_at = now

    def stopped_since(self) -> float | None:
        """Since when the container is stopped, by the user or by Vast (None: it is not)."""
        if self.intended_status == "stopped":
            return self.stopped_at
        if self.forced_status == "stopped":
            return self.forced_at
        return None

    def start(self, now: float, gpu_taken: bool, restart_s: float) -> None:
        """The user's `{"state": "running"}` on a stopped instance (a no-op on a running one,
        and on one already starting).

        `gpu_taken`: someone rented the machine's GPU while it was stopped, so the start stays
        scheduling; otherwise the container runs again `restart_s` later.
        """
        if self.forced_status == "stopped" and self.forced_at is not None:
            self.stop(self.forced_at)  # Vast stopped it (no credit, outbid): a stop like ours
            self.force(None, now)
        if self.intended_status != "stopped":
            return
        self.intended_status = "running"
        self.stopped_at = None
        self.restarts.append(Restart(now, None if gpu_taken else now + restart_s))

    def alive(self, now: float) -> bool:
        """Whether the instance still exists (and bills) at `now`."""
        return self.gone_at is None or now < self.gone_at

    def status(self, now: float) -> str | None:
        """`actual_status` at sim time `now` (None while provisioning, as Vast reports it)."""
        if self.forced_status is not None:
            return self.forced_status
        if self.intended_status == "stopped":
            return "stopped"
        if self.restarts:
            running_at = self.restarts[-1].running_at
            if running_at is None:
                return "stopped"  # scheduling: waiting for a GPU someone else holds
            return "loading" if now < running_at else "running"
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
        container runs (not while it is created, loading, stopped, scheduling or exited).
        """
        alive_until = min(end, self.gone_at if self.gone_at is not None else end)
        storage = max(0.0, alive_until - max(start, self.created_at))
        spans = [(self.boot_done_at(), self.first_stop_at)]
        spans += [(restart.running_at, restart.stopped_at) for restart in self.restarts]
        gpu = 0.0
        for running_at, stopped_at in spans:
            if running_at is None:
                continue
            until = min(t for t in (stopped_at, self.forced_at, alive_until) if t is not None)
            gpu += max(0.0, until - max(start, running_at))
        return gpu, storage

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
            "intended_status": self.intended_status,
            "cur_state": "stopped" if status == "stopped" else "running",
            "next_state": self.intended_status,
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
