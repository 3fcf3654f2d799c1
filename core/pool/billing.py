"""Our spend checked against the provider's own bill, per instance and per UTC day.

Accrual (`core.pool.costs`) is pessimistic on purpose: `dph_total` from creation until an
instance is confirmed gone, loading time included, so a budget is never reached late. The
provider's bill (Vast's `/charges/`, VAST.md §1.10) is what it really charged. Once a day is
over it is checked: one `BillCheck` row per instance that accrued or was billed that day
(checked again the next day, when late charges have arrived; a check replaces the last). A
day whose difference passes the alert threshold, or a bill for an instance under our label
prefix that no row claims (a leaked GPU), raises an alert. Budgets count a checked day at its
billed figure (`budget_spend_since`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, delete, select

from core.db import session_scope
from core.models import BillCheck, GpuInstance, PoolConfig, PoolSpendDay, UsageEvent
from core.pool import costs
from core.pool.provider import BilledCharge, Provider

log = logging.getLogger(__name__)

RECHECK_DAYS = 2
"""Yesterday and the day before: a charge that posts late still lands in its day's check."""


@dataclass(frozen=True)
class DayCheck:
    """One UTC day of one pool: what we accrued, what the provider billed."""

    day: date
    accrued_usd: Decimal
    billed_usd: Decimal
    instances: int
    unclaimed: tuple[str, ...] = ()
    """Provider ids billed under our label prefix that no row of ours claims."""

    @property
    def difference_usd(self) -> Decimal:
        """Billed minus accrued: negative when our accrual was the more pessimistic."""
        return self.billed_usd - self.accrued_usd


def day_window(day: date) -> tuple[datetime, datetime]:
    """[midnight, next midnight) of `day`, UTC."""
    start = datetime.combine(day, time.min, UTC)
    return start, start + timedelta(days=1)


def record_day(
    session: Session,
    *,
    pool: str,
    label_prefix: str,
    day: date,
    bills: Sequence[BilledCharge],
    now: datetime,
) -> DayCheck:
    """Replace `day`'s bill check of `pool` with one row per instance that accrued or was
    billed that day; bills for other pools' or foreign instances are left out. Flushes only.

    Two checks of one pool at once (a second scheduler) queue on the pool's config row, so the
    second replaces the first instead of colliding with its rows.
    """
    session.exec(select(PoolConfig.name).where(PoolConfig.name == pool).with_for_update()).first()
    start, end = day_window(day)
    accrued = dict(
        session.exec(
            select(GpuInstance.provider_id, sa.func.sum(UsageEvent.cost_usd))
            .join(GpuInstance, col(GpuInstance.id) == col(UsageEvent.instance_id))
            .where(
                UsageEvent.pool == pool,
                UsageEvent.kind == costs.ACCRUAL_EVENT,
                UsageEvent.at >= start,
                UsageEvent.at < end,
                col(GpuInstance.provider_id).is_not(None),
            )
            .group_by(col(GpuInstance.provider_id))
        ).all()
    )
    ours = {
        row.provider_id: row
        for row in session.exec(
            select(GpuInstance).where(
                GpuInstance.pool == pool, col(GpuInstance.provider_id).is_not(None)
            )
        ).all()
    }
    billed = {
        bill.provider_id: bill
        for bill in bills
        if bill.provider_id in ours or (bill.label or "").startswith(label_prefix)
    }
    session.exec(delete(BillCheck).where(col(BillCheck.pool) == pool, col(BillCheck.day) == day))
    for provider_id in sorted(set(accrued) | set(billed), key=str):
        if provider_id is None:
            continue
        row = ours.get(provider_id)
        bill = billed.get(provider_id)
        session.add(
            BillCheck(
                pool=pool,
                day=day,
                provider_id=provider_id,
                instance_id=row.id if row else None,
                label=row.label if row else (bill.label if bill else None),
                accrued_usd=Decimal(accrued.get(provider_id) or 0),
                billed_usd=bill.amount_usd if bill else Decimal(0),
                checked_at=now,
            )
        )
    session.flush()
    found = checks_since(session, pool=pool, since=day, until=day)
    check = found[0] if found else DayCheck(day, Decimal(0), Decimal(0), 0)
    _note_checked_day(session, pool=pool, check=check)
    return check


