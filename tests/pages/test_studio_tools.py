"""The Studio's creative controls, driven through their widgets: what each puts in the job
that is submitted, what the estimate says of it, and what is refused on the page."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image
from sqlmodel import select

from core.comfy.tools import Tools
from core.config import get_settings
from core.db import read_scope, session_scope
from core.gallery import store
from core.models import GenerationJob, MediaKind, User

LORA_LABEL = "SDXL offset noise (deeper contrast)"


def submitted(engine) -> GenerationJob:
    with read_scope(engine) as session:
        (job,) = session.exec(select(GenerationJob)).all()
    return job


def tools_of(engine) -> Tools:
    return Tools.from_json(submitted(engine).request["tools"])


def generate(app, prompt: str = "a lighthouse at dusk") -> None:
    app.text_area(key="studio_prompt").input(prompt).run()
    app.button(key="studio_generate").click().run()
    assert not app.exception


SOURCE_SIZE = (512, 640)


def png(size: tuple[int, int], mode: str = "RGB", colour: Any = "teal") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, colour).save(out, format="PNG")
    return out.getvalue()


def own_picture(engine) -> Any:
    """A 512x640 picture the signed-in user generated."""
    with session_scope(engine) as session:
        user = session.exec(select(User)).one()
        return store.save_output(
            session,
            media=get_settings().media_root,
            owner_id=user.id,
            job_id=None,
            muse_id=None,
            data=png(SOURCE_SIZE),
            kind=MediaKind.IMAGE,
            mime="image/png",
            title="a teal square",
            now=user.created_at,
        )


def wait(app) -> str:
    """The estimate's GPU-time line ("About 1 credit for 6 s of GPU time ...")."""
    return next(str(m.value) for m in app.caption if "of GPU time" in str(m.value))


def test_loras_with_weights_go_into_the_job(signed_in, web_engine):
    app = signed_in("views/studio.py").run()
    app.multiselect(key="tools_loras").select(LORA_LABEL).run()
    app.slider(key="tools_lora_weight_sd_xl_offset_example-lora_1.0.safetensors").set_value(
        -1.25
    ).run()
    generate(app)
    (lora,) = tools_of(web_engine).loras
    assert (lora.name, lora.weight) == ("sd_xl_offset_example-lora_1.0.safetensors", -1.25)


def test_a_native_size_bucket_replaces_the_presets_and_costs_by_its_pixels(signed_in, web_engine):
    app = signed_in("views/studio.py").run()
    app.selectbox(key="studio_preset").set_value("low").run()
    square = wait(app)
    sizes = app.selectbox(key="tools_size")
    assert "768x1344 (portrait)" in sizes.options and "1344x768 (landscape)" in sizes.options
    app.selectbox(key="tools_size").set_value(CUSTOM := "Custom size").run()
    app.number_input(key="tools_width").set_value(2048).run()
    app.number_input(key="tools_height").set_value(2048).run()
    assert wait(app) != square
    app.selectbox(key="tools_size").set_value("768x1344 (portrait)").run()
    generate(app)
    tools = tools_of(web_engine)
    assert (tools.width, tools.height) == (768, 1344)
    assert CUSTOM in sizes.options


def test_advanced_controls_offer_the_real_lists_and_override_the_preset(signed_in, web_engine):
    app = signed_in("views/studio.py").run()
    app.checkbox(key="tools_advanced").check().run()
    assert "uni_pc_bh2" in app.selectbox(key="tools_sampler").options
    app.slider(key="tools_steps").set_value(33).run()
    app.selectbox(key="tools_sampler").set_value("euler").run()
    app.selectbox(key="tools_scheduler").set_value("beta").run()
    generate(app)
    tools = tools_of(web_engine)
    assert (tools.steps, tools.sampler_name, tools.scheduler) == (33, "euler", "beta")


def test_hires_fix_is_priced_and_submitted(signed_in, web_engine):
    app = signed_in("views/studio.py").run()
    plain = wait(app)
    app.checkbox(key="tools_hires").check().run()
    app.slider(key="tools_hires_scale").set_value(2.0).run()
    app.selectbox(key="tools_hires_upscaler").set_value("RealESRGAN x4+").run()
    assert wait(app) != plain
    generate(app)
    hires = tools_of(web_engine).hires
    assert hires is not None and (hires.scale, hires.upscaler) == (2.0, "RealESRGAN_x4plus.pth")


