"""The daily JSON export of a pool's state: settings, live instances, queue and spend."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from pathlib import Path

from sqlmodel import Session

from core.pool import service

SNAPSHOT_PATTERN = "pool-*.json"


def export_pool_state(
    session: Session, *, pool: str, now: datetime, directory: Path, keep: int = 14
) -> Path:
    """Write `pool-<UTC stamp>.json` into `directory`, keep the newest `keep`, return the file.

    The export is what an operator needs after an incident: which instances we believed we
    rented (with provider ids and labels, to find them at the provider), what was queued and
    what the pool had spent.
    """
    snapshot = service.status(session, pool=pool, now=now)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"pool-{now:%Y%m%dT%H%M%SZ}.json"
    document = {
        "exported_at": now.isoformat(),
        "config": snapshot.config.model_dump(),
        "instances": [dataclasses.asdict(instance) for instance in snapshot.instances],
        "queued_jobs": snapshot.queued_jobs,
        "running_jobs": snapshot.running_jobs,
        "spend_today_usd": snapshot.spend_today_usd,
        "spend_month_usd": snapshot.spend_month_usd,
    }
    target.write_text(json.dumps(document, default=str, indent=2))
    for old in sorted(directory.glob(SNAPSHOT_PATTERN))[:-keep]:
        old.unlink()
    return target
