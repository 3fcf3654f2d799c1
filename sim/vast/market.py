"""The simulated offer market: machines on offer, their storage-inclusive prices, and churn.

Offers are single use, as on Vast: a rented (or vanished) offer id is remembered as taken and
a fresh offer takes its place.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

HOURS_PER_MONTH = 720
"""Vast prices storage per GB-month; the hourly total spreads it over a 30-day month."""
DEFAULT_STORAGE_GB = 5.0
"""`allocated_storage` when a search names none (the SDK's default)."""

GPU_MODELS = [
    ("RTX 4090", 24_564),
    ("RTX 3090", 24_576),
    ("RTX A6000", 49_140),
    ("A100 SXM4", 81_920),
]


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
class Market:
    """The offers on the market now and the ids already taken (by us or by someone else)."""

    rng: random.Random
    offers: dict[int, dict[str, Any]] = field(default_factory=dict)
    taken: set[int] = field(default_factory=set)
    next_offer_id: int = 5_000_001

    def refill(self, count: int) -> None:
        """Put `count` fresh offers on the market."""
        for _ in range(count):
            offer_id = self.next_offer_id
            self.next_offer_id += 1
            self.offers[offer_id] = self._new_offer(offer_id)

    def take(self, offer_id: int) -> dict[str, Any]:
        """Rent `offer_id` (the caller checked it is on the market); a new offer replaces it."""
        offer = self.offers.pop(offer_id)
        self.taken.add(offer_id)
        self.refill(1)
        return offer

    def vanish(self, offer_id: int) -> None:
        """Someone else rented `offer_id` first."""
        self.offers.pop(offer_id)
        self.taken.add(offer_id)
        self.refill(1)

    def churn(self, keep: set[int], count: int = 2) -> None:
        """The market moves: up to `count` offers outside `keep` leave, as many new ones appear.

        Offers a search just returned are kept, so a client can still rent what it saw.
        """
        movable = sorted(set(self.offers) - keep)
        for offer_id in self.rng.sample(movable, min(count, len(movable))):
            self.offers.pop(offer_id)
            self.taken.add(offer_id)
        self.refill(min(count, len(movable)))

    def _new_offer(self, offer_id: int) -> dict[str, Any]:
        rng = self.rng
        gpu, vram = rng.choice(GPU_MODELS)
        dph_base = round(rng.uniform(0.25, 1.5), 4)
        storage_cost = round(rng.uniform(0.05, 0.3), 3)
        return {
            "id": offer_id,
            "ask_contract_id": offer_id,
            "bundle_id": offer_id + 7,
            "machine_id": rng.randint(10_000, 99_999),
            "host_id": rng.randint(100, 999),
            "num_gpus": 1,
            "gpu_name": gpu,
            "gpu_ram": vram,
            "gpu_total_ram": vram,
            "cuda_max_good": 12.8,
            "cpu_cores_effective": 16.0,
            "cpu_ram": 64_000,
            "disk_space": round(rng.uniform(60, 500), 1),
            "inet_down": round(rng.uniform(200, 2000), 1),
            "inet_up": round(rng.uniform(100, 1000), 1),
            "direct_port_count": rng.choice([0, 20, 100]),
            "dph_base": dph_base,
            "storage_cost": storage_cost,
            **storage_pricing(dph_base, storage_cost, DEFAULT_STORAGE_GB),
            "reliability": round(rng.uniform(0.95, 0.999), 4),
            "reliability2": round(rng.uniform(0.95, 0.999), 4),
            "score": round(rng.uniform(100, 400), 2),
            "verification": "verified",
            "verified": True,
            "external": False,
            "rentable": True,
            "rented": False,
            "geolocation": rng.choice(["Washington, US", "Quebec, CA", "Bavaria, DE"]),
            "hosting_type": rng.choice([0, 1]),
        }
