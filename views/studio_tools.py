"""The Studio's creative controls: tool (txt2img, img2img, inpaint, upscale), source picture
and mask, size, LoRAs, sampler controls, hires fix and face fix; `tool_controls` returns what
they hold.
For video, `video_controls`: text- or image-to-video, clip length, frame rate and format.

Every choice is offered from the catalogue and the real enum lists (core.comfy.tools), so
the page cannot build a request ComfyUI would refuse; the request is validated again in core.
"""

from __future__ import annotations

from dataclasses import replace

import streamlit as st
from PIL import Image
from streamlit_drawable_canvas import st_canvas

from core.comfy.catalogue import MAX_SIDE, MIN_SIDE
from core.comfy.presets import Presets
from core.comfy.tools import (
    FACE_FIX_DENOISE,
    HIRES_MAX_STEPS,
    INPAINT_METHODS,
    MAX_CFG,
    MAX_LORA_WEIGHT,
    MAX_LORAS,
    MAX_STEPS,
    SAMPLERS,
    SCHEDULERS,
    VIDEO_FPS,
    VIDEO_LENGTHS,
    FaceFix,
    Hires,
    Lora,
    Tools,
)
from core.studio import sources
from ui import db, media, resources
from ui.references import upload_reference
from ui.studio_prefill import (
    CUSTOM_SIZE,
    MY_PICTURES,
    PRESET_SIZE,
    REMIX_MASK,
    REMIX_SOURCE,
    REMIXED_MASK,
    TOOLS,
    UPLOADED,
    Source,
    picture_label,
    size_label,
)

CANVAS_WIDTH = 512
METHOD_LABELS = {
    "noise_mask": "Keep the picture under the mask as a start (any strength)",
    "vae_inpaint": "Fill the mask from scratch (VAEEncodeForInpaint)",
}


def tool_controls(
    *, presets: Presets, user_id: int, model: str, preset: str
) -> tuple[Tools, bytes | None]:
    """Draw the creative controls for an image request on `model` with quality `preset`;
    return the tools they hold and the inpaint mask (a PNG) when one is drawn or uploaded.
    A problem with a mask is shown where it was made, and the mask left out."""
    offered = [label for label, name in TOOLS.items() if name != "facefix" or presets.face_detector]
    mode = TOOLS[st.radio("Tool", offered, horizontal=True, key="tools_mode")]
    source = _source_picker(user_id) if mode != "txt2img" else None
    tools = Tools(mode=mode)
    if source is not None:
        tools = Tools(mode=mode, source=source.sha256, source_size=(source.width, source.height))
    mask: bytes | None = None
    if mode == "upscale":
        return _upscale_controls(presets, tools), None
    if mode == "img2img":
        tools = replace(
            tools, denoise=st.slider("Denoise strength", 0.05, 1.0, 0.6, 0.05, key="tools_denoise")
        )
    if mode == "inpaint" and source is not None:
        tools, mask = _inpaint_controls(tools, source)
    if mode == "txt2img":
        tools = _size_controls(presets, tools, model, preset)
    tools = _lora_controls(presets, tools, model)
    tools = _advanced_controls(presets, tools, model, preset)
    if mode not in ("inpaint", "facefix"):
        tools = _hires_controls(presets, tools)
    if presets.face_detector is not None:
        tools = _face_fix_controls(tools, alone=mode == "facefix")
    return tools, mask


VIDEO_MODES = {"From the prompt": "txt2img", "Animate a picture": "img2video"}
FORMAT_LABELS = {"mp4": "MP4 (H.264)", "webp": "Animated WebP"}


def video_controls(*, presets: Presets, user_id: int, preset: str) -> Tools:
    """Draw the video controls for quality `preset`: from the prompt or animating one of
    the user's pictures (or a consented upload), clip length and frame rate presets, and
    the file format; return the tools they hold."""
    offered = VIDEO_MODES if presets.i2v_model else {"From the prompt": "txt2img"}
    mode = offered[st.radio("Video", list(offered), horizontal=True, key="video_mode")]
    tools = Tools(mode=mode)
    if mode == "img2video":
        source = _source_picker(user_id)
        if source is not None:
            size = (source.width, source.height)
            tools = Tools(mode=mode, source=source.sha256, source_size=size)
    base = presets.preset(preset, "video")
    lengths = sorted({*VIDEO_LENGTHS, base.length})
    rates = sorted({*VIDEO_FPS, int(base.fps or 16)})
    left, right = st.columns(2)
    length = left.select_slider("Length (frames)", lengths, value=base.length, key="video_length")
    fps = right.select_slider(
        "Frames per second", rates, value=int(base.fps or 16), key="video_fps"
    )
    left.caption(f"≈ {length / fps:.1f} s of video")
    video_format = right.radio(
        "Format", list(FORMAT_LABELS), format_func=FORMAT_LABELS.__getitem__, key="video_format"
    )
    return replace(tools, length=int(length), fps=float(fps), video_format=str(video_format))


