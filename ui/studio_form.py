"""Studio form checks that speak to the user: a prompt past the limit, a Generate that cannot go."""

from __future__ import annotations

import streamlit as st

from core.safety import MAX_PROMPT_CHARS


def too_long_message(text: str, field: str) -> str | None:
    """What to say when `text` is past the prompt limit (None when it fits): the text is
    kept whole, never cut, so the user chooses what to remove."""
    if len(text) <= MAX_PROMPT_CHARS:
        return None
    return (
        f"The {field} is {len(text):,} characters long; the limit is {MAX_PROMPT_CHARS:,}. "
        f"Shorten it by {len(text) - MAX_PROMPT_CHARS:,}: nothing was cut, and Generate "
        "refuses it as it is."
    )


def too_long_note(text: str, field: str) -> None:
    """Show `too_long_message` under the text box when there is one."""
    message = too_long_message(text, field)
    if message:
        st.error(message)


def generate_blocker(prompt: str) -> str | None:
    """Why Generate cannot submit now, as a sentence (None when it can).

    Generate stays clickable while the prompt is empty: a text box commits its value when it
    loses focus, so a button that enabled only then would swallow the first click after typing.
    """
    if not prompt.strip():
        return "Write a prompt first: describe the picture you want."
    return too_long_message(prompt, "prompt")
