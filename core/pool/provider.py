"""What the pool needs from a GPU provider, and the plain values that cross that line.

Every provider (Vast.ai, the static list of an operator's own GPUs, a test double) speaks
this protocol. Its promises matter more than its shape:

- `list_instances` raises `ProviderError` when it cannot see; it never answers "none".
- `create` either returns the provider id, raises `OfferUnavailable` when nothing was created,
  or raises `ProviderUnavailable` when the outcome is unknown (the next list decides).
- `destroy` is idempotent: an instance already gone counts as destroyed.
- `stop` keeps an instance's disk (still billed) and releases its GPU; `start` asks for that GPU
  back and may never get it. Neither waits: the next list shows what happened, and whoever
  started an instance gives up on it (destroys it) after a deadline of its own.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol


class RemoteState(enum.StrEnum):
    """A provider's many instance states, folded into the three the pool reasons about."""

    PENDING = "pending"
    """Provisioning, loading, rebooting, or a state we do not know yet."""
    RUNNING = "running"
    """The container runs; ComfyUI may still be starting."""
    FAILED = "failed"
    """It will not become usable on its own: exited, stopped, offline, frozen, OCI error."""


@dataclass(frozen=True)
class OfferFilter:
    """The pool's requirements for a machine to rent."""

    min_vram_gb: int = 16
    max_price_per_hour_usd: Decimal = Decimal("1.00")
    gpu_names: tuple[str, ...] = ()
    min_reliability: float = 0.98
    min_disk_gb: int = 40
    excluded_machine_ids: tuple[str, ...] = ()
    min_inet_down_mbps: float = 0.0
    """The provider's measured download speed a machine must reach (0: any): a cold start
    spends most of its time downloading models."""


@dataclass(frozen=True)
class Offer:
    """A machine on offer, cheapest first when a provider returns several."""

    id: str
    machine_id: str
    gpu_name: str
    num_gpus: int
    price_per_hour_usd: Decimal
    vram_gb: int = 0
    reliability: float = 1.0


@dataclass(frozen=True)
class LaunchSpec:
    """What to run on a rented machine: the ComfyUI image and how to start it."""

    image: str
    disk_gb: int
    env: dict[str, str] = field(default_factory=dict)
    onstart: str = ""
    comfy_port: int = 8188


@dataclass(frozen=True)
class RemoteInstance:
    """One instance as the provider reports it right now."""

    id: str
    state: RemoteState
    gpu_name: str | None
    num_gpus: int
    price_per_hour_usd: Decimal | None
    comfy_url: str | None
    label: str | None
    machine_id: str | None
    started_at: datetime | None
    status_message: str | None
    stopped: bool = False
    """Halted with its disk kept (storage bills, the GPU is released): FAILED until `start`
    brings it back, and still so while a start waits for a GPU someone else took."""


@dataclass(frozen=True)
class BilledCharge:
    """What the provider billed one instance over a time range, by its own books."""

    provider_id: str
    amount_usd: Decimal
    label: str | None


class Provider(Protocol):
    """A source of GPU machines running ComfyUI."""

    def search_offers(self, offer_filter: OfferFilter) -> list[Offer]:
        """Offers matching the filter, cheapest first. Raises ProviderError."""
        ...

    def create(self, offer: Offer, label: str, launch: LaunchSpec) -> str:
        """Rent `offer` labelled `label`; returns the provider's instance id (see module doc)."""
        ...

    def list_instances(self, label_prefix: str) -> list[RemoteInstance]:
        """Every instance whose label starts with `label_prefix`; raises rather than guess."""
        ...

    def destroy(self, provider_id: str) -> None:
        """Destroy the instance; already gone is success. Raises ProviderError otherwise."""
        ...

    def stop(self, provider_id: str) -> None:
        """Halt the instance, keeping its disk (and its bill for storage) and releasing its GPU.

        Idempotent on a stopped instance. Raises InstanceNotFound when the instance is gone,
        ProviderError when the provider could not be asked.
        """
        ...

    def start(self, provider_id: str) -> None:
        """Ask a stopped instance to run again on the same machine; a no-op on a running one.

        Returns once the provider accepted the request, not once the instance runs: if its GPU
        was taken meanwhile it may stay stopped for ever, so the caller watches
        `list_instances` and destroys it after a deadline of its own. Raises InstanceNotFound
        when the instance is gone, ProviderError when the provider could not be asked.
        """
        ...

    def billed(self, start: datetime, end: datetime) -> list[BilledCharge]:
        """What the provider billed each instance of the account for [start, end): every
        instance it charged (ours or not, alive or gone), none it did not; [] for a provider
        that bills nothing. Raises ProviderError rather than answer a partial bill."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
