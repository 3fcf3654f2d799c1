""" "More like this" on a Studio result: N variations at nearby seeds, priced before the
click, then shown together as a grid that follows each variation's job."""

from __future__ import annotations

import streamlit as st

from core.errors import CoreError
from core.models import GenerationJob, JobStatus
from core.studio import history
from core.studio.pricing import pricing_from
from core.studio.variations import (
    DEFAULT_VARIATIONS,
    MAX_VARIATIONS,
    credits_held,
    submit_variations,
    variation_requests,
)
from ui import db, intent, media, resources

ACTIVE_JOB = "studio_active_job"
GRID_COLUMNS = 4


def more_like_this(job: GenerationJob, *, user_id: int, key: str) -> None:
    """How many variations, what they hold, and the button that queues them (all or none);
    the first variation becomes the job the Studio follows."""
    settings, presets = resources.settings(), resources.presets()
    pricing = pricing_from(settings)
    left, right = st.columns([1, 3], vertical_alignment="bottom")
    count = int(
        left.number_input("Variations", 1, MAX_VARIATIONS, DEFAULT_VARIATIONS, key=f"{key}_count")
    )
    try:
        with db.reading() as session:
            held = credits_held(
                session,
                variation_requests(job, count),
                presets=presets,
                pricing=pricing,
                pool=settings.pool_name,
            )
    except CoreError as exc:
        right.caption(f"More like this is not available: {exc}")
        return
    label = f"More like this: {count} at nearby seeds ({held} credits held)"
    if not right.button(label, key=key, help="Each variation is a job of its own, priced alike."):
        return
    jobs = intent.submit_jobs(
        key,
        user_id=user_id,
        queue=lambda options: submit_variations(
            resources.engine(), job_id=job.id or 0, count=count, **options
        ),
    )
    if jobs is not None:
        st.session_state[ACTIVE_JOB] = jobs[0].id
        st.rerun()


def variation_grid(job: GenerationJob, *, user_id: int) -> None:
    """The variations `job` belongs to, side by side: each one's picture once it is done,
    else where it stands."""
    if job.variation_of is None:
        return
    with db.reading() as session:
        siblings = history.variations_of(session, user_id=user_id, job_id=job.variation_of)
        outputs, _held = history.outputs_of_jobs(
            session, job_ids=[j.id or 0 for j in siblings], user_id=user_id
        )
    st.subheader(f"Variations of #{job.variation_of}")
    columns = st.columns(GRID_COLUMNS)
    for index, sibling in enumerate(siblings):
        with columns[index % GRID_COLUMNS]:
            pictures = outputs.get(sibling.id or 0, [])
            for picture in pictures:
                st.image(media.read(picture.thumb_sha256 or picture.sha256), width="stretch")
            st.caption(f"#{sibling.id} · seed {sibling.seed} · {_state(sibling)}")


def _state(job: GenerationJob) -> str:
    if job.status is JobStatus.RUNNING and job.total_steps:
        return f"step {job.step} of {job.total_steps}"
    return job.status.value
