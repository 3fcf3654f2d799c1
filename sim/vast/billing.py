"""What the simulated account bills: per-instance charges in the shape of Vast's `/charges/`.

Shape from Vast's `show_charges.yaml` and the `vastai` client's `show invoices-v1 --charges`:
one row per contract inside the asked `day` range (`start`/`end` in whole unix seconds, clipped
to the range), its `amount` rounded to 3 decimals, `metadata` keys only when set, and `items`
splitting the GPU (billed while the container runs) from the disk (billed while it exists).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sim.vast.instance import SimInstance


def _item(kind: str, start: int, end: int, hours: float, rate: float) -> dict[str, Any]:
    return {
        "start": start,
        "end": end,
        "type": kind,
        "source": None,
        "description": f"{hours:.3f} hours at ${rate:.3f}/hour",
        "amount": round(hours * rate, 3),
        "metadata": {},
        "items": [],
    }


def charges(
    instances: Iterable[SimInstance], start: float, end: float, now: float
) -> list[dict[str, Any]]:
    """Per-instance charges between two epoch times, billed per second, by instance id.

    Storage (`storage_total_cost` per hour) bills while the instance exists; the GPU
    (`dph_base` per hour) only while it runs.
    """
    results = []
    end = min(end, now)
    for inst in sorted(instances, key=lambda i: i.id):
        begin = max(start, inst.created_at)
        finish = min(end, inst.gone_at if inst.gone_at is not None else end)
        if finish <= begin:
            continue
        gpu_s, storage_s = inst.billed_seconds(begin, finish)
        first, last = int(begin), int(finish)
        items = [
            _item("gpu", first, last, gpu_s / 3600, inst.offer["dph_base"]),
            _item("disk", first, last, storage_s / 3600, inst.offer["storage_total_cost"]),
        ]
        days = max(1, round((finish - begin) / 86_400))
        results.append(
            {
                "start": first,
                "end": last,
                "type": "instance",
                "source": f"instance-{inst.id}",
                "description": f"Instance {inst.id} Charges - {days} day{'s' if days > 1 else ''}",
                "amount": round(sum(item["amount"] for item in items), 3),
                "metadata": {"label": inst.label} if inst.label is not None else {},
                "items": items,
            }
        )
    return results
