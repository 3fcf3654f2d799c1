"""Shared helpers: figures with their goals, percentiles, scratch databases, table printing."""

from __future__ import annotations

import atexit
import functools
import io
import logging
import multiprocessing
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

from sqlalchemy.engine import Engine

from core.db import make_engine, migrate, normalize_url

Item = TypeVar("Item")
Result = TypeVar("Result")
Comparison = Literal["<=", ">=", "=="]
_SYMBOL: dict[Comparison, str] = {"<=": "≤", ">=": "≥", "==": "="}


@dataclass(frozen=True)
class Figure:
    """One line of the consolidated table: a measured value beside the goal it should meet."""

    id: str
    what: str
    value: float
    unit: str
    op: Comparison
    limit: float

    @property
    def met(self) -> bool:
        """Whether `value` satisfies `op limit`."""
        if self.op == "<=":
            return self.value <= self.limit
        if self.op == ">=":
            return self.value >= self.limit
        return self.value == self.limit

    @property
    def shown(self) -> str:
        """The value with its unit, rounded for reading."""
        return f"{_number(self.value)} {self.unit}".strip()

    @property
    def goal(self) -> str:
        """The goal as text, e.g. `≤ 500 ms`."""
        return f"{_SYMBOL[self.op]} {_number(self.limit)} {self.unit}".strip()


def _number(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:,.2f}" if abs(value) < 10 else f"{value:,.0f}"


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation; 0.0 for no values."""
    if not values:
        return 0.0
    if len(values) == 1:
        return float(values[0])
    return statistics.quantiles(values, n=100, method="inclusive")[max(0, min(98, int(q) - 1))]


def timed_ms(action: Callable[[], object], repeats: int) -> list[float]:
    """Wall-clock milliseconds of `repeats` calls of `action`."""
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def interleaved_ms(
    first: Callable[[], object], second: Callable[[], object], repeats: int
) -> tuple[list[float], list[float]]:
    """Wall-clock milliseconds of `repeats` calls of each action, after one untimed call of
    each, taken in alternating pairs (first then second, then second then first, …) so that
    load from other processes and the caches' warmth fall on both alike."""
    first()
    second()
    samples: tuple[list[float], list[float]] = ([], [])
    actions = (first, second)
    for round_ in range(repeats):
        for which in (0, 1) if round_ % 2 == 0 else (1, 0):
            started = time.perf_counter()
            actions[which]()
            samples[which].append((time.perf_counter() - started) * 1000)
    return samples


def parallel_map(
    function: Callable[[Item], Result], items: Sequence[Item], workers: int
) -> list[Result]:
    """`function` over `items` in order; over `workers` spawned processes when more than one.

    `function` must be importable by name (a module-level function). Workers are spawned,
    not forked, so no simulator thread of this process is copied half-way through a request.
    """
    if workers <= 1 or len(items) <= 1:
        return [function(item) for item in items]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_quiet) as pool:
        return list(pool.map(function, items, chunksize=max(1, len(items) // (workers * 8))))


def _quiet() -> None:
    """Workers log nothing: the tables are the output (alerts would flood them)."""
    logging.disable(logging.CRITICAL)


@functools.cache
def _migrated_template() -> Path:
    """A SQLite file migrated to head once per process; scratch databases are copies of it."""
    folder = Path(tempfile.mkdtemp(prefix="aikings-bench-template-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = folder / "template.db"
    migrate(f"sqlite:///{path}")
    return path


@contextmanager
def scratch_engine() -> Iterator[Engine]:
    """A freshly migrated SQLite database in its own temporary folder, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="aikings-bench-"))
    shutil.copyfile(_migrated_template(), folder / "bench.db")
    engine = make_engine(f"sqlite:///{folder / 'bench.db'}")
    try:
        yield engine
    finally:
        engine.dispose()
        shutil.rmtree(folder, ignore_errors=True)


POSTGRES_URL_ENVS = ("BENCH_DATABASE_URL", "TEST_DATABASE_URL")
"""Where the PostgreSQL benchmarks make their scratch databases (a server and a user allowed
to create databases; the database named is only connected to)."""


def postgres_url() -> str | None:
    """The PostgreSQL server to benchmark on, from the first of POSTGRES_URL_ENVS set."""
    import os

    for name in POSTGRES_URL_ENVS:
        if os.environ.get(name):
            return os.environ[name]
    return None


def _admin(base_url: str, statement: str) -> None:
    """Run a CREATE/DROP DATABASE on `base_url`'s server: connected to the database named, or,
    once that is gone (a test run drops its own at the end, before this process's exit hooks
    drop the template), to the server's `postgres` database."""
    import sqlalchemy as sa

    for url in (base_url, _database_url(base_url, "postgres")):
        admin = sa.create_engine(normalize_url(url), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:
                connection.execute(sa.text(statement))
            return
        except sa.exc.OperationalError:
            if url != base_url:
                raise
        finally:
            admin.dispose()


def _database_url(base_url: str, name: str) -> str:
    import sqlalchemy as sa

    return sa.make_url(base_url).set(database=name).render_as_string(hide_password=False)


@functools.cache
def _postgres_template(base_url: str) -> str:
    """A database migrated to head once per process (dropped at exit); scratch ones copy it."""
    import os

    name = f"aikings_bench_template_{os.getpid()}"
    _admin(base_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin(base_url, f'CREATE DATABASE "{name}"')
    atexit.register(_admin, base_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    migrate(_database_url(base_url, name))
    return name


@contextmanager
def scratch_postgres(base_url: str) -> Iterator[Engine]:
    """A freshly migrated PostgreSQL database of its own on `base_url`'s server, dropped
    afterwards (a copy of the process's migrated template)."""
    import os
    import uuid

    template = _postgres_template(base_url)
    name = f"aikings_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    _admin(base_url, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    engine = make_engine(_database_url(base_url, name))
    try:
        yield engine
    finally:
        engine.dispose()
        _admin(base_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def row(*cells: object, widths: Sequence[int] = (34, 12, 12, 12, 12)) -> str:
    """One fixed-width line of a section's detail table."""
    return "".join(str(cell).ljust(width) for cell, width in zip(cells, widths, strict=False))


def table(header: Sequence[str], lines: Sequence[Sequence[str]]) -> str:
    """A plain-text table whose columns fit their widest cell."""
    widths = [max(len(str(cells[i])) for cells in [header, *lines]) for i in range(len(header))]
    rendered = [
        "  ".join(str(cell).ljust(width) for cell, width in zip(cells, widths, strict=True))
        for cells in [header, *lines]
    ]
    rendered.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in rendered)


def realistic_png(seed: int, side: int = 1024) -> bytes:
    """A PNG the size a real 1024² generation is (2–3 MB): a gradient under per-pixel grain,
    which compresses as poorly as a photograph's detail does."""
    from PIL import Image, ImageChops

    gradient = Image.linear_gradient("L").resize((side, side))
    base = Image.merge("RGB", (gradient, gradient.rotate(90), gradient.rotate(180 + seed % 90)))
    grain = Image.effect_noise((side, side), 24 + seed % 8).convert("RGB")
    out = io.BytesIO()
    ImageChops.add(base, grain, scale=1.6, offset=-40).save(out, format="PNG")
    return out.getvalue()
