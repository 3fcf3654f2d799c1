"""Spend and usage: plotly charts of GPU cost, jobs and GPU time."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import plotly.express as px
import streamlit as st

from core.clock import SystemClock
from core.db import read_scope
from core.pool import billing, costs
from ui import resources
from ui.auth import require_admin
from ui.charts import on_timeline
from ui.widgets import format_usd

require_admin()
pool = resources.settings().pool_name
now = SystemClock().now()

st.title("Spend & usage")
days = st.segmented_control("Window", [7, 30, 90], default=30, format_func=lambda d: f"{d} days")
since = now - timedelta(days=days or 30)
first_day = datetime.combine(since.date(), time.min, UTC)
today = datetime.combine(now.date(), time.min, UTC)
hour = now.replace(minute=0, second=0, microsecond=0)
DAY, HOUR = timedelta(days=1), timedelta(hours=1)

with read_scope(resources.engine()) as session:
    spend = costs.daily_spend_frame(session, pool=pool, since=since)
    jobs = costs.jobs_frame(session, since=since)
    usage = costs.utilisation_frame(session, pool=pool, since=since, now=now)
    boots = costs.cold_starts_frame(session, pool=pool, since=since)
    hourly = costs.hourly_spend_frame(session, pool=pool, since=hour - timedelta(hours=47))
    budget = costs.budget_frame(session, pool=pool, now=now)
    bill_checks = billing.checks_since(session, pool=pool, since=since.date())

total = float(spend["cost_usd"].sum()) if not spend.empty else 0.0
done = jobs[jobs["status"] == "succeeded"]
cols = st.columns(4)
cols[0].metric("GPU spend", format_usd(Decimal(str(total)).quantize(Decimal("0.0001"))))
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

if not budget.empty:
    st.plotly_chart(
        on_timeline(
            px.line(
                budget,
                x="day",
                y=["month_to_date_usd", "monthly_cap_usd", "spend_usd", "daily_cap_usd"],
                title="This month: spend vs budget (USD)",
                markers=True,
            ),
            start=today.replace(day=1),
            end=today,
        ),
        use_container_width=True,
    )
    st.download_button(
        "Download budget CSV", budget.to_csv(index=False), "gpu-budget.csv", "text/csv"
    )
if not hourly.empty:
    st.plotly_chart(
        on_timeline(
            px.bar(hourly, x="hour", y="cost_usd", title="GPU spend per hour, last 48 h (USD)"),
            start=hour - timedelta(hours=47),
            end=hour,
            bar_period=HOUR,
        ),
        use_container_width=True,
    )
if not spend.empty:
    st.plotly_chart(
        on_timeline(
            px.bar(spend, x="day", y="cost_usd", title="GPU spend per day (USD)"),
            start=first_day,
            end=today,
            bar_period=DAY,
        ),
        use_container_width=True,
    )
if not jobs.empty:
    per_day = jobs.groupby(["day", "status"], as_index=False).size()
    st.plotly_chart(
        on_timeline(
            px.bar(per_day, x="day", y="size", color="status", title="Jobs per day by outcome"),
            start=first_day,
            end=today,
            bar_period=DAY,
        ),
        use_container_width=True,
    )
    st.download_button("Download jobs CSV", jobs.to_csv(index=False), "jobs.csv", "text/csv")
if not usage.empty:
    st.plotly_chart(
        on_timeline(
            px.bar(
                usage, x="day", y=["busy_h", "idle_h"], title="GPU-hours: busy vs idle (the waste)"
            ),
            start=first_day,
            end=today,
            bar_period=DAY,
        ),
        use_container_width=True,
    )
    st.download_button("Download usage CSV", usage.to_csv(index=False), "gpu-usage.csv", "text/csv")
if not boots.empty:
    st.plotly_chart(
        on_timeline(
            px.scatter(
                boots,
                x="day",
                y="boot_s",
                title="Cold starts: seconds from rental to ready (one dot per boot)",
            ),
            start=first_day,
            end=today,
        ),
        use_container_width=True,
    )
if not spend.empty:
    st.download_button("Download spend CSV", spend.to_csv(index=False), "gpu-spend.csv", "text/csv")
if not done.empty:
    st.plotly_chart(
        px.box(done, x="preset", y="gpu_s", color="kind", title="GPU seconds per job by preset"),
        use_container_width=True,
    )
