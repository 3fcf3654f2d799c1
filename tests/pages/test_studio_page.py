"""The Studio page, driven through its widgets: estimate, shortfall, muse and variation,
cold-start progress, the same job after a reload, results, sharing and history filters."""

import io

from PIL import Image
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from core.config import get_settings
from core.db import read_scope, session_scope
from core.gallery import store
from core.models import (
    Asset,
    AuditEntry,
    GenerationJob,
    InstanceState,
    JobStatus,
    MediaKind,
    PoolConfig,
    User,
    Visibility,
)
from core.muses import service
from core.muses.schema import validate_profile
from testing.factories import add_finished_job, make_instance, make_pool, make_variation, store_png
from tests.pages.conftest import ROOT
from ui import auth


def the_user(engine):
    with read_scope(engine) as session:
        return session.exec(select(User)).one()


def generated(signed_in, prompt):
    """The Studio page of a new user who just pressed Generate for `prompt`."""
    app = signed_in("views/studio.py").run()
    app.text_area(key="studio_prompt").input(prompt).run()
    app.button(key="studio_generate").click().run()
    return app


def test_submit_shows_the_seed_queue_place_and_cold_start_wait(signed_in, web_engine, texts):
    make_pool(web_engine)
    app = signed_in("views/studio.py").run()
    assert "one has to start first" in texts(app)
    app.text_area(key="studio_prompt").input("a lighthouse at dusk").run()
    app.checkbox(key="studio_random_seed").uncheck().run()
    app.number_input(key="studio_seed").set_value(4242).run()
    app.button(key="studio_generate").click().run()
    assert not app.exception
    page = texts(app)
    assert "seed 4242" in page and "place 1 in the queue" in page
    assert "Cold start" in page and "Expected wait about" in page


def test_the_estimate_says_a_warm_gpu_or_safe_mode_as_it_is(signed_in, web_engine, texts):
    make_pool(web_engine, safe_mode=True, safe_mode_reason="monthly budget reached")
    app = signed_in("views/studio.py").run()
    app.text_area(key="studio_prompt").input("a lighthouse at dusk").run()
    assert "No GPU will start" in texts(app) and "monthly budget reached" in texts(app)
    with session_scope(web_engine) as session:
        config = session.get(PoolConfig, "default")
        config.safe_mode = False
        session.add(config)
    make_instance(web_engine, state=InstanceState.READY, comfy_url="http://127.0.0.1:1")
    app.run()
    assert "a GPU is warm and free" in texts(app)


def test_a_reload_or_another_tab_follows_the_same_job(signed_in, web_engine, texts):
    first = generated(signed_in, "a harbour at noon")
    with read_scope(web_engine) as session:
        (job,) = session.exec(select(GenerationJob)).all()
    # Another tab (or a reload): a fresh session that only knows who is signed in.
    second = AppTest.from_file(str(ROOT / "views/studio.py"), default_timeout=30)
    second.session_state["age_confirmed"] = True
    second.session_state[auth.SESSION_KEY] = first.session_state[auth.SESSION_KEY]
    second.run()
    assert not second.exception
    assert f"Job #{job.id} · seed {job.seed}" in texts(second)


def test_a_running_job_shows_its_step_and_live_preview(signed_in, web_engine):
    app = generated(signed_in, "a harbour at noon")
    frame = io.BytesIO()
    Image.new("RGB", (8, 8), "purple").save(frame, format="JPEG")
    with session_scope(web_engine) as session:
        job = session.exec(select(GenerationJob)).one()
        job.status, job.step, job.total_steps = JobStatus.RUNNING, 9, 18
        job.preview, job.preview_mime = frame.getvalue(), "image/jpeg"
        session.add(job)
    app.run()
    assert not app.exception
    assert "step 9 of 18" in app.get("progress")[0].proto.text
    (image,) = app.get("image")
    assert "Live preview" in str(image.proto)


