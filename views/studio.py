"""Studio: compose a prompt (optionally from a muse), see the cost, generate, follow progress."""

from __future__ import annotations

import streamlit as st
from sqlmodel import Session

from core.accounts import ledger
from core.comfy.tokens import CLIP_WINDOW, estimate_clip_tokens, prompt_chunks
from core.gallery import library
from core.models import Asset, GenerationJob, JobStatus, MediaKind, Visibility
from core.muses import prompt as muse_prompt
from core.muses import service as muses
from core.pool.outlook import Outlook
from core.studio import history, progress, remix
from core.studio.compose import (
    DEFAULT_REFERENCE_WEIGHT,
    MAX_BATCH,
    StudioRequest,
    compose,
    request_of,
)
from core.studio.history import job_for_user
from core.studio.labels import model_name, preset_summary
from core.studio.pricing import Estimate, estimate, hold_for, pricing_from
from core.studio.submit import submit
from ui import db, intent, job_queue, media, resources, studio_prefill
from ui.auth import require_user
from ui.muse_pin import pin_to_muse
from ui.references import upload_reference
from ui.studio_form import generate_blocker, show_sent, status_changed, too_long_note
from ui.variations import ACTIVE_JOB, more_like_this, variation_grid
from ui.widgets import format_duration
from views.studio_tools import tool_controls, video_controls

user = require_user()
user_id = user.id or 0
settings = resources.settings()
presets = resources.presets()
pricing = pricing_from(settings)
engine = resources.engine()
clock = resources.clock()

st.title("Studio")
studio_prefill.apply()  # a muse's settings or a remix, asked for by another page
studio_prefill.show_note()

with db.reading() as session:
    balance = ledger.balance(session, user_id)
    my_muses = muses.list_muses(session, owner_id=user_id, limit=200)
st.caption(f"Balance: **{balance} credits**")

form, side = st.columns([3, 2])
with form:
    kind = MediaKind(st.radio("Create", ["image", "video"], horizontal=True, key="studio_kind"))
    muse_names = {"": None} | {f"{m.name} (#{m.id})": m for m in my_muses}

    def take_muse_settings() -> None:
        """The chosen muse's AI settings fill the form (the user may still change them)."""
        chosen = muse_names.get(st.session_state.get("studio_muse", ""))
        if chosen is not None:
            current = st.session_state.get("studio_model") or presets.default_model("image")
            defaults = muse_prompt.studio_defaults(muses.profile_of(chosen), presets, model=current)
            studio_prefill.request(studio_prefill.from_muse(defaults))
            studio_prefill.apply()
            st.session_state["studio_left_out"] = defaults.left_out

    muse = muse_names[
        st.selectbox(
            "Muse (optional)", list(muse_names), key="studio_muse", on_change=take_muse_settings
        )
    ]
    muse_id = muse.id if muse else None
    for reason in st.session_state.get("studio_left_out", ()) if muse else ():
        st.caption(f"Not applied from the muse: {reason}.")
    variation_id = None
    if muse is not None:
        with db.reading() as session:
            looks = muses.variations(session, owner_id=user_id, muse_id=muse.id or 0)
        variation_names = {"": None} | {v.name: v.id for v in looks}
        variation_id = variation_names[
            st.selectbox("Variation (optional)", list(variation_names), key="studio_variation")
        ]
    # No max_chars: the browser would cut a long paste silently; the page says so instead.
    prompt = st.text_area(
        "Scene" if muse_id else "Prompt",
        key="studio_prompt",
        placeholder="A portrait in soft window light, film grain",
    )
    too_long_note(prompt, "prompt")
    st.caption(f"≈ {estimate_clip_tokens(prompt)} of {CLIP_WINDOW} CLIP tokens (77 with start/end)")
    if len(typed_chunks := prompt_chunks(prompt)) > 1:
        st.info(
            "This prompt is past CLIP's 75-token window (77 with its start and end tokens): "
            f"it is sent in {len(typed_chunks)} chunks of up to {CLIP_WINDOW} tokens, each "
            "read in full (cut at commas, see what is sent)."
        )
    generate_slot = st.container()  # Generate sits under the prompt, not under every control
    negative = st.text_area(
        "Negative prompt", key="studio_negative", value=presets.default_negative
    )
    too_long_note(negative, "negative prompt")
    left, right = st.columns(2)
    preset = left.selectbox(
        "Quality",
        presets.names(kind.value),
        index=1,
        key="studio_preset",
        format_func=lambda name: preset_summary(presets.preset(name, kind.value)),
    )
    model = right.selectbox(
        "Model", presets.models(kind.value), key="studio_model", format_func=model_name
    )
    random_seed = left.checkbox("Random seed", value=True, key="studio_random_seed")
    seed = right.number_input("Seed", 0, 2**48, 42, disabled=random_seed, key="studio_seed")
    batch = left.slider("Batch", 1, MAX_BATCH, 1, key="studio_batch")
    explicit = right.toggle("Explicit mode (adults only, stricter screening)", key="studio_nsfw")
    use_refs = bool(muse_id) and st.checkbox(
        "Use the muse's reference images (IP-Adapter)", key="studio_refs"
    )
    with st.expander("Reference image (optional, IP-Adapter)"):
        added = upload_reference(
            user_id=user_id, muse_id=None, target="studio.reference", key="studio_ref"
        )
        if added is not None:
            st.session_state["studio_uploaded_refs"] = [
                *st.session_state.get("studio_uploaded_refs", []),
                added.sha256,
            ]
        uploaded_refs = tuple(st.session_state.get("studio_uploaded_refs", []))
        if uploaded_refs:
            st.caption(f"{len(uploaded_refs)} reference image(s) will guide this picture.")
        ref_left, ref_right = st.columns(2)
        reference_preset = ref_left.selectbox(
            "How the references guide (IP-Adapter preset)",
            presets.reference_preset_names(),
            index=presets.reference_preset_names().index(presets.default_reference_preset),
            key="studio_ref_preset",
            format_func=lambda name: presets.reference_preset(name).label,
        )
        reference_weight = ref_right.slider(
            "Reference strength (IP-Adapter weight)",
            0.0,
            1.5,
            DEFAULT_REFERENCE_WEIGHT,
            0.05,
            key="studio_ref_weight",
        )
    tools, mask = (
        tool_controls(presets=presets, user_id=user_id, model=model, preset=preset)
        if kind is MediaKind.IMAGE
        else (video_controls(presets=presets, user_id=user_id, preset=preset), None)
    )

