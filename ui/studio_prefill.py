"""Filling the Studio's widgets from elsewhere: a muse's AI settings, or a remix (a job, a
gallery picture, a file's settings).

Another page (or a callback) stores the values with `request`; the Studio calls `apply`
before drawing its widgets, so they start from those values and stay editable. The widget
labels that a value must match (tool names, size choices, a picture's entry) live here, so
the Studio's controls and the remix agree on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from core.comfy.presets import Presets
from core.comfy.tools import Tools
from core.errors import NotFound
from core.models import Asset, ReferenceImage
from core.muses import service as muses
from core.muses.prompt import StudioDefaults
from core.studio import sources
from core.studio.compose import StudioRequest
from core.studio.remix import Remix
from ui import db

PENDING = "studio_prefill"
NOTE = "studio_remix_note"
STUDIO_PAGE = "views/studio.py"
TOOLS = {
    "Text to image": "txt2img",
    "Image to image": "img2img",
    "Inpaint": "inpaint",
    "Upscale": "upscale",
    "Face fix": "facefix",
}
PRESET_SIZE = "Preset size"
CUSTOM_SIZE = "Custom size"
MY_PICTURES, UPLOADED = "From my pictures", "Upload"
REMIXED_MASK = "The remixed job's mask"
REMIX_SOURCE = "tools_remix_source"
"""The hash of a remixed job's own source picture: offered even when older than the rest."""
REMIX_MASK = "tools_remix_mask"
"""A remixed inpaint job's mask (PNG bytes), offered as a mask choice."""


@dataclass(frozen=True)
class Source:
    """A picture chosen as the source: its media hash and size."""

    sha256: str
    width: int
    height: int


def size_label(width: int, height: int) -> str:
    """A native size's entry in the Size list."""
    shape = " (square)" if width == height else " (portrait)" if height > width else " (landscape)"
    return f"{width}x{height}{shape}"


def picture_label(picture: Asset) -> str:
    """One of the user's pictures in the source list."""
    return f"#{picture.id} · {picture.title or 'untitled'} ({picture.width}x{picture.height})"


def request(values: dict[str, Any]) -> None:
    """Ask the Studio to start from `values` (widget key -> value) on its next run."""
    st.session_state[PENDING] = {**st.session_state.get(PENDING, {}), **values}


def apply() -> None:
    """Put the requested values into the Studio's widgets (once); call before drawing them."""
    for key, value in st.session_state.pop(PENDING, {}).items():
        st.session_state[key] = value


CUSTOM_SIZE = "Custom size"
"""The Studio's size choice that shows the width and height inputs."""


def from_muse(defaults: StudioDefaults) -> dict[str, Any]:
    """The Studio widget values a muse's AI settings give (unset settings leave the form):
    model, LoRAs and their weights, quality, size, seed policy, negative prompt, IP-Adapter
    weight and preset, mode."""
    values: dict[str, Any] = {
        "studio_random_seed": defaults.seed is None,
        "studio_nsfw": defaults.explicit,
        "studio_ref_weight": defaults.reference_weight,
    }
    optional = {
        "studio_seed": defaults.seed,
        "studio_model": defaults.model,
        "studio_preset": defaults.preset,
        "studio_negative": defaults.negative_prompt,
        "studio_ref_preset": defaults.reference_preset,
    }
    values |= {key: value for key, value in optional.items() if value is not None}
    if defaults.loras:
        values["tools_loras"] = [lora.label for lora, _weight in defaults.loras]
        values |= {f"tools_lora_weight_{lora.name}": w for lora, w in defaults.loras}
    if defaults.size is not None:
        values |= {
            "tools_size": CUSTOM_SIZE,
            "tools_width": defaults.size[0],
            "tools_height": defaults.size[1],
        }
    return values


def load_remix(
    loaded: Remix, *, user_id: int, presets: Presets, origin: str, on_studio: bool = False
) -> None:
    """Load `loaded` into the Studio form and open the Studio (rerun it, `on_studio`),
    which says where it came from (`origin`) and what was left out."""
    values, missing = _remix_values(loaded, user_id=user_id, presets=presets)
    request(values)
    left_out = [*loaded.left_out, *missing]
    note = f"Loaded the settings of {origin}: change what you like, then Generate."
    if left_out:
        note += " Not loaded: " + "; ".join(left_out) + "."
    st.session_state[NOTE] = note
    if on_studio:
        st.rerun()
    st.switch_page(STUDIO_PAGE)


def show_note() -> None:
    """Say (once) what the last remix loaded and left out."""
    note = st.session_state.pop(NOTE, None)
    if note:
        st.info(note)


