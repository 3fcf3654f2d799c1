"""The user's queue: every job still queued or running, its place, and a button to cancel it
(queued: refunded now) or stop it (running: interrupted, GPU time used charged)."""

from __future__ import annotations

import streamlit as st

from core.models import GenerationJob, JobStatus
from core.studio import history, queue
from core.studio.outcomes import Cancel, cancel
from ui import db, resources

CANCEL_SAID = {
    Cancel.CANCELLED: "Cancelled: your credits were refunded.",
    Cancel.STOPPING: "Stopping: the GPU time used so far is charged, the rest refunded.",
    Cancel.TOO_LATE: "That job had already ended.",
}


def cancel_button(job: GenerationJob, *, key: str) -> None:
    """A Cancel (queued) or Stop (started) button for `job`; says what it did."""
    if job.cancel_requested_at is not None:
        st.caption("Stopping…")
        return
    label = "Cancel" if job.status is JobStatus.QUEUED else "Stop"
    if st.button(label, key=key, help="Queued: refunded in full. Running: pay the GPU time used."):
        outcome = cancel(
            resources.engine(), job_id=job.id or 0, user_id=job.user_id, clock=resources.clock()
        )
        st.toast(CANCEL_SAID[outcome])
        st.rerun()


def describe(job: GenerationJob, place: int | None) -> str:
    """One line about an open job: what it is and where it stands."""
    what = f"#{job.id} · {job.kind.value} · {job.preset} · “{job.prompt[:50]}”"
    if job.status is JobStatus.QUEUED:
        return f"{what} — place {place or '?'} in the queue"
    if job.total_steps:
        return f"{what} — generating, step {job.step} of {job.total_steps}"
    return f"{what} — starting on a GPU"


def render_queue(user_id: int, *, shown: int | None) -> None:
    """The user's open jobs with their places and cancel/stop buttons; nothing when the only
    open job is `shown` (the one the Studio's job panel shows)."""
    with db.reading() as session:
        jobs = history.open_jobs(session, user_id=user_id)
        if all(job.id == shown for job in jobs):
            return
        places = queue.queue_positions(session)
    count = f"{len(jobs)} job{'' if len(jobs) == 1 else 's'}"
    with st.expander(f"Your queue ({count})", expanded=True):
        for job in jobs:
            line, button = st.columns([5, 1])
            line.write(describe(job, places.get(job.id or 0)))
            with button:
                cancel_button(job, key=f"queue_cancel_{job.id}")
