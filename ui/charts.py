"""Plotly helpers for charts over time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from plotly.graph_objects import Figure

BAR_FILL = 0.8
"""Share of its period a bar covers, so neighbouring bars stay apart."""


def _naive_utc(moment: datetime) -> datetime:
    """plotly.js date axes have no time zones: hand them UTC wall-clock time."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def on_timeline(
    figure: Figure, *, start: datetime, end: datetime, bar_period: timedelta | None = None
) -> Figure:
    """Show `figure` over the whole window [start, end], bars `bar_period` wide (80 %).

    Without this, a chart with a single point autoranges to a millisecond around it (the axis
    reads 23:59:59.9996 … 00:00:00.0004 and one bar fills the plot), and bars on a date axis
    are as wide as the smallest gap between points rather than their period.
    """
    pad = bar_period / 2 if bar_period is not None else timedelta(0)
    figure.update_xaxes(range=[_naive_utc(start) - pad, _naive_utc(end) + pad])
    if bar_period is not None:
        width_ms = bar_period.total_seconds() * 1000 * BAR_FILL
        figure.update_traces(width=width_ms, selector={"type": "bar"})
    return figure
