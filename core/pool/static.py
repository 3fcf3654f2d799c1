"""StaticProvider: an operator's own GPUs at fixed ComfyUI URLs, "rented" for free.

Each URL is one slot. Renting a slot only records our label on it; destroying releases the
slot (the machine keeps running; it is not ours to stop). The assignments live in a small
JSON file so a restarted scheduler still recognises its rows instead of declaring them lost.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from decimal import Decimal
from pathlib import Path

from core.errors import OfferUnavailable
from core.pool.provider import LaunchSpec, Offer, OfferFilter, RemoteInstance, RemoteState


class StaticProvider:
    """Fixed ComfyUI servers behind the Provider protocol."""

    def __init__(self, urls: list[str], *, state_file: Path) -> None:
        self.urls = [url.rstrip("/") for url in urls]
        self.state_file = state_file
        self._lock = threading.Lock()

    def _slot_id(self, index: int) -> str:
        return f"static-{index}"

    def _load(self) -> dict[str, str]:
        try:
            data = json.loads(self.state_file.read_text())
        except FileNotFoundError:
            return {}
        return {str(slot): str(label) for slot, label in data.items()}

    def _save(self, labels: dict[str, str]) -> None:
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=self.state_file.parent, suffix=".tmp")
        with os.fdopen(handle, "w") as out:
            json.dump(labels, out)
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
            labels = self._load()
            if offer.id in labels or offer.id not in self._slots():
                raise OfferUnavailable(f"slot {offer.id} is not free")
            labels[offer.id] = label
            self._save(labels)
        return offer.id

    def list_instances(self, label_prefix: str) -> list[RemoteInstance]:
        """Assigned slots whose label starts with `label_prefix`, always running."""
        with self._lock:
            labels = self._load()
        slots = self._slots()
        return [
            RemoteInstance(
                id=slot,
                state=RemoteState.RUNNING,
                gpu_name="own GPU",
                num_gpus=1,
                price_per_hour_usd=Decimal(0),
                comfy_url=slots[slot],
                label=label,
                machine_id=slots[slot],
                started_at=None,
                status_message="static",
            )
            for slot, label in sorted(labels.items())
            if slot in slots and label.startswith(label_prefix)
        ]

    def destroy(self, provider_id: str) -> None:
        """Release the slot; releasing a free or unknown slot is a no-op."""
        with self._lock:
            labels = self._load()
            if labels.pop(provider_id, None) is not None:
                self._save(labels)

    def close(self) -> None:
        """Nothing to release: the slots live in a file."""

    def _slots(self) -> dict[str, str]:
        return {self._slot_id(index): url for index, url in enumerate(self.urls)}
