"""Shared widgets and formatters: money, durations, date ranges, paging, reports, confirmations."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Generic, TypeVar

import streamlit as st
from sqlmodel import Session
from streamlit.delta_generator import DeltaGenerator

from core import audit, proxies
from core.gallery.moderation import REPORT_REASONS
from ui import db, resources

Cursor = TypeVar("Cursor")
_PENDING_CONFIRMATION = "confirm_pending"
_MARKDOWN_PUNCTUATION = re.compile(r"[!-/:-@\[-`{-~]")

TIME_COLUMN = st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss")
"""A timestamp column: sorts by time, shown to the second."""
MONEY_COLUMN = st.column_config.NumberColumn(format="$%.4f")
"""A dollar column (cells from `usd_cell`): sorts by amount, sub-cent amounts visible."""
HOURS_COLUMN = st.column_config.NumberColumn(format="%.2f h")
"""A duration column in hours: sorts by length."""


def format_usd(amount: Decimal) -> str:
    """Dollars with cents, e.g. `$1.25`; sub-cent amounts keep four decimals."""
    if amount != 0 and abs(amount) < Decimal("0.01"):
        return f"${amount:.4f}"
    return f"${amount:,.2f}"


def usd_cell(amount: Decimal) -> float:
    """A dollar amount as a table cell. The one place money becomes a float: a number, so the
    column sorts by amount, converted here for display and nowhere before."""
    return float(amount)


def format_duration(seconds: float) -> str:
    """A short human duration: `45 s`, `3 min 5 s`, `2 h 10 min`."""
    whole = int(round(seconds))
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def date_range(
    label: str, *, key: str, where: DeltaGenerator | None = None
) -> tuple[datetime | None, datetime | None]:
    """A date-range picker, read as UTC bounds: (start of the first day, end of the last).

    Either bound is None until picked, so an untouched picker filters nothing.
    """
    dates = (where or st).date_input(label, value=[], key=key)
    picked = dates if isinstance(dates, tuple) else ()
    since = datetime.combine(picked[0], time.min, UTC) if len(picked) >= 1 else None
    until = datetime.combine(picked[1], time.max, UTC) if len(picked) == 2 else None
    return since, until


def client_ip() -> str | None:
    """The visitor's IP address for the audit log: the connection's peer or, when that peer
    is one of `TRUSTED_PROXIES`, the client it forwarded for (`core.proxies`).

    None when unknown (a loopback connection without a proxy, a script run without a
    browser). Streamlit's server (uvicorn) already reads `X-Forwarded-For` from loopback
    peers itself, so a proxy on this host needs no setting; one elsewhere must be listed.
    """
    peer = st.context.ip_address
    forwarded = st.context.headers.get_all("x-forwarded-for")
    return proxies.client_ip(
        peer if isinstance(peer, str) else None, forwarded, resources.settings().trusted_proxies
    )


def bind_client_ip() -> None:
    """Make this run's visitor IP the one every audit entry of the run records (Home.py
    calls it first, so no page or core call has to pass it along)."""
    audit.set_request_ip(client_ip())


class KeysetPager(Generic[Cursor]):
    """Keyset paging across reruns: the cursors walked through are remembered, so "back" works.

    One pager per filter (`state_key` names the filter), so changing a filter starts at page 1.
    """

    def __init__(self, state_key: str) -> None:
        self._cursors: list[Cursor | None] = st.session_state.setdefault(state_key, [None])

    @property
    def cursor(self) -> Cursor | None:
        """The cursor of the page to show now (None: the first page)."""
        return self._cursors[-1]

    def controls(self, next_cursor: Cursor | None, *, key: str, back: str, forward: str) -> None:
        """The back and forward buttons (keys `<key>_back`, `<key>_forward`), each shown only
        when there is somewhere to go."""
        nav = st.columns([1, 1, 6])
        if len(self._cursors) > 1 and nav[0].button(back, key=f"{key}_back"):
            self._cursors.pop()
            st.rerun()
        if next_cursor is not None and nav[1].button(forward, key=f"{key}_forward"):
            self._cursors.append(next_cursor)
            st.rerun()


def report_picture(key: str, send: Callable[[Session, datetime, str, str], object]) -> None:
    """The "Report this picture" form: `send(session, now, reason, details)` files it in one
    unit of work; a refusal is shown."""
    with st.expander("Report this picture"):
        # No reason is preselected: the gravest one as a default filed grave reports by accident.
        reason = st.selectbox(
            "Reason", REPORT_REASONS, index=None, placeholder="Choose a reason", key=f"{key}_reason"
        )
        details = st.text_area("Details (optional)", max_chars=2000, key=f"{key}_details")
        if st.button("Report", key=f"{key}_send", disabled=reason is None) and reason:
            if db.attempt(lambda session, now: send(session, now, reason, details)):
                st.success("Reported. The picture is hidden until a moderator reviews it.")


def md_literal(text: str) -> str:
    """`text` escaped for Streamlit's markdown (captions, labels): every ASCII punctuation
    character backslash-escaped, so another user's title shows as typed and never becomes an
    image fetched by every viewer's browser, a link, a colour directive or LaTeX."""
    return _MARKDOWN_PUNCTUATION.sub(r"\\\g<0>", " ".join(text.split()))


def either(where: DeltaGenerator, yes: str, no: str, *, key: str) -> bool | None:
    """Two buttons side by side in `where`: True when `yes` was pressed on this run, False
    for `no`, None for neither."""
    left, right = where.columns(2)
    if left.button(yes, key=f"{key}_yes"):
        return True
    if right.button(no, key=f"{key}_no"):
        return False
    return None


def ask_to_confirm(key: str) -> None:
    """Open the confirmation dialog `key` (shown by `confirmation(key, ...)` on this and later
    runs until answered or dismissed); only one is open at a time."""
    st.session_state[_PENDING_CONFIRMATION] = key


def confirmation(key: str, question: str, *, yes: str, on_yes: Callable[[], None]) -> None:
    """The dialog asking `question` while `ask_to_confirm(key)` holds: `on_yes` runs only when
    the `yes` button is pressed; Cancel or closing the dialog does nothing."""
    if st.session_state.get(_PENDING_CONFIRMATION) != key:
        return

    def forget() -> None:
        st.session_state.pop(_PENDING_CONFIRMATION, None)

    @st.dialog("Please confirm", on_dismiss=forget)
    def dialog() -> None:
        st.write(question)
        left, right = st.columns(2)
        if left.button(yes, type="primary", key=f"{key}_yes"):
            forget()
            on_yes()
        if right.button("Cancel", key=f"{key}_cancel"):
            forget()
            st.rerun()

    dialog()
