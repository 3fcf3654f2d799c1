"""Every table of the system. Import tables from here: `from core.models import User`."""

from sqlmodel import SQLModel

from core.models.accounts import (
    ApiToken,
    AuthSession,
    CreditEntry,
    LoginThrottle,
    PasswordReset,
    StripeEvent,
    StripePayment,
    User,
    Webhook,
    WebhookDelivery,
)
from core.models.enums import (
    LIVE_INSTANCE_STATES,
    AuditOutcome,
    CreditKind,
    InstanceState,
    JobStatus,
    MediaKind,
    ReportStatus,
    Role,
    Screening,
    TakedownStatus,
    Visibility,
)
from core.models.gallery import (
    Asset,
    AssetTag,
    AssetView,
    BlockedHash,
    Rating,
    Report,
    ShareLink,
    TakedownRequest,
)
from core.models.jobs import GenerationJob
from core.models.muses import Muse, MuseVariation, ReferenceImage
from core.models.ops import AuditCheckpoint, AuditEntry, SchedulerLock
from core.models.pool import (
    BadMachine,
    BillCheck,
    GpuInstance,
    Lease,
    PoolConfig,
    PoolSpendDay,
    UsageEvent,
)

metadata = SQLModel.metadata

__all__ = [
    "ApiToken",
    "Asset",
    "AssetTag",
    "AssetView",
    "AuditCheckpoint",
    "AuditEntry",
    "AuditOutcome",
    "AuthSession",
    "BadMachine",
    "BillCheck",
    "BlockedHash",
    "CreditEntry",
    "CreditKind",
    "GenerationJob",
    "GpuInstance",
    "InstanceState",
    "JobStatus",
    "LIVE_INSTANCE_STATES",
    "Lease",
    "LoginThrottle",
    "MediaKind",
    "Muse",
    "MuseVariation",
    "PasswordReset",
    "PoolConfig",
    "PoolSpendDay",
    "Rating",
    "ReferenceImage",
    "Report",
    "ReportStatus",
    "Role",
    "SchedulerLock",
    "Screening",
    "ShareLink",
    "StripeEvent",
    "StripePayment",
    "TakedownRequest",
    "TakedownStatus",
    "UsageEvent",
    "User",
    "Visibility",
    "Webhook",
    "WebhookDelivery",
    "metadata",
]
