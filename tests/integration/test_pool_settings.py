"""Operator changes to the pool's timeouts and machine filters are checked and audited."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlmodel import select

from core.db import read_scope, session_scope
from core.errors import ValidationFailed
from core.models import AuditEntry, PoolConfig, Role
from core.pool import service
from testing.factories import make_pool, make_user

NOW = datetime(2026, 11, 24, tzinfo=UTC)
ACTOR = service.Actor(name="admin-key", admin_key=True)


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


def _every_admin_action(actor):
    """Each pool-admin function, called as `actor`."""
    common = {"pool": "default", "actor": actor, "now": NOW}
    return [
        lambda s: service.set_desired_size(s, size=1, **common),
        lambda s: service.set_safe_mode(s, on=True, reason="incident", **common),
        lambda s: service.prewarm(s, minutes=10, **common),
        lambda s: service.set_adaptive(s, on=True, wait_value_per_hour_usd=None, **common),
        lambda s: service.set_budget(s, daily_usd=Decimal(1), monthly_usd=None, **common),
        lambda s: service.update_settings(s, idle_timeout_s=600, **common),
        lambda s: service.request_terminate(s, instance_id=None, **common),
    ]


@pytest.mark.parametrize("who", ["plain user", "disabled admin", "unverified key"])
def test_pool_admin_functions_check_the_role_themselves(engine, who):
    before = make_pool(engine).model_dump()
    if who == "unverified key":
        actor = service.Actor(name="admin-key")
    else:
        user = make_user(engine, role=Role.ADMIN if who == "disabled admin" else Role.USER)
        if who == "disabled admin":
            with session_scope(engine) as session:
                row = session.get(type(user), user.id)
                row.disabled = True
                session.add(row)
        actor = service.Actor(name=f"user:{user.username}", user_id=user.id)
    for action in _every_admin_action(actor):
        with session_scope(engine) as session, pytest.raises(ValidationFailed, match="Only admin"):
            action(session)
    with read_scope(engine) as session:
        assert session.get(PoolConfig, "default").model_dump() == before
        assert session.exec(select(AuditEntry)).all() == []


def test_an_enabled_admin_may_and_each_change_is_audited(engine):
    make_pool(engine, max_instances=3)
    admin = make_user(engine, role=Role.ADMIN)
    actor = service.Actor(name=f"user:{admin.username}", user_id=admin.id)
    for action in _every_admin_action(actor):
        with session_scope(engine) as session:
            action(session)
    with read_scope(engine) as session:
        assert len(session.exec(select(AuditEntry)).all()) == 7


@pytest.mark.parametrize("reason", ["", "   "])
def test_safe_mode_on_takes_a_reason(engine, reason):
    make_pool(engine)
    with session_scope(engine) as session, pytest.raises(ValidationFailed, match="why"):
        service.set_safe_mode(session, pool="default", on=True, reason=reason, actor=ACTOR, now=NOW)
    with session_scope(engine) as session:  # leaving it needs none
        service.set_safe_mode(session, pool="default", on=False, reason="", actor=ACTOR, now=NOW)
