"""The enumerations the tables use, one place for every state name."""

from enum import StrEnum


class Role(StrEnum):
    USER = "user"
    ADMIN = "admin"


class CreditKind(StrEnum):
    """Ledger entry kinds. Holds are negative, their release or settlement adds back."""

    GRANT = "grant"
    PURCHASE = "purchase"
    HOLD = "hold"
    RELEASE = "release"
    CHARGE = "charge"
    REFUND = "refund"
    # Credits taken back from a purchase whose payment was refunded or disputed (may take a
    # balance below zero). Values stay within 8 characters: the column is sized from them.
    REVERSAL = "reversal"
    DISPUTE = "dispute"
    RESTORE = "restore"  # a won dispute's credits given back


class JobStatus(StrEnum):
    QUEUED = "queued"
    LEASED = "leased"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class MediaKind(StrEnum):
    IMAGE = "image"
    VIDEO = "video"


class Visibility(StrEnum):
    PRIVATE = "private"
    UNLISTED = "unlisted"
    PUBLIC = "public"


class Screening(StrEnum):
    """Output screening: nothing is public before it passes or a moderator approves it."""

    PENDING = "pending"
    PASSED = "passed"
    FLAGGED = "flagged"
    WAITING = "waiting"
    """A job's output stored, its checks still to run (decoded, looked up among the blocked
    pictures, judged by the screener: `core.gallery.verdicts`); hidden from everyone meanwhile."""


class InstanceState(StrEnum):
    """States of a pool instance; see ARCHITECTURE.md 'The pool'."""

    REQUESTED = "requested"
    BOOTING = "booting"
    READY = "ready"
    BUSY = "busy"
    TERMINATING = "terminating"
    TERMINATED = "terminated"
    LOST = "lost"


LIVE_INSTANCE_STATES = frozenset(
    {
        InstanceState.REQUESTED,
        InstanceState.BOOTING,
        InstanceState.READY,
        InstanceState.BUSY,
        InstanceState.TERMINATING,
    }
)


class ReportStatus(StrEnum):
    OPEN = "open"
    HIDDEN = "hidden"
    RESTORED = "restored"
    DELETED = "deleted"


class TakedownStatus(StrEnum):
    """A takedown request: open until removed (and copies blocked) or rejected."""

    OPEN = "open"
    REMOVED = "removed"
    REJECTED = "rejected"


class AuditOutcome(StrEnum):
    OK = "ok"
    DENIED = "denied"
    FAILED = "failed"
