"""Spend and usage: plotly charts of GPU cost, jobs and GPU time, with CSV exports."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pandas as pd
import plotly.express as px
import streamlit as st
from plotly.graph_objects import Figure

from core.pool import billing, reports
from ui import db, resources, spend_frames
from ui.auth import require_admin
from ui.charts import human, label, on_timeline, themed
from ui.spend_frames import for_chart
from ui.widgets import format_usd

DAY, HOUR = timedelta(days=1), timedelta(hours=1)

require_admin()
pool = resources.settings().pool_name
now = resources.clock().now()

st.title("Spend & usage")
days = st.segmented_control("Window", [7, 30, 90], default=30, format_func=lambda d: f"{d} days")
since = now - timedelta(days=days or 30)
first_day = datetime.combine(since.date(), time.min, UTC)
today = datetime.combine(now.date(), time.min, UTC)
hour = now.replace(minute=0, second=0, microsecond=0)

with db.reading() as session:
    per_day = reports.spend_per_day(session, pool=pool, since=since)
    jobs = spend_frames.jobs(reports.job_records(session, since=since))
    usage = spend_frames.gpu_hours(
        reports.gpu_hours_per_day(session, pool=pool, since=since, now=now)
    )
    boots = spend_frames.cold_starts(reports.boots(session, pool=pool, since=since))
    hourly = spend_frames.hourly_spend(
        reports.spend_per_hour(session, pool=pool, since=hour - timedelta(hours=47))
    )
    budget = spend_frames.budget(reports.month_budget(session, pool=pool, now=now))
    bill_checks = billing.checks_since(session, pool=pool, since=since.date())
spend = spend_frames.daily_spend(per_day)

total = sum(per_day.values(), Decimal(0))
done = jobs[jobs["status"] == "succeeded"]
cols = st.columns(4)
cols[0].metric("GPU spend", format_usd(total.quantize(Decimal("0.0001"))))
cols[1].metric("Jobs", len(jobs))
cols[2].metric("Succeeded", len(done))
cols[3].metric("Credits charged", int(done["credits"].sum()) if not done.empty else 0)

st.subheader("Checked against Vast's bill")
if bill_checks:
    st.dataframe(
        [
            {
                "day": check.day,
                "accrued_usd": check.accrued_usd,
                "billed_usd": check.billed_usd,
                "difference_usd": check.difference_usd,
                "instances": check.instances,
            }
            for check in reversed(bill_checks)
        ],
        column_config={
            "day": st.column_config.DateColumn("Day (UTC)"),
            "accrued_usd": st.column_config.NumberColumn("Accrued", format="$%.4f"),
            "billed_usd": st.column_config.NumberColumn("Billed by Vast", format="$%.4f"),
            "difference_usd": st.column_config.NumberColumn("Billed − accrued", format="$%.4f"),
            "instances": st.column_config.NumberColumn("Instances"),
        },
        hide_index=True,
    )
    st.caption(
        "Budgets count a checked day at what Vast billed. Our accrual is pessimistic (the full "
        "hourly price from creation), so billed below accrued is expected."
    )
    for check in bill_checks:
        if check.unclaimed:
            st.warning(
                f"{check.day}: Vast billed instances under this pool's label that no row "
                f"claims: {', '.join(check.unclaimed)}"
            )
else:
    st.caption("No day checked yet: the scheduler compares each finished day with Vast's bill.")

if spend.empty and jobs.empty:
    st.info("No spend or jobs in this window yet.")
    st.stop()


def chart(
    figure: Figure,
    *,
    start: datetime = first_day,
    bar_period: timedelta | None = DAY,
    value_title: str = "",
) -> None:
    """Draw `figure` over the window from `start` to today (bars `bar_period` wide)."""
    st.plotly_chart(
        on_timeline(
            themed(figure, value_title=value_title), start=start, end=today, bar_period=bar_period
        ),
        width="stretch",
        theme=None,
    )


def csv_button(label: str, frame: pd.DataFrame, file_name: str) -> None:
    """Export `frame` (money exact, as Decimal) as CSV."""
    st.download_button(label, frame.to_csv(index=False), file_name, "text/csv")


if not budget.empty:
    chart(
        px.line(
            human(for_chart(budget)),
            x=label("day"),
            y=[
                label(c)
                for c in ("month_to_date_usd", "monthly_cap_usd", "spend_usd", "daily_cap_usd")
            ],
            title="This month: spend vs budget (USD)",
            markers=True,
        ),
        start=today.replace(day=1),
        bar_period=None,
        value_title="USD",
    )
    csv_button("Download budget CSV", budget, "gpu-budget.csv")
if not hourly.empty:
    st.plotly_chart(
        on_timeline(
            themed(
                px.bar(
                    human(for_chart(hourly)),
                    x=label("hour"),
                    y=label("cost_usd"),
                    title="GPU spend per hour, last 48 h (USD)",
                )
            ),
            start=hour - timedelta(hours=47),
            end=hour,
            bar_period=HOUR,
        ),
        width="stretch",
        theme=None,
    )
if not spend.empty:
    chart(
        px.bar(
            human(for_chart(spend)),
            x=label("day"),
            y=label("cost_usd"),
            title="GPU spend per day (USD)",
        )
    )
if not jobs.empty:
    per_day_jobs = jobs.groupby(["day", "status"], as_index=False).size()
    chart(
        px.bar(
            human(per_day_jobs),
            x=label("day"),
            y=label("size"),
            color=label("status"),
            title="Jobs per day by outcome",
        )
    )
    csv_button("Download jobs CSV", jobs, "jobs.csv")
if not usage.empty:
    chart(
        px.bar(
            human(usage),
            x=label("day"),
            y=[label("busy_h"), label("idle_h")],
            title="GPU-hours: busy vs idle (the waste)",
        ),
        value_title="GPU-hours",
    )
    csv_button("Download usage CSV", usage, "gpu-usage.csv")
if not boots.empty:
    chart(
        px.scatter(
            human(boots),
            x=label("day"),
            y=label("boot_s"),
            title="Cold starts: seconds from rental to ready (one dot per boot)",
        ),
        bar_period=None,
    )
if not spend.empty:
    csv_button("Download spend CSV", spend, "gpu-spend.csv")
if not done.empty:
    st.plotly_chart(
        themed(
            px.box(
                human(done),
                x=label("preset"),
                y=label("gpu_s"),
                color=label("kind"),
                title="GPU seconds per job by preset",
            )
        ),
        width="stretch",
        theme=None,
    )