def test_short_credits_are_explained_and_generate_is_disabled(signed_in, web_engine, texts):
    app = signed_in("views/studio.py", credits=0).run()
    app.text_area(key="studio_prompt").input("a lighthouse").run()
    assert "Not enough credits" in texts(app)
    assert app.button(key="studio_generate").disabled
    assert "Generate is off: not enough credits" in texts(app)  # the reason, beside it
    with read_scope(web_engine) as session:
        assert session.exec(select(GenerationJob)).all() == []


def test_generate_is_clickable_before_the_prompt_is_committed_and_explains_an_empty_one(
    signed_in, web_engine, texts
):
    app = signed_in("views/studio.py").run()
    # A text box commits on blur: Generate must already be enabled, or the first click is lost.
    assert not app.button(key="studio_generate").disabled
    app.button(key="studio_generate").click().run()
    assert "Write a prompt first" in texts(app)
    with read_scope(web_engine) as session:
        assert session.exec(select(GenerationJob)).all() == []


def test_a_long_paste_is_kept_whole_and_refused_with_its_length(signed_in, web_engine, texts):
    app = signed_in("views/studio.py").run()
    assert app.text_area(key="studio_prompt").max_chars in (None, 0)  # no silent cut
    pasted = "a lighthouse at dusk, " * 200  # 4,400 characters
    app.text_area(key="studio_prompt").input(pasted).run()
    assert app.text_area(key="studio_prompt").value == pasted
    assert f"{len(pasted):,} characters long" in texts(app)
    app.button(key="studio_generate").click().run()
    assert "nothing was cut" in texts(app)
    with read_scope(web_engine) as session:
        assert session.exec(select(GenerationJob)).all() == []


def test_generate_sits_under_the_prompt_before_the_other_controls(signed_in):
    app = signed_in("views/studio.py").run()
    # On a phone the columns stack: what comes first in the tree comes first on the screen.
    keys = [getattr(node, "key", None) for node in _walk(app.main)]
    assert keys.index("studio_prompt") < keys.index("studio_generate")
    assert keys.index("studio_generate") < keys.index("studio_negative")


def _walk(node):
    yield node
    for child in getattr(node, "children", {}).values():
        yield from _walk(child)


def test_a_muse_and_variation_compose_the_prompt_that_is_submitted(signed_in, web_engine):
    app = signed_in("views/studio.py")
    owner = the_user(web_engine)
    profile = validate_profile(
        {"basic": {"name": "Ava", "age": 30}, "hair": {"color": "auburn", "length": "long"}}
    )
    with session_scope(web_engine) as session:
        muse = service.create_muse(
            session, owner_id=owner.id, profile=profile, tags=(), now=owner.created_at
        )
    look = make_variation(web_engine, owner, muse, "Jazz", {"scenario": "at a jazz club"})
    app.run()
    app.selectbox(key="studio_muse").select(f"Ava (#{muse.id})").run()
    app.selectbox(key="studio_variation").select("Jazz").run()
    app.text_area(key="studio_prompt").input("evening light").run()
    app.button(key="studio_generate").click().run()
    assert not app.exception
    with read_scope(web_engine) as session:
        (job,) = session.exec(select(GenerationJob)).all()
    assert (job.muse_id, job.variation_id) == (muse.id, look.id)
    assert job.prompt.startswith("portrait of Ava, a 30-year-old adult woman, evening light")
    assert "at a jazz club" in job.prompt and "long auburn hair" in job.prompt


def test_results_can_be_viewed_downloaded_and_shared(signed_in, web_engine, texts):
    app = signed_in("views/studio.py")
    owner = the_user(web_engine)
    with session_scope(web_engine) as session:
        job = add_finished_job(session, owner, "a teal square", seed=9, charged_credits=3)
        store_png(
            session,
            media=get_settings().media_root,
            owner_id=owner.id,
            job_id=job.id,
            title="a teal square #1",
            now=owner.created_at,
            metadata={"parameters": "a teal square"},
        )
    app.session_state["studio_active_job"] = job.id
    app.run()
    assert not app.exception
    assert "Done: 3 credits charged." in texts(app)
    assert any(b.label == "Share publicly" for b in app.button)
    [b for b in app.button if b.label == "Share publicly"][0].click().run()
    with read_scope(web_engine) as session:
        assert session.exec(select(Asset)).one().visibility is Visibility.PUBLIC


