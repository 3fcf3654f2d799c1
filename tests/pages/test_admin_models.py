"""The Models page: the catalogue listed, and a model looked up on Civitai or Hugging Face
(the metadata stand-in over HTTP) with the presets lines that pin its file."""

from __future__ import annotations

import pytest

from core.models import Role
from sim.hub import HubFile, HubState, HubVersion, create_app
from sim.server import ServerThread

LORA = HubVersion(
    701, 70, "Film Grain", "LORA", "SDXL 1.0", "film_grain_xl.safetensors", 228_456_000,
    trained_words=("film grain",),
)  # fmt: skip


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch):
    state = HubState(
        versions={LORA.version_id: LORA},
        repos={"acme/up": (["pytorch"], [HubFile("4x_acme.pth", 67_000_000, "ab" * 32)])},
    )
    with ServerThread(create_app(state)) as server:
        monkeypatch.setenv("CIVITAI_API_URL", server.url)
        monkeypatch.setenv("HUGGINGFACE_API_URL", server.url)
        yield


def look_up(app, source: str, reference: str):
    app.radio(key="models_source").set_value(source)
    app.text_input(key="models_reference").input(reference)
    app.button[0].click().run()
    assert not app.exception
    return app


def test_the_catalogue_is_listed_by_kind(signed_in, web_engine):
    app = signed_in("views/admin_models.py", role=Role.ADMIN).run()
    assert not app.exception
    files = [str(frame.value) for frame in app.dataframe]
    assert "sd_xl_offset_example-lora_1.0.safetensors" in files[1]
    assert "RealESRGAN_x4plus.pth" in files[2]


def test_a_civitai_version_shows_its_metadata_and_the_lines_to_add(
    signed_in, web_engine, hub, texts
):
    app = look_up(signed_in("views/admin_models.py", role=Role.ADMIN).run(), "Civitai", "701")
    assert "Trigger words: film grain" in texts(app)
    (code,) = app.code
    assert '[downloads."loras/film_grain_xl.safetensors"]' in code.value
    assert f'sha256 = "{LORA.sha256}"' in code.value and 'family = "sdxl"' in code.value


def test_a_hugging_face_link_and_bad_references(signed_in, web_engine, hub, texts):
    app = signed_in("views/admin_models.py", role=Role.ADMIN).run()
    look_up(app, "Hugging Face", "https://huggingface.co/acme/up/resolve/main/4x_acme.pth")
    assert '[catalogue.upscalers."4x_acme.pth"]' in app.code[0].value
    look_up(app, "Civitai", "999")
    assert "Not found" in texts(app)
    look_up(app, "Civitai", "abc")
    assert "is a number" in texts(app)