form_request = StudioRequest(
    prompt=prompt,
    negative_prompt=negative,
    model="" if tools.mode == "img2video" else model,  # animating a still has its own model
    preset=preset,
    kind=kind,
    seed=None if random_seed else int(seed),
    batch_size=batch,
    muse_id=muse_id,
    variation_id=variation_id,
    nsfw=explicit,
    reference_images=uploaded_refs,
    reference_weight=float(reference_weight),
    reference_preset=reference_preset,
    tools=tools,
    mask_png=mask,
)
composed = db.attempt_read(
    lambda session: compose(
        session,
        form_request,
        user_id=user_id,
        use_muse_references=use_refs,
        muse_reference_settings=False,  # the controls above start from the muse's
    )
)
request = composed.value if composed else form_request


def _quote(session: Session) -> tuple[Estimate, Outlook]:
    """The request's estimate and how long it would wait for a GPU."""
    quote = estimate(session, request, presets=presets, pricing=pricing, pool=settings.pool_name)
    ahead = progress.request_outlook(
        session, pool=settings.pool_name, gpu_s=quote.gpu_seconds, pricing=pricing, now=clock.now()
    )
    return quote, ahead


with side:
    st.subheader("Estimate")
    short = False
    quoted = db.attempt_read(_quote)
    if quoted:
        quote, ahead = quoted.value
        held = hold_for(quote)
        st.metric("Credits held (the unused part is refunded)", held)
        st.caption(
            f"About {quote.credits} credit{'' if quote.credits == 1 else 's'} for "
            f"{format_duration(quote.gpu_seconds)} of GPU time ({request.batch_size} × "
            f"{request.preset}); {held} held now to cover a slower run."
        )
        wait_s = ahead.wait_s(quote.gpu_seconds)
        if wait_s is None:
            st.warning(f"No GPU will start: {ahead.reason}. A job would wait in the queue.")
        else:
            st.write(f"About {format_duration(wait_s)} ({ahead.reason})")
        short = held > balance
        if short:
            st.error(
                f"Not enough credits: this needs {held} and you have {balance}. "
                "Choose a lower quality or batch, or buy credits on the Account page."
            )
    show_sent(request.prompt, request.negative_prompt, composed=bool(muse_id))