def test_history_filters_by_status_and_kind(signed_in, web_engine):
    app = signed_in("views/studio.py")
    owner = the_user(web_engine)
    with session_scope(web_engine) as session:
        for status, kind, prompt in (
            (JobStatus.FAILED, MediaKind.IMAGE, "a failed lighthouse"),
            (JobStatus.CANCELLED, MediaKind.VIDEO, "a cancelled river"),
        ):
            session.add(
                GenerationJob(
                    user_id=owner.id,
                    prompt=prompt,
                    model="m",
                    preset="low",
                    seed=1,
                    status=status,
                    kind=kind,
                )
            )
    app.run()
    labels = [e.label for e in app.expander]
    assert any("a failed lighthouse" in label for label in labels)
    assert any("a cancelled river" in label for label in labels)
    app.selectbox(key="studio_history_status").select("failed").run()
    labels = [e.label for e in app.expander]
    assert any("lighthouse" in label for label in labels)
    assert not any("river" in label for label in labels)
    app.selectbox(key="studio_history_status").select("all").run()
    app.selectbox(key="studio_history_kind").select("video").run()
    labels = [e.label for e in app.expander]
    assert any("river" in label for label in labels)
    assert not any("lighthouse" in label for label in labels)


def test_injection_strings_are_stored_and_shown_literally(signed_in, web_engine):
    payload = "<script>alert(1)</script> '; DROP TABLE generationjob; --"
    app = signed_in("views/studio.py").run()
    app.text_area(key="studio_prompt").input(f"a poster reading {payload}").run()
    app.button(key="studio_generate").click().run()
    assert not app.exception
    with read_scope(web_engine) as session:
        (job,) = session.exec(select(GenerationJob)).all()
    assert job.prompt == f"a poster reading {payload}"
    assert not any(getattr(m.proto, "allow_html", False) for m in app.markdown)


def test_a_refusal_on_the_page_is_audited_and_holds_nothing(signed_in, web_engine, texts):
    app = signed_in("views/studio.py").run()
    app.text_area(key="studio_prompt").input("a t-e-e-n in a bikini").run()
    app.button(key="studio_generate").click().run()
    assert "Refused" in texts(app) and "under 18" in texts(app)
    assert "500 credits" in texts(app)
    with read_scope(web_engine) as session:
        assert session.exec(select(GenerationJob)).all() == []
        assert session.exec(select(AuditEntry)).all()[-1].action == "policy.refused"


def test_the_form_sends_one_key_per_intent_and_a_new_one_after_it_is_queued(signed_in, web_engine):
    app = generated(signed_in, "a harbour at noon")
    app.button(key="studio_generate").click().run()
    # The same intent sent again (a click that raced the first one's reply) is the same job.
    app.session_state["intent_key_studio_generate"] = "resent"
    app.button(key="studio_generate").click().run()
    app.session_state["intent_key_studio_generate"] = "resent"
    app.button(key="studio_generate").click().run()
    assert not app.exception
    with read_scope(web_engine) as session:
        keys = [job.idempotency_key for job in session.exec(select(GenerationJob)).all()]
    assert len(keys) == 3 and len(set(keys)) == 3 and "resent" in keys and None not in keys


def test_a_finished_result_is_still_there_after_a_reload(signed_in, web_engine, texts):
    first = generated(signed_in, "a harbour at noon")
    with session_scope(web_engine) as session:
        job = session.exec(select(GenerationJob)).one()
        job.status, job.charged_credits = JobStatus.SUCCEEDED, 1
        job.finished_at = job.updated_at
        session.add(job)
    reload = AppTest.from_file(str(ROOT / "views/studio.py"), default_timeout=30)
    reload.session_state["age_confirmed"] = True
    reload.session_state[auth.SESSION_KEY] = first.session_state[auth.SESSION_KEY]
    reload.run()
    assert not reload.exception
    assert f"Job #{job.id}" in texts(reload) and "Done: 1 credit charged." in texts(reload)


