"""Shared helpers: percentiles, a scratch database, and table printing."""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.engine import Engine

from core.db import make_engine, migrate


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation; 0.0 for no values."""
    if not values:
        return 0.0
    if len(values) == 1:
        return float(values[0])
    return statistics.quantiles(values, n=100, method="inclusive")[max(0, min(98, int(q) - 1))]


def scratch_engine(directory: Path | None = None) -> Engine:
    """A freshly migrated SQLite database in a temporary directory."""
    folder = directory or Path(tempfile.mkdtemp(prefix="aikings-bench-"))
    url = f"sqlite:///{folder / 'bench.db'}"
    migrate(url)
    return make_engine(url)


def row(*cells: object, widths: Sequence[int] = (34, 12, 12, 12, 12)) -> str:
    """One fixed-width table line."""
    return "".join(str(cell).ljust(width) for cell, width in zip(cells, widths, strict=False))
