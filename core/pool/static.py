"""StaticProvider: an operator's own GPUs at fixed ComfyUI URLs, "rented" for free.

Each URL is one slot. Renting a slot only records our label on it; destroying releases the
slot (the machine keeps running; it is not ours to stop). Stopping a slot only marks it unused
(listed as stopped, still ours); starting it marks it used again, at once. The assignments
live in a small JSON file so a restarted scheduler still recognises its rows instead of
declaring them lost.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from core.errors import InstanceNotFound, OfferUnavailable
from core.pool.provider import (
    BilledCharge,
    LaunchSpec,
    Offer,
    OfferFilter,
    RemoteInstance,
    RemoteState,
)


@dataclass(frozen=True)
class _Assignment:
    """Who holds a slot, and whether they stopped using it."""

    label: str
    stopped: bool = False


class StaticProvider:
    """Fixed ComfyUI servers behind the Provider protocol."""

    def __init__(self, urls: list[str], *, state_file: Path) -> None:
        self.urls = [url.rstrip("/") for url in urls]
        self.state_file = state_file
        self._lock = threading.Lock()

    def _slot_id(self, index: int) -> str:
        return f"static-{index}"

    def _load(self) -> dict[str, _Assignment]:
        try:
            data = json.loads(self.state_file.read_text())
        except FileNotFoundError:
            return {}
        # Files written before slots could be stopped map a slot to its bare label.
        return {
            str(slot): _Assignment(str(held), False)
            if isinstance(held, str)
            else _Assignment(str(held["label"]), bool(held.get("stopped")))
            for slot, held in data.items()
        }

    def _save(self, assignments: dict[str, _Assignment]) -> None:
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=self.state_file.parent, suffix=".tmp")
        with os.fdopen(handle, "w") as out:
            json.dump(
                {slot: {"label": a.label, "stopped": a.stopped} for slot, a in assignments.items()},
                out,
            )
        os.replace(temp, self.state_file)

    def search_offers(self, offer_filter: OfferFilter) -> list[Offer]:
        """One free offer per unassigned URL; they cost nothing."""
        with self._lock:
            taken = self._load()
        return [
            Offer(
                id=self._slot_id(index),
                machine_id=url,
                gpu_name="own GPU",
                num_gpus=1,
                price_per_hour_usd=Decimal(0),
            )
            for index, url in enumerate(self.urls)
            if self._slot_id(index) not in taken and url not in offer_filter.excluded_machine_ids
        ]

    def create(self, offer: Offer, label: str, launch: LaunchSpec) -> str:
        """Assign the slot to `label`; OfferUnavailable if someone holds it already."""
        with self._lock:
            assignments = self._load()
            if offer.id in assignments or offer.id not in self._slots():
                raise OfferUnavailable(f"slot {offer.id} is not free")
            assignments[offer.id] = _Assignment(label)
            self._save(assignments)
        return offer.id

    def list_instances(self, label_prefix: str) -> list[RemoteInstance]:
        """Assigned slots whose label starts with `label_prefix`: running, or stopped."""
        with self._lock:
            assignments = self._load()
        slots = self._slots()
        return [
            RemoteInstance(
                id=slot,
                state=RemoteState.FAILED if held.stopped else RemoteState.RUNNING,
                gpu_name="own GPU",
                num_gpus=1,
                price_per_hour_usd=Decimal(0),
                comfy_url=None if held.stopped else slots[slot],
                label=held.label,
                machine_id=slots[slot],
                started_at=None,
                status_message="stopped" if held.stopped else "static",
                stopped=held.stopped,
            )
            for slot, held in sorted(assignments.items())
            if slot in slots and held.label.startswith(label_prefix)
        ]

    def destroy(self, provider_id: str) -> None:
        """Release the slot; releasing a free or unknown slot is a no-op."""
        with self._lock:
            assignments = self._load()
            if assignments.pop(provider_id, None) is not None:
                self._save(assignments)

    def stop(self, provider_id: str) -> None:
        """See `Provider.stop`: the slot stays ours, unused (the machine itself keeps running)."""
        self._mark(provider_id, stopped=True)

    def start(self, provider_id: str) -> None:
        """See `Provider.start`: an own GPU is never taken by anyone else, so it runs at once."""
        self._mark(provider_id, stopped=False)

    def billed(self, start: datetime, end: datetime) -> list[BilledCharge]:
        """See `Provider.billed`: an operator's own GPUs bill nothing."""
        return []

    def close(self) -> None:
        """Nothing to release: the slots live in a file."""

    def _mark(self, provider_id: str, *, stopped: bool) -> None:
        with self._lock:
            assignments = self._load()
            held = assignments.get(provider_id)
            if held is None:
                raise InstanceNotFound(f"slot {provider_id} is not assigned")
            assignments[provider_id] = _Assignment(held.label, stopped)
            self._save(assignments)

    def _slots(self) -> dict[str, str]:
        return {self._slot_id(index): url for index, url in enumerate(self.urls)}