def test_a_requeued_job_shows_why_it_is_waiting_again(signed_in, web_engine, texts):
    app = generated(signed_in, "a harbour at noon")
    with session_scope(web_engine) as session:
        job = session.exec(select(GenerationJob)).one()
        job.requeue_note = "Back in the queue at step 5 of 28: GPU instance stopped: lost."
        session.add(job)
    app.run()
    assert "Back in the queue at step 5 of 28" in texts(app)
    assert "Waiting for a GPU" in texts(app)


def test_the_credits_held_shown_are_the_credits_held(signed_in, web_engine):
    app = signed_in("views/studio.py").run()
    app.radio(key="studio_kind").set_value("video").run()
    app.selectbox(key="studio_preset").set_value("high").run()
    app.slider(key="studio_batch").set_value(2).run()
    app.text_area(key="studio_prompt").input("waves on a harbour wall").run()
    shown = int(app.metric[0].value)
    assert "of GPU time (2 × high)" in " ".join(c.value for c in app.caption)
    app.button(key="studio_generate").click().run()
    with read_scope(web_engine) as session:
        job = session.exec(select(GenerationJob)).one()
    assert job.estimated_credits == shown
    assert 500 - the_user_balance(web_engine) == shown


def the_user_balance(engine):
    from core.accounts import ledger

    with read_scope(engine) as session:
        return ledger.balance(session, the_user(engine).id)


def test_history_shows_thumbnails_and_prepares_a_download_only_when_asked(signed_in, web_engine):
    app = signed_in("views/studio.py")
    owner = the_user(web_engine)
    media_root = get_settings().media_root
    with session_scope(web_engine) as session:
        job = add_finished_job(session, owner, "an old teal square", seed=4)
        asset = store_png(
            session,
            media=media_root,
            owner_id=owner.id,
            job_id=job.id,
            title="an old teal square #1",
            now=owner.created_at,
        )
        full = store.path_of(media_root, asset.sha256)
    kept = full.read_bytes()
    full.unlink()  # a page that read the full picture would fail now
    app.run()
    assert not app.exception
    assert [i.proto.imgs[0].caption for i in _walk(app._tree) if i.type == "image"] == [
        "an old teal square #1"
    ]
    assert not app.get("download_button")
    full.write_bytes(kept)
    [b for b in app.button if b.label == "Download…"][0].click().run()
    assert not app.exception
    assert [d.proto.label for d in app.get("download_button")] == ["Download"]


def _walk(node):
    yield node
    for child in getattr(node, "children", {}).values():
        yield from _walk(child)


def test_the_queue_view_lists_open_jobs_and_stops_or_cancels_each(signed_in, web_engine, texts):
    app = signed_in("views/studio.py").run()
    for prompt in ("a harbour at noon", "a lighthouse at dusk"):
        app.text_area(key="studio_prompt").input(prompt).run()
        app.button(key="studio_generate").click().run()
    with session_scope(web_engine) as session:
        first, second = session.exec(select(GenerationJob).order_by(GenerationJob.id)).all()
        first.status, first.step, first.total_steps = JobStatus.RUNNING, 3, 20
        session.add(first)
    app.run()
    assert not app.exception
    page = texts(app)
    assert "Your queue (2 jobs)" in [expander.label for expander in app.expander]
    assert f"#{first.id}" in page and "generating, step 3 of 20" in page
    assert f"#{second.id}" in page and "place 1 in the queue" in page

    app.button(key=f"queue_cancel_{second.id}").click().run()
    assert "Your queue (1 job)" in [expander.label for expander in app.expander]
    with read_scope(web_engine) as session:
        ended = session.get(GenerationJob, second.id)
        running = session.get(GenerationJob, first.id)
    assert ended.status is JobStatus.CANCELLED and "refunded" in ended.error
    assert running.status is JobStatus.RUNNING and running.cancel_requested_at is None
    app.button(key=f"queue_cancel_{first.id}").click().run()  # Stop: it is running
    with read_scope(web_engine) as session:
        running = session.get(GenerationJob, first.id)
    assert running.cancel_requested_at is not None
    app.run()
    assert "Stopping…" in texts(app)
