"""Spend & usage page: every chart the operators asked for, and the CSV exports."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from core.db import session_scope
from core.models import JobStatus, Lease, Role, UsageEvent
from testing.factories import make_instance, make_job, make_pool, make_user


def _titles(app):
    return [
        json.loads(chart.proto.spec)["layout"]["title"]["text"] for chart in app.get("plotly_chart")
    ]


def test_an_empty_installation_says_so_without_charts(signed_in):
    app = signed_in("views/admin_costs.py", role=Role.ADMIN).run()
    assert not app.exception
    assert any("No spend or jobs" in i.value for i in app.info)
    assert _titles(app) == []


def test_spend_budget_usage_cold_starts_and_jobs_are_charted_and_exported(signed_in, web_engine):
    now = datetime.now(UTC)
    make_pool(web_engine, daily_budget_usd=Decimal(10), monthly_budget_usd=Decimal(100))
    instance = make_instance(web_engine, provider_id="7", created_at=now - timedelta(hours=3))
    user = make_user(web_engine)
    done = make_job(
        web_engine,
        user,
        status=JobStatus.SUCCEEDED,
        created_at=now - timedelta(hours=2),
        started_at=now - timedelta(hours=2),
        finished_at=now - timedelta(hours=2) + timedelta(seconds=40),
        charged_credits=3,
    )
    make_job(web_engine, user, status=JobStatus.FAILED, created_at=now - timedelta(hours=1))
    with session_scope(web_engine) as session:
        for hours_ago in (3, 2, 1):
            session.add(
                UsageEvent(
                    at=now - timedelta(hours=hours_ago),
                    pool="default",
                    kind="gpu_accrual",
                    instance_id=instance.id,
                    cost_usd=Decimal("0.5"),
                    duration_s=3600,
                )
            )
        session.add(
            UsageEvent(
                at=now - timedelta(hours=3), pool="default", kind="instance_ready", duration_s=180
            )
        )
        session.add(
            Lease(
                instance_id=instance.id,
                job_id=done.id,
                acquired_at=now - timedelta(hours=2),
                expires_at=now - timedelta(hours=1),
                released_at=now - timedelta(hours=2) + timedelta(seconds=40),
            )
        )
    app = signed_in("views/admin_costs.py", role=Role.ADMIN).run()
    assert not app.exception, app.exception
    assert [m.value for m in app.metric][:3] == ["$1.50", "2", "1"]
    assert _titles(app) == [
        "This month: spend vs budget (USD)",
        "GPU spend per hour, last 48 h (USD)",
        "GPU spend per day (USD)",
        "Jobs per day by outcome",
        "GPU-hours: busy vs idle (the waste)",
        "Cold starts: seconds from rental to ready (one dot per boot)",
        "GPU seconds per job by preset",
    ]
    assert [d.proto.label for d in app.get("download_button")] == [
        "Download budget CSV",
        "Download jobs CSV",
        "Download usage CSV",
        "Download spend CSV",
    ]


def test_the_days_checked_against_vasts_bill_are_shown_with_unclaimed_instances(
    signed_in, web_engine
):
    from core.models import BillCheck

    now = datetime.now(UTC)
    make_pool(web_engine)
    instance = make_instance(web_engine, provider_id="7")
    day = (now - timedelta(days=1)).date()
    with session_scope(web_engine) as session:
        session.add(
            BillCheck(pool="default", day=day, provider_id="7", instance_id=instance.id,
                      accrued_usd=Decimal("2.5"), billed_usd=Decimal("2.0"), checked_at=now)
        )  # fmt: skip
        session.add(
            BillCheck(pool="default", day=day, provider_id="9", label="aik-default-9-x",
                      accrued_usd=Decimal(0), billed_usd=Decimal("1.25"), checked_at=now)
        )  # fmt: skip
    app = signed_in("views/admin_costs.py", role=Role.ADMIN).run()
    assert not app.exception, app.exception
    [table] = app.dataframe
    [row] = table.value.to_dict("records")
    assert (row["accrued_usd"], row["billed_usd"], row["difference_usd"]) == (
        Decimal("2.5"),
        Decimal("3.25"),
        Decimal("0.75"),
    )
    assert any("no row claims: 9" in w.value for w in app.warning)


def test_no_checked_day_says_so(signed_in):
    app = signed_in("views/admin_costs.py", role=Role.ADMIN).run()
    assert any("No day checked yet" in c.value for c in app.caption)
