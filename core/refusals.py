"""Content-policy refusals, recorded in the audit log whatever path they came from.

Studio submits, muse forms, card imports, variations and the CLI all run their use case
inside `audited_refusals`, so every refusal leaves exactly one `policy.refused` entry.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Engine

from core import audit
from core.clock import Clock
from core.db import session_scope
from core.errors import PolicyRefusal
from core.models import AuditOutcome


@contextmanager
def audited_refusals(
    engine: Engine, *, actor: str, target: str, clock: Clock, ip: str | None = None
) -> Iterator[None]:
    """Run the block; a PolicyRefusal it raises is audited, then raised again unchanged.

    The entry is written in its own unit of work, after the block's own transaction was
    rolled back, so the record survives the refusal and nothing the block began is kept.
    Only the rule id is stored, never the refused text.
    """
    try:
        yield
    except PolicyRefusal as refusal:
        with session_scope(engine) as session:
            audit.record(
                session,
                at=clock.now(),
                actor=actor,
                ip=ip,
                action="policy.refused",
                outcome=AuditOutcome.DENIED,
                target=target,
                details={"rule": refusal.rule},
            )
        raise
