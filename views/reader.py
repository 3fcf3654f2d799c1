"""Settings reader: drop a PNG, WebP or MP4 and see how it was made; one click loads what the
Studio supports into its form and names what it does not."""

from __future__ import annotations

import streamlit as st

from core.studio import reader, remix
from ui import db, resources, studio_prefill
from ui.auth import require_user
from ui.widgets import md_literal

user = require_user()
settings = resources.settings()
presets = resources.presets()

st.title("Settings reader")
st.caption(
    "Reads the settings AUTOMATIC1111 (`parameters`), ComfyUI (`prompt` and `workflow`), "
    "Fooocus and this studio write into a picture or clip. The file is read, never stored."
)
upload = st.file_uploader("A PNG, WebP or MP4 file", type=["png", "webp", "mp4"], key="reader_file")
if upload is None:
    st.stop()
data = upload.getvalue()
read = db.shown(
    lambda: reader.read_upload(
        data,
        max_bytes=settings.max_upload_bytes,
        max_pixels=settings.max_image_pixels,
    ),
    say="This file cannot be read: {}",
)
if not read:
    st.stop()
found = read.value

loaded = remix.of_file(found, presets)
st.subheader(f"Made with {found.source}")
size = f"{found.width}x{found.height}" if found.width and found.height else None
facts = {
    "Model": found.model,
    "Seed": found.seed,
    "Steps": found.steps,
    "CFG scale": found.cfg,
    "Sampler": found.sampler,
    "Scheduler": found.scheduler,
    "Size": size,
    "Denoising strength": found.denoise,
    "LoRAs": ", ".join(f"{name} ({weight:g})" for name, weight in found.loras) or None,
}
st.caption(
    " · ".join(f"{name}: {md_literal(str(value))}" for name, value in facts.items() if value)
)
st.text_area("Prompt", found.prompt, disabled=True, key="reader_prompt")
st.text_area("Negative prompt", found.negative_prompt, disabled=True, key="reader_negative")
if loaded.left_out:
    st.warning("The Studio cannot load: " + md_literal("; ".join(loaded.left_out)) + ".")
if st.button("Load into the Studio", type="primary", key="reader_load"):
    studio_prefill.load_remix(
        loaded, user_id=user.id or 0, presets=presets, origin="the file you read"
    )