def _source_picker(user_id: int) -> Source | None:
    """The source: one of the user's own pictures (any mode) or an upload with the consent
    statement (never explicit mode)."""
    origin = st.radio(
        "Source picture", [MY_PICTURES, UPLOADED], horizontal=True, key="tools_origin"
    )
    if origin == UPLOADED:
        added = upload_reference(
            user_id=user_id, muse_id=None, target="studio.source", key="tools_upload"
        )
        if added is not None:
            st.session_state["tools_uploaded"] = Source(added.sha256, added.width, added.height)
        uploaded: Source | None = st.session_state.get("tools_uploaded")
        if uploaded is not None:
            st.image(media.source(uploaded.sha256), width=192, caption="Uploaded source")
            st.caption(
                "Uploaded pictures cannot be used in explicit mode: they may show real people."
            )
        return uploaded
    with db.reading() as session:
        pictures = sources.own_pictures(
            session, user_id=user_id, also=st.session_state.get(REMIX_SOURCE)
        )
    if not pictures:
        st.caption("No pictures of yours yet: generate one, or upload a picture.")
        return None
    labels = {picture_label(p): p for p in pictures}
    picked = labels[st.selectbox("Picture", list(labels), key="tools_picture")]
    st.image(media.source(picked.sha256), width=192)
    return Source(picked.sha256, picked.width, picked.height)


def _size_controls(presets: Presets, tools: Tools, model: str, preset: str) -> Tools:
    family = presets.catalogue.family_of(model)
    default = presets.preset(preset, "image")
    buckets = {size_label(w, h): (w, h) for w, h in family.sizes}
    choice = st.selectbox(
        f"Size ({family.label} native sizes)",
        [PRESET_SIZE, *buckets, CUSTOM_SIZE],
        key="tools_size",
        help=f"{PRESET_SIZE}: {default.width}x{default.height}, as the quality preset sets it.",
    )
    if choice == PRESET_SIZE:
        return tools
    if choice == CUSTOM_SIZE:
        left, right = st.columns(2)
        width = left.number_input("Width", MIN_SIDE, MAX_SIDE, default.width, 8, key="tools_width")
        height = right.number_input(
            "Height", MIN_SIDE, MAX_SIDE, default.height, 8, key="tools_height"
        )
        return replace(tools, width=int(width), height=int(height))
    width, height = buckets[choice]
    return replace(tools, width=width, height=height)


def _lora_controls(presets: Presets, tools: Tools, model: str) -> Tools:
    offered = {lora.label: lora for lora in presets.catalogue.loras_for(model)}
    family = presets.catalogue.family_of(model).label
    with st.expander(f"LoRAs ({len(offered)} for {family})"):
        if not offered:
            st.caption(f"No LoRA in the catalogue is made for {family} models.")
            return tools
        chosen = st.multiselect("LoRAs", list(offered), max_selections=MAX_LORAS, key="tools_loras")
        loras = []
        for label in chosen:
            lora = offered[label]
            weight = st.slider(
                f"Weight of {label}",
                -MAX_LORA_WEIGHT,
                MAX_LORA_WEIGHT,
                lora.default_weight,
                0.05,
                key=f"tools_lora_weight_{lora.name}",
            )
            if lora.triggers:
                st.caption(f"Trigger words: {', '.join(lora.triggers)} (add them to the prompt)")
            loras.append(Lora(lora.name, float(weight)))
    return replace(tools, loras=tuple(loras))


def _advanced_controls(presets: Presets, tools: Tools, model: str, preset: str) -> Tools:
    base = presets.preset(preset, "image")
    family = presets.catalogue.family_of(model)
    with st.expander("Advanced sampler controls"):
        if not st.checkbox("Override the quality preset", key="tools_advanced"):
            st.caption(
                f"{base.steps} steps, CFG {base.cfg}, {base.sampler_name} / {base.scheduler}"
                f", CLIP skip {family.clip_skip}."
            )
            return tools
        left, right = st.columns(2)
        steps = left.slider("Steps", 1, MAX_STEPS, base.steps, key="tools_steps")
        cfg = right.slider("CFG", 0.0, MAX_CFG, float(base.cfg), 0.5, key="tools_cfg")
        sampler = left.selectbox(
            "Sampler", SAMPLERS, index=SAMPLERS.index(base.sampler_name), key="tools_sampler"
        )
        scheduler = right.selectbox(
            "Scheduler", SCHEDULERS, index=SCHEDULERS.index(base.scheduler), key="tools_scheduler"
        )
        clip_skip = left.number_input("CLIP skip", 1, 12, family.clip_skip, key="tools_clip_skip")
    return replace(
        tools,
        steps=int(steps),
        cfg=float(cfg),
        sampler_name=sampler,
        scheduler=scheduler,
        clip_skip=int(clip_skip),
    )


