"""Plotly helpers: charts over time, the theme's template, human labels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pandas import DataFrame
from plotly.graph_objects import Figure
from plotly.graph_objs.layout import Template

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


LABELS = {
    "day": "Day",
    "hour": "Hour",
    "cost_usd": "Cost (USD)",
    "month_to_date_usd": "Spent this month",
    "monthly_cap_usd": "Monthly cap",
    "spend_usd": "Spent that day",
    "daily_cap_usd": "Daily cap",
    "size": "Jobs",
    "status": "Outcome",
    "busy_h": "Busy",
    "idle_h": "Idle",
    "boot_s": "Seconds to ready",
    "gpu_s": "GPU seconds",
    "preset": "Quality",
    "kind": "Kind",
}
"""Human names for the columns the charts plot."""

THEME_COLOURS = ["#D946EF", "#A855F7", "#EC4899", "#38BDF8", "#FBBF24", "#34D399"]
"""Series colours: the theme's accents first, then distinct companions."""

TEMPLATE = Template(
    layout={
        "colorway": THEME_COLOURS,
        "font": {"color": "#F5EDFF", "family": "sans-serif"},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "#1A1024",
        "xaxis": {"gridcolor": "#2E1F3D", "linecolor": "#2E1F3D", "zeroline": False},
        "yaxis": {"gridcolor": "#2E1F3D", "linecolor": "#2E1F3D", "zeroline": False},
        "legend": {"bgcolor": "rgba(0,0,0,0)", "title": {"text": ""}},
        "hoverlabel": {"bgcolor": "#1A1024", "bordercolor": "#D946EF"},
        "title": {"font": {"size": 16}},
    }
)
"""The Plotly template matching `.streamlit/config.toml` (pass `theme=None` to
`st.plotly_chart`, whose own theme would paint over it)."""


def human(frame: DataFrame) -> DataFrame:
    """`frame` with its columns under their `LABELS` names, so axes, legends and hovers read
    as words rather than field names."""
    return frame.rename(columns=LABELS)


def themed(figure: Figure, *, value_title: str = "") -> Figure:
    """`figure` in the theme's template and colours, with wide-form charts' "variable" and
    "value" replaced: no legend title, `value_title` on the value axis and in the hover."""
    figure.update_layout(template=TEMPLATE, legend_title_text="")
    for axis in ("xaxis", "yaxis"):
        if figure.layout[axis].title.text == "value":
            figure.layout[axis].title.text = value_title
    for index, trace in enumerate(figure.data):
        # Plotly Express paints each trace itself at creation: recolour them in the theme's.
        colour = THEME_COLOURS[index % len(THEME_COLOURS)]
        trace.marker.color = colour
        if trace.type in ("scatter", "box"):
            trace.line.color = colour
        hover = getattr(trace, "hovertemplate", None)
        if hover:
            trace.hovertemplate = hover.replace("variable=", "").replace(
                "value=", f"{value_title or 'Value'}="
            )
    return figure


def label(column: str) -> str:
    """The human name of a plotted column (itself when it has none)."""
    return LABELS.get(column, column)