def _note_checked_day(session: Session, *, pool: str, check: DayCheck) -> None:
    """Put a checked day's totals on its running-sum row, so budgets read that row only."""
    row = session.get(PoolSpendDay, (pool, check.day)) or PoolSpendDay(pool=pool, day=check.day)
    row.checked_accrued_usd = check.accrued_usd
    row.billed_usd = check.billed_usd
    session.add(row)
    session.flush()


def reconcile_recent(
    engine: Engine,
    provider: Provider,
    *,
    pool: str,
    label_prefix: str,
    now: datetime,
    alert_above_usd: Decimal,
    alert: Callable[..., None],
) -> list[DayCheck]:
    """Check the last `RECHECK_DAYS` complete UTC days against the provider's bill; alert on
    a day whose |difference| passes `alert_above_usd` or that bills an unclaimed instance.

    Each day's bill is fetched before its transaction; a fetch that fails raises
    ProviderError and leaves that day's previous check (if any) as it was.
    """
    checks = []
    today = now.date()
    for back in range(RECHECK_DAYS, 0, -1):
        day = today - timedelta(days=back)
        bills = provider.billed(*day_window(day))
        with session_scope(engine) as session:
            check = record_day(
                session, pool=pool, label_prefix=label_prefix, day=day, bills=bills, now=now
            )
        checks.append(check)
        log.info(
            "pool.bill_checked",
            extra={
                "pool": pool,
                "day": day.isoformat(),
                "accrued_usd": str(check.accrued_usd),
                "billed_usd": str(check.billed_usd),
                "instances": check.instances,
            },
        )
        if check.unclaimed:
            alert(
                "bill_unclaimed",
                f"pool {pool}: {day} bills instances no row claims: {', '.join(check.unclaimed)}",
                pool=pool,
                day=day.isoformat(),
            )
        if abs(check.difference_usd) > alert_above_usd:
            alert(
                "bill_mismatch",
                f"pool {pool}: {day} billed ${check.billed_usd} but accrued "
                f"${check.accrued_usd} (difference ${check.difference_usd})",
                pool=pool,
                day=day.isoformat(),
            )
    return checks


def checks_since(
    session: Session, *, pool: str, since: date, until: date | None = None
) -> list[DayCheck]:
    """The checked days of `pool` from `since` (to `until`, both included), oldest first."""
    query = select(BillCheck).where(BillCheck.pool == pool, col(BillCheck.day) >= since)
    if until is not None:
        query = query.where(col(BillCheck.day) <= until)
    by_day: dict[date, list[BillCheck]] = {}
    for row in session.exec(query.order_by(col(BillCheck.day), col(BillCheck.id))).all():
        by_day.setdefault(row.day, []).append(row)
    return [
        DayCheck(
            day=day,
            accrued_usd=sum((r.accrued_usd for r in rows), Decimal(0)),
            billed_usd=sum((r.billed_usd for r in rows), Decimal(0)),
            instances=len(rows),
            unclaimed=tuple(r.provider_id for r in rows if r.instance_id is None),
        )
        for day, rows in by_day.items()
    ]


def correction_since(session: Session, *, pool: str, since: datetime) -> Decimal:
    """What the checked days from `since`'s day on were billed beyond what we accrued."""
    billed, accrued = session.exec(
        select(
            sa.func.coalesce(sa.func.sum(PoolSpendDay.billed_usd), 0),
            sa.func.coalesce(sa.func.sum(PoolSpendDay.checked_accrued_usd), 0),
        ).where(PoolSpendDay.pool == pool, col(PoolSpendDay.day) >= since.date())
    ).one()
    return Decimal(billed or 0) - Decimal(accrued or 0)


def budget_spend_since(session: Session, *, pool: str, since: datetime) -> Decimal:
    """Spend of `pool` since `since` (a UTC midnight) as budgets count it: each checked day
    at its billed figure, every other day at its (pessimistic) accrual. Reads one running-sum
    row per day (`PoolSpendDay`), never the accrual history."""
    return costs.spend_since(session, pool=pool, since=since) + correction_since(
        session, pool=pool, since=since
    )
