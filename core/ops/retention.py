"""The 90-day retention window: old telemetry, sessions and audit rows go; money stays.

Kept whatever their age: assets (users' work), reports and takedowns (legal), credit entries
(financial records) and the jobs they reference, and this month's usage (budget checks).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from core import audit
from core.accounts.inputs import require_int
from core.models import (
    Asset,
    AssetView,
    AuthSession,
    CreditEntry,
    GenerationJob,
    JobStatus,
    LoginThrottle,
    PasswordReset,
    UsageEvent,
    WebhookDelivery,
)
from core.pool.costs import month_start

MAX_RETENTION_DAYS = 36_500


@dataclass
class RetentionReport:
    """Rows removed per table."""

    removed: dict[str, int] = field(default_factory=dict)


def apply_retention(session: Session, *, now: datetime, days: int = 90) -> RetentionReport:
    """Delete what is older than `days` and not needed any more; the audit chain is pruned
    with a checkpoint so it still verifies."""
    require_int(days, field="retention window in days", low=1, high=MAX_RETENTION_DAYS)
    cutoff = now - timedelta(days=days)
    usage_cutoff = min(cutoff, month_start(now))
    report = RetentionReport()

    def remove(name: str, statement: sa.Delete) -> None:
        report.removed[name] = int(session.execute(statement).rowcount)  # type: ignore[attr-defined]

    remove("assetview", sa.delete(AssetView).where(col(AssetView.at) < cutoff))
    remove("usageevent", sa.delete(UsageEvent).where(col(UsageEvent.at) < usage_cutoff))
    remove(
        "authsession",
        sa.delete(AuthSession).where(
            sa.or_(col(AuthSession.expires_at) < cutoff, col(AuthSession.revoked_at) < cutoff)
        ),
    )
    remove("passwordreset", sa.delete(PasswordReset).where(col(PasswordReset.expires_at) < cutoff))
    # A lockout lasts minutes; a name untried for the whole window has nothing to remember.
    remove("loginthrottle", sa.delete(LoginThrottle).where(col(LoginThrottle.updated_at) < cutoff))
    remove(
        "webhookdelivery",
        sa.delete(WebhookDelivery).where(col(WebhookDelivery.created_at) < cutoff),
    )
    finished = (JobStatus.FAILED, JobStatus.CANCELLED)
    unreferenced = sa.and_(
        col(GenerationJob.created_at) < cutoff,
        col(GenerationJob.status).in_(finished),
        ~sa.exists(select(Asset.id).where(Asset.job_id == GenerationJob.id)),
        ~sa.exists(select(CreditEntry.id).where(CreditEntry.job_id == GenerationJob.id)),
        ~sa.exists(select(UsageEvent.id).where(UsageEvent.job_id == GenerationJob.id)),
    )
    remove("generationjob", sa.delete(GenerationJob).where(unreferenced))
    report.removed["auditentry"] = audit.prune(session, before=cutoff, now=now)
    return report
