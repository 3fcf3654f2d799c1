"""Studio: compose a prompt (optionally from a muse), see the cost, generate, follow progress."""

from __future__ import annotations

import streamlit as st

from core.accounts import ledger
from core.comfy.tokens import CLIP_WINDOW, estimate_clip_tokens, over_window
from core.db import read_scope
from core.errors import CoreError, PolicyRefusal
from core.gallery import store
from core.models import GenerationJob, JobStatus, MediaKind
from core.muses import service as muses
from core.studio import history, jobs
from ui import resources
from ui.auth import require_user
from ui.widgets import format_duration

user = require_user()
user_id = user.id or 0
settings = resources.settings()
presets = resources.presets()
pricing = jobs.pricing_from(settings)
engine = resources.engine()
clock = resources.clock()

st.title("Studio")

with read_scope(engine) as session:
    balance = ledger.balance(session, user_id)
    my_muses = muses.list_muses(
        session, owner_id=user_id, search=None, tags=(), nsfw=None, limit=200, offset=0
    )
st.caption(f"Balance: **{balance} credits**")

form, side = st.columns([3, 2])
with form:
    kind = MediaKind(st.radio("Create", ["image", "video"], horizontal=True, key="studio_kind"))
    muse_names = {"": None} | {f"{m.name} (#{m.id})": m.id for m in my_muses}
    muse_label = st.selectbox("Muse (optional)", list(muse_names), key="studio_muse")
    muse_id = muse_names[muse_label]
    prompt = st.text_area(
        "Scene" if muse_id else "Prompt",
        key="studio_prompt",
        max_chars=4000,
        placeholder="A portrait in soft window light, film grain",
    )
    tokens = estimate_clip_tokens(prompt)
    st.caption(f"≈ {tokens} of {CLIP_WINDOW} CLIP tokens")
    if over_window(prompt):
        st.warning("This prompt is past CLIP's 75-token window: its end will carry little weight.")
    negative = st.text_area(
        "Negative prompt", key="studio_negative", max_chars=4000, value=presets.default_negative
    )
    left, right = st.columns(2)
    preset = left.selectbox("Quality", presets.names(kind.value), index=1, key="studio_preset")
    model = right.selectbox("Model", presets.models(kind.value), key="studio_model")
    random_seed = left.checkbox("Random seed", value=True, key="studio_random_seed")
    seed = right.number_input("Seed", 0, 2**48, 42, disabled=random_seed, key="studio_seed")
    batch = left.slider("Batch", 1, jobs.MAX_BATCH, 1, key="studio_batch")
    explicit = right.toggle("Explicit mode (adults only, stricter screening)", key="studio_nsfw")
    use_refs = bool(muse_id) and st.checkbox(
        "Use the muse's reference images (IP-Adapter)", key="studio_refs"
    )

positive, negative_prompt, references = prompt, negative, ()
if muse_id and prompt.strip():
    try:
        with read_scope(engine) as session:
            composed = muses.prompt_for(session, owner_id=user_id, muse_id=muse_id, scene=prompt)
            if use_refs:
                references = tuple(
                    history.muse_reference_hashes(session, muse_id=muse_id, user_id=user_id)
                )
        positive = composed.positive
        negative_prompt = ", ".join(p for p in (composed.negative, negative) if p)
    except CoreError as exc:
        st.error(str(exc))

request = jobs.StudioRequest(
    prompt=positive,
    negative_prompt=negative_prompt,
    model=model,
    preset=preset,
    kind=kind,
    seed=None if random_seed else int(seed),
    batch_size=batch,
    muse_id=muse_id,
    nsfw=explicit,
    reference_images=references,
)

with side:
    st.subheader("Estimate")
    try:
        with read_scope(engine) as session:
            quote = jobs.estimate(
                session, request, presets=presets, pricing=pricing, pool=settings.pool_name
            )
    except CoreError as exc:
        st.error(str(exc))
    else:
        st.metric("Credits (held, unused part refunded)", quote.credits)
        st.write(
            f"About {format_duration(quote.wait_seconds)} "
            + ("(a GPU has to start first)" if quote.cold_start else "(a GPU is warm)")
        )
    if muse_id and positive:
        with st.expander("Composed prompt"):
            st.text(positive)
    if st.button("Generate", type="primary", key="studio_generate", disabled=not prompt.strip()):
        try:
            job = jobs.submit(
                engine,
                user_id=user_id,
                request=request,
                clock=clock,
                presets=presets,
                pricing=pricing,
                pool=settings.pool_name,
            )
        except PolicyRefusal as refusal:
            st.error(f"Refused: {refusal}")
        except CoreError as exc:
            st.error(str(exc))
        else:
            st.session_state["studio_active_job"] = job.id
            st.toast("Queued. You can leave this page; the job keeps running.")


