"""Operator changes to the pool's timeouts and machine filters are checked and audited."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlmodel import select

from core.db import read_scope, session_scope
from core.errors import ValidationFailed
from core.models import AuditEntry, PoolConfig
from core.pool import service
from testing.factories import make_pool

NOW = datetime(2026, 11, 24, tzinfo=UTC)
ACTOR = service.Actor(name="user:admin")


def test_settings_are_range_checked_and_audited(engine):
    make_pool(engine, desired_size=2)
    with session_scope(engine) as session:
        service.update_settings(
            session,
            pool="default",
            actor=ACTOR,
            now=NOW,
            gpu_names=["RTX 4090", " "],
            idle_timeout_s=1200,
            max_price_per_hour_usd=Decimal("0.8"),
        )
    for bad, message in (
        ({"idle_timeout_s": 5}, "between"),
        ({"color": 1}, "cannot be changed"),
        ({"max_instances": 1}, "below the desired"),
    ):
        with session_scope(engine) as session, pytest.raises(ValidationFailed, match=message):
            service.update_settings(session, pool="default", actor=ACTOR, now=NOW, **bad)
    with read_scope(engine) as session:
        config = session.get(PoolConfig, "default")
        entry = session.exec(select(AuditEntry)).one()
    assert (config.idle_timeout_s, config.gpu_names) == (1200, ["RTX 4090"])
    assert config.max_price_per_hour_usd == Decimal("0.8")
    assert entry.action == "pool.settings" and entry.details["idle_timeout_s"] == "1200"