def _remix_values(
    remix: Remix, *, user_id: int, presets: Presets
) -> tuple[dict[str, Any], list[str]]:
    form = remix.request
    missing: list[str] = []
    muse_label = variation_name = ""
    source: Asset | ReferenceImage | None = None
    with db.reading() as session:
        if form.muse_id is not None:
            try:
                muse = muses.get_muse(session, owner_id=user_id, muse_id=form.muse_id)
                looks = muses.variations(session, owner_id=user_id, muse_id=form.muse_id)
            except NotFound:
                missing.append("the muse (it was deleted)")
            else:
                muse_label = f"{muse.name} (#{muse.id})"
                variation_name = next((v.name for v in looks if v.id == form.variation_id), "")
        if form.tools.source is not None:
            source = sources.own_source(session, user_id=user_id, sha=form.tools.source)
            if source is None:
                missing.append("the source picture (it was deleted)")
    values = from_request(form, presets=presets, use_muse_references=remix.use_muse_references)
    values |= {"studio_muse": muse_label, "studio_variation": variation_name}
    values |= _source_values(source)
    return values, missing


def from_request(
    form: StudioRequest, *, presets: Presets, use_muse_references: bool = False
) -> dict[str, Any]:
    """The Studio widget values that hold `form` (its source picture aside: `remix`)."""
    kind = form.kind.value
    model = form.model or presets.default_model(kind)
    values: dict[str, Any] = {
        "studio_kind": kind,
        "studio_prompt": form.prompt,
        "studio_negative": form.negative_prompt,
        "studio_preset": form.preset,
        "studio_model": model,
        "studio_random_seed": form.seed is None,
        "studio_batch": form.batch_size,
        "studio_nsfw": form.nsfw,
        "studio_refs": use_muse_references,
        "studio_uploaded_refs": list(form.reference_images),
        REMIX_MASK: form.mask_png,
        "tools_mask_origin": REMIXED_MASK if form.mask_png else "Draw",
    }
    if form.seed is not None:
        values["studio_seed"] = form.seed
    values["studio_ref_weight"] = form.reference_weight
    if form.reference_preset in presets.reference_preset_names():
        values["studio_ref_preset"] = form.reference_preset
    return values | _tool_values(form.tools, presets=presets, model=model, preset=form.preset)


def _tool_values(tools: Tools, *, presets: Presets, model: str, preset: str) -> dict[str, Any]:
    catalogue = presets.catalogue
    mode = next(label for label, name in TOOLS.items() if name == tools.mode)
    values: dict[str, Any] = {"tools_mode": mode, "tools_denoise": tools.denoise}
    values |= {
        "tools_inpaint_method": tools.inpaint_method,
        "tools_mask_grow": tools.mask_grow,
        "tools_mask_feather": tools.mask_feather,
        "tools_inpaint_denoise": tools.denoise,
    }
    values |= _size_values(tools, presets, model)
    labels = {lora.name: lora.label for lora in catalogue.loras()}
    values["tools_loras"] = [labels[lora.name] for lora in tools.loras if lora.name in labels]
    values |= {f"tools_lora_weight_{lora.name}": lora.weight for lora in tools.loras}
    sampling = (tools.steps, tools.cfg, tools.sampler_name, tools.scheduler, tools.clip_skip)
    values["tools_advanced"] = any(value is not None for value in sampling)
    if values["tools_advanced"]:
        base = presets.preset(preset, "image")
        values |= {
            "tools_steps": tools.steps if tools.steps is not None else base.steps,
            "tools_cfg": tools.cfg if tools.cfg is not None else float(base.cfg),
            "tools_sampler": tools.sampler_name or base.sampler_name,
            "tools_scheduler": tools.scheduler or base.scheduler,
            "tools_clip_skip": tools.clip_skip or catalogue.family_of(model).clip_skip,
        }
    upscalers = {u.name: u.label for u in catalogue.upscalers()}
    values["tools_hires"] = tools.hires is not None
    if tools.hires is not None:
        values |= {
            "tools_hires_scale": tools.hires.scale,
            "tools_hires_denoise": tools.hires.denoise,
            "tools_hires_steps": tools.hires.steps,
            "tools_hires_upscaler": upscalers.get(tools.hires.upscaler or "", "Latent (fastest)"),
        }
    values["tools_face_fix"] = tools.face_fix is not None
    if tools.face_fix is not None:
        values |= {
            "tools_face_fix_denoise": tools.face_fix.denoise,
            "tools_face_fix_confidence": tools.face_fix.confidence,
        }
    if tools.upscaler in upscalers:
        values["tools_upscaler"] = upscalers[tools.upscaler or ""]
    if tools.upscale_by is not None:
        values["tools_upscale_by"] = tools.upscale_by
    return values


def _size_values(tools: Tools, presets: Presets, model: str) -> dict[str, Any]:
    if tools.width is None or tools.height is None:
        return {"tools_size": PRESET_SIZE}
    if (tools.width, tools.height) in presets.catalogue.family_of(model).sizes:
        return {"tools_size": size_label(tools.width, tools.height)}
    return {"tools_size": CUSTOM_SIZE, "tools_width": tools.width, "tools_height": tools.height}


def _source_values(source: Asset | ReferenceImage | None) -> dict[str, Any]:
    if isinstance(source, Asset):
        return {
            "tools_origin": MY_PICTURES,
            "tools_picture": picture_label(source),
            REMIX_SOURCE: source.sha256,
        }
    if isinstance(source, ReferenceImage):
        return {
            "tools_origin": UPLOADED,
            "tools_uploaded": Source(source.sha256, source.width, source.height),
        }
    return {}
