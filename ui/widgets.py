"""Small shared widgets and formatters."""

from __future__ import annotations

from datetime import UTC, datetime, time
from decimal import Decimal

import streamlit as st
from streamlit.delta_generator import DeltaGenerator


def coming_soon(what: str) -> None:
    """An honest placeholder for a page whose feature has not landed yet."""
    st.info(f"{what} is coming soon.", icon=":material/construction:")


def format_usd(amount: Decimal) -> str:
    """Dollars with cents, e.g. `$1.25`; sub-cent amounts keep four decimals."""
    if amount != 0 and abs(amount) < Decimal("0.01"):
        return f"${amount:.4f}"
    return f"${amount:,.2f}"


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
    """The visitor's IP address as Streamlit sees the connection, for the audit log.

    None when unknown (a local connection, or a script run without a browser). Behind the
    reverse proxy this is the proxy's address; it is a record, never a security decision.
    """
    ip = st.context.ip_address
    return ip if isinstance(ip, str) else None