def _show_outputs(job: GenerationJob) -> None:
    with read_scope(engine) as session:
        assets = history.job_assets(session, job_id=job.id or 0, user_id=user_id)
    cols = st.columns(min(len(assets), 4) or 1)
    for index, asset in enumerate(assets):
        data = store.read(settings.media_root, asset.sha256)
        with cols[index % len(cols)]:
            st.image(data, caption=asset.title, use_container_width=True)
            st.download_button(
                "Download",
                data,
                file_name=f"aikings-{asset.id}.{asset.mime.split('/')[-1]}",
                mime=asset.mime,
                key=f"dl_{asset.id}",
            )
    if assets:
        st.caption("Saved privately to your gallery.")


@st.fragment(run_every=2)
def active_job() -> None:
    """Progress of the job just submitted, polled from its row (survives refreshes)."""
    job_id = st.session_state.get("studio_active_job")
    if job_id is None:
        return
    job = jobs.job_for_user(engine, job_id=job_id, user_id=user_id)
    if job is None:
        return
    st.subheader(f"Job #{job.id}")
    if job.status is JobStatus.QUEUED:
        with read_scope(engine) as session:
            place = jobs.queue_position(session, job.id or 0)
        st.info(f"Waiting for a GPU (place {place} in the queue).")
        if st.button("Cancel", key="studio_cancel"):
            jobs.cancel(engine, job_id=job.id or 0, user_id=user_id, clock=clock)
            st.rerun()
    elif job.status in (JobStatus.LEASED, JobStatus.RUNNING):
        fraction = job.step / job.total_steps if job.total_steps else 0.0
        st.progress(fraction, text=f"Generating: step {job.step} of {job.total_steps or '?'}")
    elif job.status is JobStatus.SUCCEEDED:
        st.success(f"Done: {job.charged_credits} credits charged.")
        _show_outputs(job)
    else:
        st.error(job.error or "The job did not finish.")


active_job()

st.subheader("History")
filter_status, filter_kind = st.columns(2)
status_choice = filter_status.selectbox(
    "Status", ["all", *[s.value for s in JobStatus]], key="studio_history_status"
)
kind_choice = filter_kind.selectbox("Kind", ["all", "image", "video"], key="studio_history_kind")
with read_scope(engine) as session:
    recent = history.recent_jobs(
        session,
        user_id=user_id,
        limit=20,
        status=None if status_choice == "all" else JobStatus(status_choice),
        kind=None if kind_choice == "all" else MediaKind(kind_choice),
    )
if not recent:
    st.caption("Nothing generated yet.")
for past in recent:
    with st.expander(f"#{past.id} · {past.status} · {past.prompt[:70]}"):
        st.write(f"{past.kind} · {past.preset} · {past.model} · seed {past.seed}")
        if past.error:
            st.error(past.error)
        if past.status is JobStatus.SUCCEEDED:
            _show_outputs(past)
        if st.button("Re-run with the same seed", key=f"rerun_{past.id}"):
            again = jobs.StudioRequest(
                prompt=past.prompt,
                negative_prompt=past.negative_prompt,
                model=past.model,
                preset=past.preset,
                kind=past.kind,
                seed=past.seed,
                batch_size=past.batch_size,
                muse_id=past.muse_id,
                nsfw=bool(past.request.get("nsfw")),
                reference_images=tuple(past.request.get("reference_images", ())),
            )
            try:
                rerun = jobs.submit(
                    engine,
                    user_id=user_id,
                    request=again,
                    clock=clock,
                    presets=presets,
                    pricing=pricing,
                    pool=settings.pool_name,
                )
            except CoreError as exc:
                st.error(str(exc))
            else:
                st.session_state["studio_active_job"] = rerun.id
                st.rerun()
