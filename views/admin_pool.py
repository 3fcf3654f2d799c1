"""Warm pool: live instances, queue and spend, and the operator's controls."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

import streamlit as st
from sqlmodel import Session

from core.pool import service
from ui import db, resources
from ui.auth import require_admin
from ui.widgets import (
    HOURS_COLUMN,
    MONEY_COLUMN,
    ask_to_confirm,
    client_ip,
    confirmation,
    format_usd,
    usd_cell,
)

ALL = "all"

admin = require_admin()
settings = resources.settings()
pool = settings.pool_name
actor = service.Actor(name=f"user:{admin.username}", ip=client_ip(), user_id=admin.id)

st.title("Warm pool")
with db.writing() as (session, _now):
    service.ensure_pool(session, settings)  # the scheduler may not have started yet


def _when(at: datetime | None, missing: str) -> str:
    """A timestamp cell as sortable text (UTC, to the second), `missing` when there is none."""
    return f"{at:%Y-%m-%d %H:%M:%S}" if at is not None else missing


@st.fragment(run_every=10)
def live_status() -> None:
    """Pool state, refreshed every 10 s without rerunning the controls."""
    now = resources.clock().now()
    with db.reading() as session:
        status = service.status(session, pool=pool, now=now)
    config = status.config
    if config.safe_mode:
        st.error(f"Safe mode is ON: {config.safe_mode_reason or 'no reason given'}")
    elif config.prewarm_until is not None and config.prewarm_until > now:
        starting = sum(1 for i in status.instances if i.state in service.STARTING_STATES)
        st.info(
            f"Prewarming until {config.prewarm_until:%H:%M} UTC: "
            + (f"{starting} GPU(s) booting." if starting else "a GPU is rented at the next tick.")
        )
    cols = st.columns(5)
    cols[0].metric("Desired warm", config.desired_size)
    cols[1].metric("Live instances", len(status.instances))
    cols[2].metric("Queued / running", f"{status.queued_jobs} / {status.running_jobs}")
    cols[3].metric(
        "Spend today",
        format_usd(status.spend_today_usd),
        f"cap {format_usd(config.daily_budget_usd)}",
        delta_color="off",
    )
    cols[4].metric(
        "Spend this month",
        format_usd(status.spend_month_usd),
        f"cap {format_usd(config.monthly_budget_usd)}",
        delta_color="off",
    )
    if not status.instances:
        st.info("No instances are running. The pool wakes on the next job or a prewarm.")
        return
    st.dataframe(
        [
            {
                "id": row.id,
                "state": str(row.state),
                "gpu": row.gpu_name or "",
                "$/h": usd_cell(row.price_per_hour_usd),
                "uptime": row.uptime_s / 3600,
                "endpoint": row.comfy_url or "",
                "health": row.endpoint_health,
                "leased by job": f"#{row.leased_by_job}" if row.leased_by_job else "",
                "lease ends": _when(row.lease_expires_at, ""),
                "last used": _when(row.last_used_at, "never"),
                "cost so far": usd_cell(row.cost_accrued_usd),
            }
            for row in status.instances
        ],
        column_config={"$/h": MONEY_COLUMN, "uptime": HOURS_COLUMN, "cost so far": MONEY_COLUMN},
        hide_index=True,
        width="stretch",
    )


def _apply(change: str, action: Callable[[Session, datetime], object]) -> None:
    """Run one audited change, `action(session, now)`; on success say so above the controls."""
    if db.attempt(action):
        st.session_state["pool_flash"] = f"{change}. The scheduler applies it at its next tick."
        st.rerun()  # so the status above shows the change at once


if flash := st.session_state.pop("pool_flash", None):
    st.success(flash)
live_status()

with db.reading() as session:
    snapshot = service.status(session, pool=pool, now=resources.clock().now())
current = snapshot.config

st.subheader("Controls")
left, right = st.columns(2)
with left, st.form("pool_size"):
    size = st.number_input(
        "Instances kept warm while awake", 0, current.max_instances, current.desired_size
    )
    if st.form_submit_button("Set warm size"):
        _apply(
            f"Warm size set to {size}",
            lambda s, now: service.set_desired_size(
                s, pool=pool, size=int(size), actor=actor, now=now
            ),
        )
with left, st.form("prewarm"):
    minutes = st.number_input("Prewarm for minutes", 1, service.MAX_PREWARM_MIN, 60)
    if st.form_submit_button("Prewarm now"):
        ask_to_confirm("prewarm_confirm")
confirmation(
    "prewarm_confirm",
    f"Rent GPUs now for {minutes} minutes? They bill by the hour.",
    yes="Yes, rent GPUs now",
    on_yes=lambda: _apply(
        f"Prewarming for {minutes} minutes",
        lambda s, now: service.prewarm(s, pool=pool, minutes=int(minutes), actor=actor, now=now),
    ),
)
with right, st.form("budget"):
    daily = st.number_input("Daily cap (USD)", 0.0, value=float(current.daily_budget_usd))
    monthly = st.number_input("Monthly cap (USD)", 0.0, value=float(current.monthly_budget_usd))
    if st.form_submit_button("Save caps"):
        _apply(
            "Budget caps saved",
            lambda s, now: service.set_budget(
                s,
                pool=pool,
                daily_usd=Decimal(str(daily)),
                monthly_usd=Decimal(str(monthly)),
                actor=actor,
                now=now,
            ),
        )
turn_on = not current.safe_mode
with right, st.form("safe_mode"):
    reason = st.text_input(
        "Reason (required to switch it on; shown to operators and in the audit log)",
        max_chars=200,
        key="safe_mode_reason",
    )
    label = "Enter safe mode (terminate everything)" if turn_on else "Leave safe mode"
    if st.form_submit_button(label, type="secondary"):
        if turn_on and not reason.strip():
            st.error("Say why first: the reason is shown on this page and in the audit log.")
        else:
            ask_to_confirm("safe_mode_confirm")
confirmation(
    "safe_mode_confirm",
    "Enter safe mode? Every instance is destroyed now and nothing new is rented."
    if turn_on
    else "Leave safe mode? The pool rents GPUs again as jobs arrive.",
    yes="Yes, I mean it",
    on_yes=lambda: _apply(
        "Safe mode on" if turn_on else "Safe mode off",
        lambda s, now: service.set_safe_mode(
            s, pool=pool, on=turn_on, reason=reason, actor=actor, now=now
        ),
    ),
)
with st.form("settings"):
    st.markdown("**Timeouts and machine filters**")
    a, b, c = st.columns(3)
    idle = a.number_input("Idle timeout (s)", 60, 24 * 3600, current.idle_timeout_s)
    lease = b.number_input("Lease max (s)", 60, 6 * 3600, current.lease_max_s)
    boot = c.number_input("Boot timeout (s)", 60, 3 * 3600, current.boot_timeout_s)
    vram = a.number_input("Min VRAM (GB)", 4, 192, current.min_vram_gb)
    price = b.number_input("Max $/hour", 0.01, 50.0, float(current.max_price_per_hour_usd))
    cap = c.number_input("Max instances", 0, 64, current.max_instances)
    gpus = st.text_input("GPU names (comma-separated, empty = any)", ", ".join(current.gpu_names))
    if st.form_submit_button("Save settings"):
        _apply(
            "Settings saved",
            lambda s, now: service.update_settings(
                s,
                pool=pool,
                actor=actor,
                now=now,
                gpu_names=gpus.split(","),
                idle_timeout_s=int(idle),
                lease_max_s=int(lease),
                boot_timeout_s=int(boot),
                min_vram_gb=int(vram),
                max_price_per_hour_usd=Decimal(str(price)),
                max_instances=int(cap),
            ),
        )
with st.form("adaptive"):
    st.markdown("**Adaptive warm pool**")
    st.caption(
        "Learns when people generate, prewarms one boot ahead of busy times and picks the idle "
        "timeout against the cost of a cold start (waiting valued below)."
    )
    adaptive_on = st.toggle("Adaptive idle timeout and prewarm", value=current.adaptive)
    wait_value = st.number_input(
        "An hour of a user's waiting is worth (USD)",
        0.0,
        float(service.MAX_WAIT_VALUE_USD),
        float(current.wait_value_per_hour_usd),
    )
    if st.form_submit_button("Save adaptive settings"):
        _apply(
            "Adaptive settings saved",
            lambda s, now: service.set_adaptive(
                s,
                pool=pool,
                on=adaptive_on,
                wait_value_per_hour_usd=Decimal(str(wait_value)),
                actor=actor,
                now=now,
            ),
        )
with st.form("terminate"):
    target = st.selectbox(
        "Instance to terminate",
        [*(row.id for row in snapshot.instances), ALL],
        format_func=lambda i: "every live instance" if i == ALL else f"#{i}",
        key="terminate_target",
    )
    if st.form_submit_button("Terminate"):
        ask_to_confirm("terminate_confirm")
instance_id = target if isinstance(target, int) else None  # ALL: every live instance
confirmation(
    "terminate_confirm",
    f"Destroy {'every live instance' if instance_id is None else f'instance #{instance_id}'}? "
    "Running jobs on it are retried elsewhere.",
    yes="Yes, destroy it",
    on_yes=lambda: _apply(
        "Termination requested",
        lambda s, now: service.request_terminate(
            s, pool=pool, instance_id=instance_id, actor=actor, now=now
        ),
    ),
)