def _submitted(form: str, to_submit: StudioRequest) -> GenerationJob | None:
    """Submit `to_submit` as `form`'s intent (`ui.intent`) and follow the new job: the job,
    or None when it was refused (the refusal shown)."""
    job = intent.submit_jobs(
        form,
        user_id=user_id,
        queue=lambda options: submit(engine, request=to_submit, **options),
    )
    if job is not None:
        st.session_state[ACTIVE_JOB] = job.id
    return job


with generate_slot:
    clicked = st.button(
        "Generate",
        type="primary",
        key="studio_generate",
        disabled=short,
        help="Not enough credits for this request: see the estimate." if short else None,
    )
    # A standalone upscale enlarges a picture as it is: it needs no prompt.
    blocker = generate_blocker(prompt, needs_prompt=request.tools.mode != "upscale")
    if clicked and blocker:
        st.warning(blocker)
    elif clicked:
        if _submitted("studio_generate", request):
            st.toast("Queued. You can leave this page; the job keeps running.")
    elif short:
        st.caption("Generate is off: not enough credits (see the estimate).")


def _show_outputs(
    job: GenerationJob, where: str, assets: list[Asset], held: int, *, full: bool
) -> None:
    """The job's pictures: full size with a download button for the job just finished,
    thumbnails in the history (a download there is prepared only when asked for)."""
    cols = st.columns(min(len(assets), 4) or 1)
    for index, asset in enumerate(assets):
        with cols[index % len(cols)]:
            if full:
                media.show(asset, caption=asset.title)
                media.download_button(asset, key=f"dl_{where}_{asset.id}")
            else:
                media.show_preview(asset)
                if st.button("Download…", key=f"prep_{where}_{asset.id}"):
                    media.download_button(asset, key=f"dl_{where}_{asset.id}")
            pin_to_muse(asset, user_id=user_id, key=f"spin_{where}_{asset.id}", muses=my_muses)
            public = asset.visibility is Visibility.PUBLIC
            if not public and st.button("Share publicly", key=f"pub_{where}_{asset.id}"):
                with db.writing() as (session, now):
                    library.set_visibility(
                        session,
                        owner_id=user_id,
                        asset_id=asset.id or 0,
                        visibility=Visibility.PUBLIC,
                        now=now,
                    )
                st.toast("Shared: it appears in the public gallery once a moderator approves it.")
    if assets:
        st.caption("Saved privately to your gallery.")
    if held:
        st.info(f"{held} picture(s) are held for a moderator's review before you can see them.")


UNFINISHED = (JobStatus.QUEUED, JobStatus.LEASED, JobStatus.RUNNING)
LIVE_POLL_S = 0.5
"""How often the page rereads a job that has not ended; an ended one is not polled at all."""


def _followed_job() -> GenerationJob | None:
    """The job just submitted, or the newest unfinished one: read from its row, so a reload
    or another tab shows the same job."""
    job_id = st.session_state.get(ACTIVE_JOB)
    job = job_for_user(engine, job_id=job_id, user_id=user_id) if job_id else None
    if job is None:
        with db.reading() as session:
            job = history.current_job(session, user_id=user_id, now=clock.now())
    return job


def _anything_open(job: GenerationJob | None) -> bool:
    """Whether the followed job, or any other job of the user (the queue view), is unfinished."""
    if job is not None and job.status in UNFINISHED:
        return True
    with db.reading() as session:
        if job is not None and job.status is JobStatus.SUCCEEDED:
            if history.being_checked(session, job_id=job.id or 0, user_id=user_id):
                return True  # its pictures are shown once checked: follow it till then
        return history.unfinished_job(session, user_id=user_id) is not None


@st.fragment(run_every=LIVE_POLL_S)
def live_job() -> None:
    """The followed job (and the queue view) while a job is open, reread every LIVE_POLL_S;
    once none is, the whole page once (the balance and the history changed), which then
    stops polling."""
    job = _job_panel()
    if not _anything_open(job):
        st.rerun()


@st.fragment
def settled_job() -> None:
    """The followed job once it has ended: drawn once, never polled."""
    _job_panel()


