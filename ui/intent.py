"""Idempotency keys for forms: one per intent to submit, so a double-click or a resent
request is the same job, not a second paid one (`core.studio.submit`)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import TypeVar

import streamlit as st

from core.errors import CoreError, PolicyRefusal
from core.studio.pricing import pricing_from
from core.studio.submit import SubmitOptions
from ui import resources

T = TypeVar("T")

_PREFIX = "intent_key_"


def key(form: str) -> str:
    """The idempotency key of `form`'s current intent, made on first use and kept in the
    browser session until `renew(form)`: every submit of the same intent carries it."""
    name = _PREFIX + form
    if name not in st.session_state:
        st.session_state[name] = secrets.token_urlsafe(18)
    return str(st.session_state[name])


def renew(form: str) -> None:
    """`form`'s intent was submitted: its next submit is a new intent with a new key."""
    st.session_state.pop(_PREFIX + form, None)


def submit(form: str, call: Callable[[str], T]) -> T | None:
    """Submit `form`'s intent through `call(idempotency_key)`: its result, with the key renewed
    for the next intent; on a refusal or another core error, the message shown and None (the
    key kept, so sending it again is the same request)."""
    try:
        result = call(key(form))
    except PolicyRefusal as refusal:
        st.error(f"Refused: {refusal}")
        return None
    except CoreError as exc:
        st.error(str(exc))
        return None
    renew(form)
    return result


def submit_jobs(form: str, *, user_id: int, queue: Callable[[SubmitOptions], T]) -> T | None:
    """`submit` of `form`'s intent through `queue(options)`: the options those the web app
    submits with (its clock, presets, pricing, pool and picture limit), for `user_id`, with
    the intent's idempotency key."""
    settings = resources.settings()

    def with_options(idempotency_key: str) -> T:
        return queue(
            SubmitOptions(
                user_id=user_id,
                clock=resources.clock(),
                presets=resources.presets(),
                pricing=pricing_from(settings),
                pool=settings.pool_name,
                idempotency_key=idempotency_key,
                max_pixels=settings.max_image_pixels,
            )
        )

    return submit(form, with_options)
