"""Charts over time show their whole window, with bars as wide as their period."""

from datetime import UTC, date, datetime, timedelta, timezone

import pandas as pd
import plotly.express as px

from ui.charts import THEME_COLOURS, human, label, on_timeline, themed

START = datetime(2026, 10, 26, tzinfo=UTC)
END = datetime(2026, 11, 25, tzinfo=UTC)


def test_a_single_daily_bar_gets_the_whole_window_and_a_day_wide_bar():
    frame = pd.DataFrame({"day": [date(2026, 11, 25)], "cost_usd": [0.0088]})

    figure = on_timeline(
        px.bar(frame, x="day", y="cost_usd"), start=START, end=END, bar_period=timedelta(days=1)
    )

    low, high = figure.layout.xaxis.range
    assert low == datetime(2026, 10, 25, 12) and high == datetime(2026, 11, 25, 12)
    assert figure.data[0].width == 0.8 * 86_400_000


def test_time_zones_become_utc_wall_clock_for_plotly():
    frame = pd.DataFrame({"hour": [datetime(2026, 11, 25, 1)], "cost_usd": [1.0]})
    paris = datetime(2026, 11, 25, 4, tzinfo=timezone(timedelta(hours=1)))

    figure = on_timeline(px.bar(frame, x="hour", y="cost_usd"), start=paris, end=paris)

    assert figure.layout.xaxis.range == (datetime(2026, 11, 25, 3), datetime(2026, 11, 25, 3))


def test_only_bars_are_sized():
    frame = pd.DataFrame({"day": [date(2026, 11, 24), date(2026, 11, 25)], "boot_s": [5, 6]})

    figure = on_timeline(
        px.scatter(frame, x="day", y="boot_s"), start=START, end=END, bar_period=timedelta(days=1)
    )

    assert "width" not in figure.data[0].to_plotly_json()
    assert figure.layout.xaxis.range[0] == datetime(2026, 10, 25, 12)


def test_charts_wear_the_theme_and_speak_in_words_not_field_names():
    frame = pd.DataFrame(
        {"day": [date(2026, 11, 24)], "month_to_date_usd": [1.5], "monthly_cap_usd": [50.0]}
    )
    figure = themed(
        px.line(human(frame), x="Day", y=[label("month_to_date_usd"), label("monthly_cap_usd")]),
        value_title="USD",
    )
    assert figure.layout.template.layout.colorway == tuple(THEME_COLOURS)
    assert [trace.name for trace in figure.data] == ["Spent this month", "Monthly cap"]
    assert [trace.line.color for trace in figure.data] == THEME_COLOURS[:2]
    assert figure.layout.yaxis.title.text == "USD" and not figure.layout.legend.title.text
    shown = " ".join(trace.hovertemplate for trace in figure.data)
    assert "variable" not in shown and "value=" not in shown and "_usd" not in shown