def _job_panel() -> GenerationJob | None:
    """Draw the followed job's state; the job drawn (None: nothing to follow)."""
    job = _followed_job()
    if job is None:
        return None
    if status_changed(st.session_state, job):
        st.rerun()  # the whole page: the history, and the balance once it ends, follow the job
    with db.reading() as session:
        state = progress.job_progress(
            session, job, pool=settings.pool_name, pricing=pricing, now=clock.now()
        )
    st.subheader(f"Job #{job.id} · seed {job.seed}")
    if job.status is JobStatus.QUEUED:
        if job.requeue_note:
            st.warning(job.requeue_note)
        st.info(f"Waiting for a GPU (place {state.queue_position} in the queue).")
        meets = state.outlook
        if meets is not None and meets.start_in_s is None:
            st.warning(f"No GPU will start: {meets.reason}.")
        elif meets is not None and meets.start_in_s is not None:
            wait = f"Expected wait about {format_duration(meets.start_in_s)}"
            if state.cold_start:
                st.warning(f"Cold start: {meets.reason}. {wait}.")
            else:
                st.caption(f"{meets.reason.capitalize()}. {wait}.")
        job_queue.cancel_button(job, key="studio_cancel")
    elif job.status in (JobStatus.LEASED, JobStatus.RUNNING):
        st.progress(state.fraction, text=f"Generating: step {job.step} of {job.total_steps or '?'}")
        if job.preview:
            st.image(job.preview, caption="Live preview", width=256)
        job_queue.cancel_button(job, key="studio_stop")
    elif job.status is JobStatus.SUCCEEDED:
        charged = job.charged_credits
        st.success(f"Done: {charged} credit{'' if charged == 1 else 's'} charged.")
        with db.reading() as session:
            assets, held = history.outputs_of_jobs(session, job_ids=[job.id or 0], user_id=user_id)
            checking = history.being_checked(session, job_id=job.id or 0, user_id=user_id)
        if checking:
            st.info("Checking your picture before it is shown…")
        _show_outputs(
            job, "active", assets.get(job.id or 0, []), held.get(job.id or 0, 0), full=True
        )
        more_like_this(job, user_id=user_id, key=f"more_active_{job.id}")
    elif job.status is JobStatus.CANCELLED:
        st.info(job.error or "Cancelled.")
    else:
        st.error(job.error or "The job did not finish.")
    variation_grid(job, user_id=user_id)
    job_queue.render_queue(user_id, shown=job.id)
    return job


if _anything_open(_followed_job()):
    live_job()
else:
    settled_job()

st.subheader("History")
filter_status, filter_kind = st.columns(2)
status_choice = filter_status.selectbox(
    "Status", ["all", *[s.value for s in JobStatus]], key="studio_history_status"
)
kind_choice = filter_kind.selectbox("Kind", ["all", "image", "video"], key="studio_history_kind")
with db.reading() as session:
    recent = history.recent_jobs(
        session,
        user_id=user_id,
        limit=20,
        status=None if status_choice == "all" else JobStatus(status_choice),
        kind=None if kind_choice == "all" else MediaKind(kind_choice),
    )
    outputs, held_back = history.outputs_of_jobs(
        session,
        job_ids=[j.id or 0 for j in recent if j.status is JobStatus.SUCCEEDED],
        user_id=user_id,
    )


if not recent:
    st.caption("Nothing generated yet.")
for past in recent:
    with st.expander(f"#{past.id} · {past.status} · {past.prompt[:70]}"):
        st.write(f"{past.kind} · {past.preset} · {model_name(past.model)} · seed {past.seed}")
        if past.error:
            st.error(past.error)
        if past.status is JobStatus.SUCCEEDED:
            past_id = past.id or 0
            _show_outputs(
                past, "history", outputs.get(past_id, []), held_back.get(past_id, 0), full=False
            )
        rerun_col, remix_col = st.columns(2)
        if remix_col.button(
            "Remix", key=f"remix_{past.id}", help="Load every setting into the form to change."
        ):
            studio_prefill.load_remix(
                remix.of_job(past),
                user_id=user_id,
                presets=presets,
                origin=f"job #{past.id}",
                on_studio=True,
            )
        if rerun_col.button("Re-run with the same seed", key=f"rerun_{past.id}"):
            if _submitted(f"rerun_{past.id}", request_of(past)):  # the same seed too
                st.rerun()
