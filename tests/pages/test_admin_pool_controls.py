"""The warm-pool page: live status of every instance, and each control confirmed and audited."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlmodel import col, select

from core.db import read_scope
from core.models import AuditEntry, GpuInstance, InstanceState, PoolConfig, Role
from testing.factories import make_instance, make_leased_job, make_pool

PAGE = "views/admin_pool.py"


@pytest.fixture
def pool_page(signed_in, web_engine):
    """The pool page for an admin, over a pool with a ready, a busy and a booting instance."""
    now = datetime.now(UTC)
    make_pool(web_engine, desired_size=1, max_instances=4)
    ready = make_instance(
        web_engine,
        state=InstanceState.READY,
        gpu_name="RTX 4090",
        price_per_hour_usd=Decimal("0.42"),
        comfy_url="http://10.0.0.5:8188",
        provider_id="101",
        created_at=now - timedelta(hours=2, minutes=5),
        last_used_at=now - timedelta(minutes=3),
    )
    busy = make_instance(
        web_engine,
        state=InstanceState.BUSY,
        gpu_name="RTX 3090",
        price_per_hour_usd=Decimal("0.25"),
        comfy_url="http://10.0.0.6:8188",
        provider_id="102",
        created_at=now - timedelta(minutes=40),
    )
    booting = make_instance(
        web_engine,
        state=InstanceState.BOOTING,
        provider_id="103",
        health_reason="checkpoint sdxl-base missing",
        created_at=now - timedelta(minutes=4),
    )
    job = make_leased_job(web_engine, busy, acquired_at=now - timedelta(minutes=1), lease_s=1800)
    app = signed_in(PAGE, role=Role.ADMIN).run()
    assert not app.exception, app.exception
    return app, {"ready": ready, "busy": busy, "booting": booting, "job": job}


def _button(app, label):
    return next(b for b in app.button if b.label.startswith(label))


def _confirm(app, key):
    """Press "yes" in the confirmation dialog `key` (it must be open)."""
    assert any(b.key == f"{key}_yes" for b in app.button), f"no open dialog {key}"
    return app.button(key=f"{key}_yes").click().run()


def _audit(engine, action):
    with read_scope(engine) as session:
        return session.exec(
            select(AuditEntry).where(AuditEntry.action == action).order_by(col(AuditEntry.id))
        ).all()


def test_live_status_shows_state_gpu_price_uptime_health_lease_and_last_use(pool_page):
    app, rows = pool_page
    table = app.dataframe[0].value.set_index("id")
    ready, busy, booting = rows["ready"].id, rows["busy"].id, rows["booting"].id
    assert list(table.index) == [ready, busy, booting]
    assert table.loc[ready, "state"] == "ready" and table.loc[ready, "gpu"] == "RTX 4090"
    assert table.loc[ready, "$/h"] == pytest.approx(0.42)
    assert table.loc[ready, "uptime"] == pytest.approx(2 + 5 / 60, abs=0.01)  # hours: sortable
    assert table.loc[ready, "cost so far"] >= 0
    assert table.loc[ready, "endpoint"] == "http://10.0.0.5:8188"
    assert table.loc[ready, "health"] == "healthy"
    assert table.loc[ready, "last used"] is not None
    assert table.loc[busy, "leased by job"] == f"#{rows['job'].id}"
    assert table.loc[busy, "lease ends"] is not None
    assert table.loc[booting, "health"] == "checkpoint sdxl-base missing"


def test_prewarm_needs_confirmation_then_wakes_the_pool_and_is_audited(pool_page, web_engine):
    app, _rows = pool_page
    [n for n in app.number_input if n.label == "Prewarm for minutes"][0].set_value(45)
    _button(app, "Prewarm now").click().run()
    assert any("45 minutes" in m.value for m in app.markdown)  # the dialog asks first
    assert _audit(web_engine, "pool.prewarm") == []
    _confirm(app, "prewarm_confirm")
    assert not app.exception
    with read_scope(web_engine) as session:
        until = session.get(PoolConfig, "default").prewarm_until
    assert until is not None and until > datetime.now(UTC) + timedelta(minutes=40)
    (entry,) = _audit(web_engine, "pool.prewarm")
    assert entry.actor == "user:admin1" and entry.details == {"minutes": 45}


def test_budget_caps_are_saved_and_audited(pool_page, web_engine):
    app, _rows = pool_page
    [n for n in app.number_input if n.label == "Daily cap (USD)"][0].set_value(7.5)
    [n for n in app.number_input if n.label == "Monthly cap (USD)"][0].set_value(120.0)
    _button(app, "Save caps").click().run()
    with read_scope(web_engine) as session:
        config = session.get(PoolConfig, "default")
    assert (config.daily_budget_usd, config.monthly_budget_usd) == (Decimal("7.5"), Decimal(120))
    (entry,) = _audit(web_engine, "pool.budget")
    assert {k: Decimal(v) for k, v in entry.details.items()} == {
        "daily_usd": Decimal("7.5"),
        "monthly_usd": Decimal(120),
    }


def test_adaptive_policy_is_switched_and_its_wait_value_set_and_audited(pool_page, web_engine):
    app, _rows = pool_page
    app.toggle[0].set_value(False)
    [n for n in app.number_input if n.label.startswith("An hour of a user")][0].set_value(1.5)
    _button(app, "Save adaptive settings").click().run()
    assert not app.exception
    with read_scope(web_engine) as session:
        config = session.get(PoolConfig, "default")
    assert config.adaptive is False and config.wait_value_per_hour_usd == Decimal("1.5")
    (entry,) = _audit(web_engine, "pool.adaptive")
    assert entry.details["on"] is False
    assert Decimal(entry.details["wait_value_per_hour_usd"]) == Decimal("1.5")


def test_gpu_filters_and_lease_max_are_saved_and_audited(pool_page, web_engine):
    app, _rows = pool_page
    [n for n in app.number_input if n.label == "Lease max (s)"][0].set_value(900)
    [t for t in app.text_input if t.label.startswith("GPU names")][0].input("RTX 4090, A100 ")
    _button(app, "Save settings").click().run()
    with read_scope(web_engine) as session:
        config = session.get(PoolConfig, "default")
    assert config.lease_max_s == 900 and config.gpu_names == ["RTX 4090", "A100"]
    (entry,) = _audit(web_engine, "pool.settings")
    assert entry.details["lease_max_s"] == "900"


def test_terminating_one_instance_needs_confirmation_and_is_audited(pool_page, web_engine):
    app, rows = pool_page
    target = rows["busy"].id
    app.selectbox(key="terminate_target").set_value(target)
    _button(app, "Terminate").click().run()
    assert _audit(web_engine, "pool.terminate") == []
    app.button(key="terminate_confirm_cancel").click().run()  # Cancel: nothing happens
    assert _audit(web_engine, "pool.terminate") == []
    assert not any(b.key == "terminate_confirm_yes" for b in app.button)  # the dialog closed
    _button(app, "Terminate").click().run()
    _confirm(app, "terminate_confirm")
    assert not app.exception
    with read_scope(web_engine) as session:
        marked = session.exec(
            select(GpuInstance.id).where(col(GpuInstance.terminate_requested_at).is_not(None))
        ).all()
    assert marked == [target]
    (entry,) = _audit(web_engine, "pool.terminate")
    assert entry.target == f"instance:{target}" and entry.details == {"count": 1}


def test_terminating_every_instance_marks_all_live_ones(pool_page, web_engine):
    app, _rows = pool_page
    app.selectbox(key="terminate_target").set_value("all")
    _button(app, "Terminate").click().run()
    _confirm(app, "terminate_confirm")
    with read_scope(web_engine) as session:
        pending = session.exec(
            select(GpuInstance).where(col(GpuInstance.terminate_requested_at).is_(None))
        ).all()
    assert pending == []
    (entry,) = _audit(web_engine, "pool.terminate")
    assert entry.target == "pool:default" and entry.details == {"count": 3}


def test_safe_mode_on_and_off_are_each_confirmed_and_audited_with_the_reason(pool_page, web_engine):
    app, _rows = pool_page
    app.text_input(key="safe_mode_reason").input("provider incident")
    _button(app, "Enter safe mode").click().run()
    with read_scope(web_engine) as session:
        assert session.get(PoolConfig, "default").safe_mode is False  # not before "yes"
    _confirm(app, "safe_mode_confirm")
    assert any("Safe mode is ON: provider incident" in e.value for e in app.error)
    _button(app, "Leave safe mode").click().run()  # the confirmation is asked again
    with read_scope(web_engine) as session:
        assert session.get(PoolConfig, "default").safe_mode is True
    _confirm(app, "safe_mode_confirm")
    with read_scope(web_engine) as session:
        assert session.get(PoolConfig, "default").safe_mode is False
    (on,) = _audit(web_engine, "pool.safe_mode_on")
    (off,) = _audit(web_engine, "pool.safe_mode_off")
    assert on.details == {"reason": "provider incident"} and on.actor == "user:admin1"
    assert off.id > on.id


def test_no_cell_reads_none(pool_page):
    app, rows = pool_page
    table = app.dataframe[0].value.set_index("id")
    assert "None" not in table.astype(str).to_numpy().ravel().tolist()
    assert table.loc[rows["booting"].id, "last used"] == "never"
    assert table.loc[rows["busy"].id, "leased by job"] == f"#{rows['job'].id}"


def test_safe_mode_is_refused_without_a_reason(pool_page, web_engine):
    app, _rows = pool_page
    _button(app, "Enter safe mode").click().run()
    assert any("Say why first" in e.value for e in app.error)
    assert not any(b.key == "safe_mode_confirm_yes" for b in app.button)
    with read_scope(web_engine) as session:
        assert session.get(PoolConfig, "default").safe_mode is False


def test_a_prewarm_at_desired_size_0_shows_the_gpu_booting(signed_in, web_engine):
    make_pool(web_engine, desired_size=0, prewarm_until=datetime.now(UTC) + timedelta(minutes=9))
    app = signed_in(PAGE, role=Role.ADMIN).run()
    assert any("a GPU is rented at the next tick" in i.value for i in app.info)
    make_instance(web_engine, state=InstanceState.BOOTING, created_at=datetime.now(UTC))
    app.run()
    assert any("1 GPU(s) booting" in i.value for i in app.info)
    table = app.dataframe[0].value
    assert list(table["state"]) == ["booting"]
