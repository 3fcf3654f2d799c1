"""What the simulated account bills: per-instance charges in the shape of Vast's `/charges/`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sim.vast.instance import SimInstance


def charges(
    instances: Iterable[SimInstance], start: float, end: float, now: float
) -> list[dict[str, Any]]:
    """Per-instance charges between two epoch times, billed per second.

    Storage (`storage_total_cost` per hour) bills while the instance exists; the GPU
    (`dph_base` per hour) only while it runs. Items split the two, as Vast's do.
    """
    results = []
    end = min(end, now)
    for inst in sorted(instances, key=lambda i: i.id):
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
