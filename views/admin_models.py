"""Models: the catalogue the studio offers (checkpoints by family, LoRAs, upscalers), and
adding a model by a Civitai model-version id or a Hugging Face file link."""

from __future__ import annotations

import streamlit as st

from core.hub import HubClient, ModelInfo, catalogue_toml
from ui import db, resources
from ui.auth import require_admin

require_admin()
settings = resources.settings()
presets = resources.presets()
catalogue = presets.catalogue

st.title("Models")
checkpoints, loras, upscalers = st.tabs(["Checkpoints", "LoRAs", "Upscalers"])
checkpoints.dataframe(
    [{"file": n, "family": catalogue.family_of(n).label} for n in presets.models("image")],
    hide_index=True,
    width="stretch",
)
loras.dataframe(
    [
        {"file": x.name, "label": x.label, "family": x.family, "triggers": ", ".join(x.triggers)}
        for x in catalogue.loras()
    ],
    hide_index=True,
    width="stretch",
)
upscalers.dataframe(
    [{"file": u.name, "label": u.label, "scale": u.scale} for u in catalogue.upscalers()],
    hide_index=True,
    width="stretch",
)

st.subheader("Add a model")
st.caption(
    "The source's metadata (name, type, base model, size, sha256, trigger words) is read so "
    "that every instance verifies the file it downloads. Models shipped by default stay "
    "non-explicit; what you add is yours to vet."
)
with st.form("models_lookup"):
    source = st.radio("From", ["Civitai", "Hugging Face"], horizontal=True, key="models_source")
    reference = st.text_input(
        "Civitai model-version id, or Hugging Face file link (…/resolve/main/FILE)",
        key="models_reference",
    )
    looked_up = st.form_submit_button("Look up")


def _look_up(source: str, reference: str) -> ModelInfo:
    civitai = settings.civitai_token.get_secret_value() if settings.civitai_token else None
    hf = settings.hf_token.get_secret_value() if settings.hf_token else None
    with HubClient(
        civitai_url=settings.civitai_api_url,
        huggingface_url=settings.huggingface_api_url,
        civitai_token=civitai,
        hf_token=hf,
    ) as client:
        if source == "Civitai":
            if not reference.strip().isdigit():
                st.error(
                    "A Civitai model-version id is a number (the `modelVersionId` in its link)."
                )
                st.stop()
            return client.civitai_version(int(reference))
        return client.hf_file(reference)


if looked_up and reference.strip():
    found = db.shown(lambda: _look_up(source, reference))
    if found:
        info = found.value
        st.write(f"**{info.name}** · {info.folder} · base model {info.base_model or 'unknown'}")
        size_mb = info.size_bytes / 1_000_000
        st.write(f"`{info.file_name}` · {size_mb:,.1f} MB · sha256 `{info.sha256 or 'not given'}`")
        if info.trigger_words:
            st.write("Trigger words: " + ", ".join(info.trigger_words))
        if info.family is None and info.folder != "upscale_models":
            st.warning(
                "Its base model is not one of the studio's families; it is set to SDXL below."
            )
        if info.nsfw:
            st.warning("Its source marks it explicit: it must not become a default model.")
        if info.sha256 is None:
            st.warning("The source gives no sha256: instances can check the size only.")
        st.caption("Add these lines to data/presets.toml, then restart the web app and scheduler.")
        st.code(catalogue_toml(info), language="toml")
