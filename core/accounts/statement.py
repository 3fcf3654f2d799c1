"""The ledger as a person reads it: one line per job (its hold, release and charge folded
together), one per grant, purchase or other entry."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from core.models import CreditEntry, CreditKind

_PLAIN = {
    CreditKind.GRANT: "Credits granted",
    CreditKind.PURCHASE: "Credits bought",
    CreditKind.HOLD: "Held",
    CreditKind.RELEASE: "Released",
    CreditKind.CHARGE: "Charged",
    CreditKind.REFUND: "Refunded",
    CreditKind.REVERSAL: "Payment refunded: credits taken back",
    CreditKind.DISPUTE: "Payment disputed: credits taken back",
    CreditKind.RESTORE: "Dispute won: credits given back",
}


@dataclass(frozen=True)
class StatementLine:
    """One readable line: when, what happened, the net change in credits, and a detail."""

    when: datetime
    what: str
    credits: int
    detail: str


def _job_line(job_id: int, entries: Sequence[CreditEntry]) -> StatementLine:
    kinds = {entry.kind: entry for entry in entries}
    net = sum(entry.credits for entry in entries)
    held = -kinds[CreditKind.HOLD].credits if CreditKind.HOLD in kinds else 0
    if CreditKind.REFUND in kinds:
        reason = kinds[CreditKind.REFUND].note.removeprefix("refund: ")
        what, detail = "refunded", f"{held} held, all returned: {reason}"
    elif CreditKind.CHARGE in kinds:
        charged = -kinds[CreditKind.CHARGE].credits
        what = f"charged {charged} credit{'' if charged == 1 else 's'}"
        detail = f"{held} held, {held - charged} returned"
    else:
        what, detail = "in progress", f"{held} held until it finishes"
    return StatementLine(
        when=max(entry.created_at for entry in entries),
        what=f"Job #{job_id}: {what}",
        credits=net,
        detail=detail,
    )


def statement(entries: Sequence[CreditEntry]) -> list[StatementLine]:
    """`entries` (newest first, as `ledger.history` returns them) as readable lines, newest
    first: a job's entries make one line whose credits are their sum. A job whose entries
    straddle the page edge shows only the part on the page."""
    by_job: dict[int, list[CreditEntry]] = {}
    lines: list[tuple[int, StatementLine]] = []  # (newest entry id, line): ties in time
    for entry in entries:
        if entry.job_id is None:
            line = StatementLine(entry.created_at, _PLAIN[entry.kind], entry.credits, entry.note)
            lines.append((entry.id or 0, line))
        else:
            by_job.setdefault(entry.job_id, []).append(entry)
    for job_id, group in by_job.items():
        lines.append((max(entry.id or 0 for entry in group), _job_line(job_id, group)))
    lines.sort(key=lambda pair: (pair[1].when, pair[0]), reverse=True)
    return [line for _, line in lines]
