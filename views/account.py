"""Account: profile, credit balance and history, buying credits, password, sign out, API
tokens and webhooks."""

from __future__ import annotations

from decimal import Decimal

import streamlit as st

from core.accounts import ledger, payments, users
from core.accounts.statement import statement
from core.errors import ValidationFailed
from core.links import page_url
from ui import db, resources
from ui.api_tokens import render_api_tokens
from ui.auth import render_account_security, require_user
from ui.verification import render_email_status
from ui.webhooks import render_webhooks
from ui.widgets import TIME_COLUMN, format_usd

user = require_user()
user_id = user.id or 0
settings = resources.settings()

st.title("Account")
st.write(f"Signed in as **{user.display_name}** (`{user.username}`, {user.role})")
render_email_status(user)

with db.reading() as session:
    balance = ledger.balance(session, user_id)
    entries = ledger.history(session, user_id=user_id, limit=50)

st.metric("Credits", balance)
if balance < 0:
    st.warning(
        "Your balance is below zero because a payment was refunded or disputed and the "
        "credits it bought were taken back. New jobs start again once it is above zero."
    )
if entries:
    st.dataframe(
        [
            {"When": line.when, "What": line.what, "Credits": line.credits, "Detail": line.detail}
            for line in statement(entries)
        ],
        column_config={"When": TIME_COLUMN},
        hide_index=True,
        width="stretch",
    )

st.subheader("Buy credits")
if settings.stripe_api_key is None:
    st.caption("Purchases are not enabled on this studio. Ask the operator for credits.")
else:
    packs = {
        f"{pack.credits} credits: {format_usd(Decimal(pack.price_cents) / 100)}": pack
        for pack in payments.CREDIT_PACKS
    }
    chosen = st.radio("Pack", list(packs), key="account_pack")
    if st.button("Continue to payment", key="account_buy"):
        stripe_key = settings.stripe_api_key.get_secret_value()
        checkout = db.shown(  # refused: an unknown pack, or Stripe refused or is unreachable
            lambda: payments.create_checkout_session(
                payments.stripe_client(api_key=stripe_key, api_url=settings.stripe_api_url),
                user_id=user_id,
                pack_id=packs[chosen].id,
                success_url=page_url(settings.base_url, "account", paid="1"),
                cancel_url=page_url(settings.base_url, "account"),
            )
        )
        if checkout:
            st.link_button("Pay with Stripe", checkout.value, type="primary")

st.subheader("Your details")
with st.form("details"):
    display_name = st.text_input("Display name", user.display_name, max_chars=120)
    email = st.text_input("Email", user.email, max_chars=254)
    if st.form_submit_button("Save details"):
        try:
            with db.writing() as (session, now):
                users.update_details(
                    session,
                    user_id=user_id,
                    display_name=display_name,
                    email=email,
                    now=now,
                )
        except ValidationFailed as exc:
            st.error(str(exc))
        else:
            st.success("Saved.")

st.subheader("Security")
render_account_security(user)

render_api_tokens(user)
render_webhooks(user)
