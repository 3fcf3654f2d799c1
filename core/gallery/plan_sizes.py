"""How big a tag or a search is, as far as choosing a gallery page's plan needs: counted
once, then remembered for a minute per database.

The size only chooses how a page is read (ids looked up, or a sort index walked testing
each row: core.gallery.listing and core.gallery.search); every plan lists the same pictures
in the same order, so a size a minute old can cost speed, never a wrong page. Counting it
was a large share of a page: a tag on 12,500 of a million pictures cost 0.7 ms of SQLite's
~3 ms and 1.5-2.3 ms of PostgreSQL's, and reading 2,001 ids to learn that a search is
common cost 1.2 ms of SQLite's ~1.9 ms, on every page.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Hashable
from typing import Any

from sqlmodel import Session

SIZE_TTL_S = 60.0
MAX_REMEMBERED = 1_000
"""Sizes remembered per database; past it the oldest are forgotten."""

_lock = threading.Lock()
_sizes: weakref.WeakKeyDictionary[Any, dict[Hashable, tuple[float, int]]] = (
    weakref.WeakKeyDictionary()
)


def remembered(session: Session, key: Hashable, count: Callable[[], int]) -> int:
    """`count()` for `key` on the session's database, as counted at most SIZE_TTL_S ago.

    Keyed by the database's connection pool (one per engine, shared by the engine's
    option-variants such as `read_scope`'s), so another database never sees this one's."""
    pool = session.get_bind().engine.pool
    now = time.monotonic()
    with _lock:
        found = _sizes.get(pool, {}).get(key)
    if found is not None and now - found[0] < SIZE_TTL_S:
        return found[1]
    size = count()
    with _lock:
        sizes = _sizes.setdefault(pool, {})
        sizes.pop(key, None)
        sizes[key] = (now, size)
        while len(sizes) > MAX_REMEMBERED:
            sizes.pop(next(iter(sizes)))
    return size