def _hires_controls(presets: Presets, tools: Tools) -> Tools:
    with st.expander("Hires fix"):
        if not st.checkbox("Enlarge and refine (a second, low-denoise pass)", key="tools_hires"):
            return tools
        upscalers = {"Latent (fastest)": None} | {
            u.label: u.name for u in presets.catalogue.upscalers()
        }
        left, right = st.columns(2)
        scale = left.slider("Scale", 1.1, 2.0, 1.5, 0.05, key="tools_hires_scale")
        denoise = right.slider("Denoise", 0.05, 1.0, 0.4, 0.05, key="tools_hires_denoise")
        steps = left.slider("Steps", 1, HIRES_MAX_STEPS, 15, key="tools_hires_steps")
        upscaler = upscalers[
            right.selectbox("Upscaler", list(upscalers), key="tools_hires_upscaler")
        ]
    return replace(
        tools,
        hires=Hires(
            scale=float(scale), denoise=float(denoise), steps=int(steps), upscaler=upscaler
        ),
    )


def _face_fix_controls(tools: Tools, *, alone: bool) -> Tools:
    """The face fix's settings: an option after generating, or the tool itself (`alone`)."""
    with st.expander("Face fix", expanded=alone):
        if not alone and not st.checkbox(
            "Face fix (redraw each detected face in detail)", key="tools_face_fix"
        ):
            return tools
        left, right = st.columns(2)
        denoise = left.slider(
            "Face denoise", *FACE_FIX_DENOISE, 0.4, 0.05, key="tools_face_fix_denoise"
        )
        confidence = right.slider(
            "Detection confidence", 0.05, 1.0, 0.5, 0.05, key="tools_face_fix_confidence"
        )
    return replace(tools, face_fix=FaceFix(denoise=float(denoise), confidence=float(confidence)))


def _upscale_controls(presets: Presets, tools: Tools) -> Tools:
    upscalers = {u.label: u for u in presets.catalogue.upscalers()}
    upscaler = upscalers[st.selectbox("Upscale model", list(upscalers), key="tools_upscaler")]
    factor = st.select_slider(
        "Enlarge by", [1.5, 2.0, 3.0, float(upscaler.scale)], value=2.0, key="tools_upscale_by"
    )
    return replace(tools, upscaler=upscaler.name, upscale_by=float(factor))


def _inpaint_controls(tools: Tools, source: Source) -> tuple[Tools, bytes | None]:
    """The mask, drawn over the picture or uploaded, and how it is grown and feathered."""
    method = st.radio(
        "Inpaint",
        list(INPAINT_METHODS),
        format_func=METHOD_LABELS.__getitem__,
        key="tools_inpaint_method",
    )
    left, right = st.columns(2)
    grow = left.slider("Grow the mask (px)", 0, 64, 6, key="tools_mask_grow")
    feather = right.slider("Feather the edge (px)", 0, 64, 8, key="tools_mask_feather")
    denoise = st.slider("Denoise strength", 0.05, 1.0, 0.85, 0.05, key="tools_inpaint_denoise")
    tools = replace(
        tools, inpaint_method=method, mask_grow=grow, mask_feather=feather, denoise=denoise
    )
    masked = db.shown(lambda: _mask(source))
    return tools, masked.value if masked else None


def _mask(source: Source) -> bytes | None:
    """The mask as PNG bytes: the remixed one, an upload or the strokes drawn (None before
    any); a file that is no mask of the picture's size raises its `CoreError`."""
    settings = resources.settings()
    size = (source.width, source.height)
    remixed: bytes | None = st.session_state.get(REMIX_MASK)
    choices = ["Draw", "Upload", *([REMIXED_MASK] if remixed else [])]
    how = st.radio("Mask", choices, horizontal=True, key="tools_mask_origin")
    if how == REMIXED_MASK and remixed is not None:
        return sources.mask_png(remixed, size=size, max_pixels=settings.max_image_pixels)
    if how == "Upload":
        upload = st.file_uploader(
            "Mask (white = repaint, black = keep; the picture's size)",
            type=["png", "webp"],
            key="tools_mask_file",
        )
        if upload is None:
            return None
        return sources.mask_png(upload.getvalue(), size=size, max_pixels=settings.max_image_pixels)
    drawing = _canvas(source)
    if drawing is None:
        return None
    return sources.drawn_mask_png(drawing, size=size, max_pixels=settings.max_image_pixels)


def _canvas(source: Source) -> Image.Image | None:
    """The strokes painted over the picture (scaled to CANVAS_WIDTH), or None before any."""
    height = round(CANVAS_WIDTH * source.height / source.width)
    brush = st.slider("Brush", 5, 80, 30, key="tools_brush")
    result = st_canvas(
        stroke_width=brush,
        stroke_color="#ffffff",
        background_image=media.read(source.sha256),
        width=CANVAS_WIDTH,
        height=height,
        drawing_mode="freedraw",
        return_image_data=True,
        key=f"tools_canvas_{source.sha256[:12]}",
    )
    if not result.json_data or not result.json_data.get("objects"):
        st.caption("Paint over the area to change.")
        return None
    return Image.fromarray(result.image_data.astype("uint8"), mode="RGBA")
