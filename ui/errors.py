"""The page-level error boundary: an unexpected error becomes a friendly message with an id.

Every page runs inside `boundary()` (Home.py). A refusal a page did not catch itself is still
shown as its own message; anything else is logged with its traceback and a short error id,
and the visitor sees only that id. Production also hides Streamlit's own error details
(`--client.showErrorDetails none` in deploy/), for errors raised before a page runs.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from core.errors import NotFound, ValidationFailed

log = logging.getLogger(__name__)
FRIENDLY = (
    "Something went wrong on our side and nothing was saved. Please try again; if it keeps "
    "happening, tell us the error id {error_id}."
)


@contextmanager
def boundary(page: str) -> Iterator[None]:
    """Run a page: a refusal (`ValidationFailed`, `NotFound`) it raises is shown as its
    message; any other error is logged (`page.error`, traceback and `error_id`) and shown as
    `FRIENDLY` with that id, never as a traceback. Streamlit's reruns and stops pass through
    (they are not `Exception`s)."""
    try:
        yield
    except (ValidationFailed, NotFound) as refusal:
        st.error(str(refusal))
    except Exception:
        error_id = secrets.token_hex(6)
        log.exception("page.error", extra={"error_id": error_id, "page": page})
        st.error(FRIENDLY.format(error_id=error_id))
