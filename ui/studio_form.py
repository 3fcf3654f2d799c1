"""Studio form checks that speak to the user (a prompt past the limit, a Generate that cannot
go), what is sent chunk by chunk, and the watch that keeps the page in step with the job it
follows."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import streamlit as st

from core.comfy.tokens import CLIP_WINDOW, prompt_chunks
from core.models import GenerationJob
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


def generate_blocker(prompt: str, *, needs_prompt: bool = True) -> str | None:
    """Why Generate cannot submit now, as a sentence (None when it can); a tool working on a
    picture as it is (a standalone upscale) does not `need_prompt`.

    Generate stays clickable while the prompt is empty: a text box commits its value when it
    loses focus, so a button that enabled only then would swallow the first click after typing.
    """
    if needs_prompt and not prompt.strip():
        return "Write a prompt first: describe the picture you want."
    return too_long_message(prompt, "prompt")


def show_sent(prompt: str, negative: str, *, composed: bool) -> None:
    """Exactly what the graph encodes, chunk by chunk with each chunk's estimated tokens: for
    a muse's composed prompt always, for another prompt once it needs more than one chunk."""
    if not prompt or not (composed or len(prompt_chunks(prompt)) > 1):
        return
    with st.expander("Composed prompt (exactly what is sent)" if composed else "What is sent"):
        for label, text in (("Prompt", prompt), ("Negative", negative)):
            chunks = prompt_chunks(text)
            for number, chunk in enumerate(chunks, 1):
                part = f", chunk {number} of {len(chunks)}" if len(chunks) > 1 else ""
                st.caption(f"{label}{part}: ≈ {chunk.tokens} of {CLIP_WINDOW} tokens")
                st.text(chunk.text if len(chunks) > 1 else text)


_SEEN = "studio_seen_status"


def status_changed(state: MutableMapping[Any, Any], job: GenerationJob) -> bool:
    """Whether `job` changed status since this session's last poll of it; remembers what it
    saw. The polling fragment then reruns the whole page, so the History below it never says
    "queued" while generating or "running" after the end. A job seen for the first time (just
    submitted, or after a reload) is not a change: the run showing it renders the History too.
    """
    seen = [job.id, job.status.value]
    before = state.get(_SEEN)
    state[_SEEN] = seen
    return before is not None and before[0] == seen[0] and before != seen
