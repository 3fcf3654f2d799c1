"""The Spend & usage page's tables: pandas frames built from `core.pool.reports` rows.

The frames keep money as `Decimal`, so the CSV exports are exact; `for_chart` turns the money
columns into floats for plotly, the one place they stop being exact.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from decimal import Decimal

import pandas as pd

from core.pool.reports import Boot, BudgetDay, GpuHours, JobRecord

MONEY_COLUMNS = ("cost_usd", "spend_usd", "month_to_date_usd", "daily_cap_usd", "monthly_cap_usd")


def daily_spend(per_day: dict[date, Decimal]) -> pd.DataFrame:
    """Columns `day`, `cost_usd`: one row per day with spend."""
    return pd.DataFrame(list(per_day.items()), columns=["day", "cost_usd"])


def hourly_spend(per_hour: dict[datetime, Decimal]) -> pd.DataFrame:
    """Columns `hour`, `cost_usd`: one row per hour with spend."""
    return pd.DataFrame(list(per_hour.items()), columns=["hour", "cost_usd"])


def budget(days: list[BudgetDay]) -> pd.DataFrame:
    """Columns `day`, `spend_usd`, `month_to_date_usd`, `daily_cap_usd`, `monthly_cap_usd`."""
    return pd.DataFrame(
        [asdict(day) for day in days],
        columns=["day", "spend_usd", "month_to_date_usd", "daily_cap_usd", "monthly_cap_usd"],
    )


def jobs(records: list[JobRecord]) -> pd.DataFrame:
    """Columns `day`, `kind`, `preset`, `status`, `gpu_s`, `credits`: one row per job."""
    return pd.DataFrame(
        [asdict(record) for record in records],
        columns=["day", "kind", "preset", "status", "gpu_s", "credits"],
    )


def gpu_hours(days: list[GpuHours]) -> pd.DataFrame:
    """Columns `day`, `total_h`, `busy_h`, `idle_h`: one row per day."""
    return pd.DataFrame(
        [(d.day, d.total_h, d.busy_h, d.idle_h) for d in days],
        columns=["day", "total_h", "busy_h", "idle_h"],
    )


def cold_starts(rows: list[Boot]) -> pd.DataFrame:
    """Columns `day`, `boot_s`: one row per boot."""
    return pd.DataFrame([asdict(row) for row in rows], columns=["day", "boot_s"])


def for_chart(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` with its money columns as floats, for plotly only."""
    money = [column for column in MONEY_COLUMNS if column in frame.columns]
    return frame.astype(dict.fromkeys(money, float))
