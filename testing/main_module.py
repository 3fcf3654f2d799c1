"""Running a Streamlit script (AppTest, or a page in the benchmark) makes that script
`sys.modules["__main__"]` and leaves it there, so a process spawned later (multiprocessing's
"spawn") would run the page again as its own main module; `kept_main_module` puts the real
one back."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def kept_main_module() -> Iterator[None]:
    """`sys.modules["__main__"]` as it was when the block began, restored when it ends."""
    main_module = sys.modules["__main__"]
    try:
        yield
    finally:
        sys.modules["__main__"] = main_module
