"""The Account page's webhooks: add an endpoint (its signing secret shown), delete it, and
the log of recent deliveries."""

from __future__ import annotations

import streamlit as st

from core.accounts import webhooks
from core.models import User
from ui import db, resources
from ui.widgets import TIME_COLUMN


def render_webhooks(user: User) -> None:
    """The section: a form to add a webhook, the user's webhooks, and the delivery log."""
    st.subheader("Webhooks")
    st.caption(
        "We POST job.succeeded, job.failed and job.cancelled events as JSON, signed in the "
        f"`{webhooks.SIGNATURE_HEADER}` header (t=<unix time>,v1=HMAC-SHA256 of "
        "'<t>.<body>' with the webhook's secret); failures are retried with doubling "
        "pauses for about an hour and a half."
    )
    user_id = user.id or 0
    with st.form("webhook_new", clear_on_submit=True):
        url = st.text_input("Endpoint URL", max_chars=500, placeholder="https://example.com/hook")
        if st.form_submit_button("Add webhook"):
            db.attempt(
                lambda session, now: webhooks.add_webhook(
                    session,
                    user_id=user_id,
                    url=url,
                    now=now,
                    allow_private=resources.settings().webhook_allow_private,
                )
            )
    with db.reading() as session:
        hooks = webhooks.live_webhooks(session, user_id=user_id)
        log = webhooks.recent_deliveries(session, user_id=user_id)
    for hook in hooks:
        left, right = st.columns([4, 1], vertical_alignment="center")
        left.markdown(f"`{hook.url}`  \nsecret `{hook.secret}`")
        if right.button("Delete", key=f"webhook_delete_{hook.id}"):
            with db.writing() as (session, now):
                webhooks.delete_webhook(session, user_id=user_id, webhook_id=hook.id or 0, now=now)
            st.rerun()
    if log:
        st.dataframe(
            [
                {
                    "when": delivery.created_at,
                    "event": delivery.event,
                    "job": delivery.job_id,
                    "state": "delivered"
                    if delivery.delivered_at
                    else "gave up"
                    if delivery.gave_up_at
                    else "retrying",
                    "tries": delivery.attempts,
                    "last answer": delivery.last_error or delivery.last_status,
                }
                for delivery in log
            ],
            column_config={"when": TIME_COLUMN},
            hide_index=True,
            width="stretch",
        )
