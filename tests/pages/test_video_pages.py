"""Video on the pages: an MP4 result plays in the video player (Studio result, history and
gallery viewer), grids show its poster frame, and the Studio's video mode animates one of
the user's own pictures with a chosen length, frame rate and format."""

from __future__ import annotations

import io

from PIL import Image
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from core.comfy.presets import Presets
from core.comfy.tools import Tools
from core.config import get_settings
from core.db import read_scope, session_scope
from core.gallery import store
from core.models import Asset, GenerationJob, MediaKind, User
from sim.comfy import render
from testing.factories import add_finished_job, make_pool, png_bytes

PRESETS = Presets.load()


def _owner(engine) -> User:
    with read_scope(engine) as session:
        return session.exec(select(User)).one()


def _mp4_job(engine, owner: User) -> tuple[int, Asset]:
    """A finished video job whose output is an H.264 MP4, stored as the job path stores it."""
    data = render.mp4((64, 48), 5, {"prompt": {}}, 9, 16.0)
    with session_scope(engine) as session:
        job = add_finished_job(
            session,
            owner,
            "a river at dawn",
            kind=MediaKind.VIDEO,
            model=PRESETS.default_model("video"),
            seed=5,
            charged_credits=4,
        )
        asset = store.save_output(
            session,
            media=get_settings().media_root,
            owner_id=owner.id or 0,
            job_id=job.id,
            muse_id=None,
            data=data,
            kind=MediaKind.VIDEO,
            mime="video/mp4",
            title="a river at dawn #1",
            now=owner.created_at,
        )
        session.flush()
        return job.id or 0, asset


def _videos(app: AppTest) -> list[str]:
    """The file type of each video player on the page (from the media URL it is served at)."""
    return [element.proto.url.rpartition(".")[2] for element in app.get("video")]


def test_an_mp4_result_plays_in_the_studio_and_its_history(signed_in, web_engine, texts):
    app = signed_in("views/studio.py")
    job_id, asset = _mp4_job(web_engine, _owner(web_engine))
    assert (asset.kind, asset.mime) == (MediaKind.VIDEO, "video/mp4")
    app.run()
    assert not app.exception
    assert _videos(app) == ["mp4"]  # the history entry plays it
    app.session_state["studio_active_job"] = job_id
    app.run()
    assert not app.exception
    assert "Done: 4 credits charged." in texts(app)
    assert _videos(app) == ["mp4", "mp4"]  # the result, and its history entry


def test_the_gallery_grid_shows_the_poster_and_the_viewer_plays_the_mp4(signed_in, web_engine):
    app = signed_in("views/gallery.py")
    _job_id, asset = _mp4_job(web_engine, _owner(web_engine))
    poster = Image.open(io.BytesIO(store.read(get_settings().media_root, asset.thumb_sha256)))
    assert (poster.format, poster.size) == ("WEBP", (64, 48))
    app.run()
    assert not app.exception
    assert _videos(app) == []  # the grid shows the poster frame, not the player
    assert any("▶ video" in caption.value for caption in app.caption)
    [b for b in app.button if b.label == "Open"][0].click().run()
    assert not app.exception
    assert _videos(app) == ["mp4"]


def test_the_studio_animates_one_of_the_users_pictures(signed_in, web_engine):
    make_pool(web_engine)
    app = signed_in("views/studio.py", credits=5000)
    owner = _owner(web_engine)
    with session_scope(web_engine) as session:
        still = store.save_output(
            session,
            media=get_settings().media_root,
            owner_id=owner.id or 0,
            job_id=None,
            muse_id=None,
            data=png_bytes("teal", size=512),
            kind=MediaKind.IMAGE,
            mime="image/png",
            title="a still harbour",
            now=owner.created_at,
        )
    app.run()
    app.radio(key="studio_kind").set_value("video").run()
    app.radio(key="video_mode").set_value("Animate a picture").run()
    app.select_slider(key="video_length").set_value(49).run()
    app.select_slider(key="video_fps").set_value(24).run()
    app.text_area(key="studio_prompt").input("the harbour waves gently").run()
    app.button(key="studio_generate").click().run()
    assert not app.exception, app.exception
    assert not app.error, [e.value for e in app.error]
    with read_scope(web_engine) as session:
        job = session.exec(select(GenerationJob)).one()
    tools = Tools.from_json(job.request["tools"])
    assert (job.kind, job.model) == (MediaKind.VIDEO, PRESETS.i2v_model)
    assert (tools.mode, tools.source, tools.length, tools.fps, tools.video_format) == (
        "img2video",
        still.sha256,
        49,
        24.0,
        "mp4",
    )