def test_face_fix_is_priced_and_submitted_at_its_strength(signed_in, web_engine):
    app = signed_in("views/studio.py").run()
    plain = wait(app)
    assert not app.checkbox(key="tools_face_fix").value
    app.checkbox(key="tools_face_fix").check().run()
    app.slider(key="tools_face_fix_denoise").set_value(0.3).run()
    app.slider(key="tools_face_fix_confidence").set_value(0.6).run()
    assert wait(app) != plain
    generate(app)
    face_fix = tools_of(web_engine).face_fix
    assert face_fix is not None and (face_fix.denoise, face_fix.confidence) == (0.3, 0.6)


def test_a_face_fix_alone_of_an_own_picture(signed_in, web_engine):
    app = signed_in("views/studio.py")
    picture = own_picture(web_engine)
    app.run()
    app.radio(key="tools_mode").set_value("Face fix").run()
    # The tool is the face fix: no box to tick.
    assert "tools_face_fix" not in [box.key for box in app.checkbox]
    app.slider(key="tools_face_fix_denoise").set_value(0.55).run()
    generate(app, "a portrait in a garden")
    tools = tools_of(web_engine)
    assert (tools.mode, tools.source) == ("facefix", picture.sha256)
    assert tools.face_fix is not None and tools.face_fix.denoise == 0.55
    assert tools.hires is None


def test_without_the_face_fix_box_the_job_has_none(signed_in, web_engine):
    app = signed_in("views/studio.py").run()
    generate(app)
    assert tools_of(web_engine).face_fix is None


def test_img2img_from_an_own_picture_at_a_strength(signed_in, web_engine):
    app = signed_in("views/studio.py")
    picture = own_picture(web_engine)
    app.run()
    app.radio(key="tools_mode").set_value("Image to image").run()
    app.slider(key="tools_denoise").set_value(0.45).run()
    generate(app)
    tools = tools_of(web_engine)
    assert (tools.mode, tools.source, tools.denoise) == ("img2img", picture.sha256, 0.45)
    assert tools.source_size == (picture.width, picture.height)


def test_an_upscale_needs_no_prompt(signed_in, web_engine):
    app = signed_in("views/studio.py")
    own_picture(web_engine)
    app.run()
    app.radio(key="tools_mode").set_value("Upscale").run()
    app.select_slider(key="tools_upscale_by").set_value(4.0).run()
    assert not app.button(key="studio_generate").disabled
    app.button(key="studio_generate").click().run()
    assert not app.exception
    tools = tools_of(web_engine)
    assert (tools.mode, tools.upscaler, tools.upscale_by) == (
        "upscale",
        "RealESRGAN_x4plus.pth",
        4.0,
    )


def uploader(app, key: str) -> Any:
    return next(u for u in app.get("file_uploader") if u.key == key)


def _mask(size: tuple[int, int]) -> bytes:
    image = Image.new("L", size, 0)
    image.paste(255, (8, 8, 40, 40))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def test_inpaint_with_an_uploaded_mask_and_a_wrong_sized_one(signed_in, web_engine, texts):
    app = signed_in("views/studio.py")
    own_picture(web_engine)
    app.run()
    app.radio(key="tools_mode").set_value("Inpaint").run()
    app.radio(key="tools_mask_origin").set_value("Upload").run()
    uploader(app, "tools_mask_file").set_value(("mask.png", _mask((80, 64)), "image/png")).run()
    assert "The mask is 80x64 but the picture is 512x640" in texts(app)
    uploader(app, "tools_mask_file").set_value(("mask.png", _mask(SOURCE_SIZE), "image/png")).run()
    app.slider(key="tools_mask_feather").set_value(12).run()
    generate(app, "a red door")
    job = submitted(web_engine)
    assert job.request["mask_png"]
    tools = Tools.from_json(job.request["tools"])
    assert (tools.mode, tools.mask_feather) == ("inpaint", 12)


def test_the_inpaint_canvas_is_drawn_over_the_picture(signed_in, web_engine, texts):
    app = signed_in("views/studio.py")
    own_picture(web_engine)
    app.run()
    app.radio(key="tools_mode").set_value("Inpaint").run()
    assert not app.exception
    assert "Paint over the area to change." in texts(app)
    assert app.slider(key="tools_brush").value == 30
