"""Process-wide resources for the web app: settings, engine, media store, clock, presets,
signer, taxonomy, screener.

Each is built once per server (`st.cache_resource`); the editable taxonomy is re-read at most
once a minute (`st.cache_data`).
"""

from __future__ import annotations

import streamlit as st
from sqlalchemy.engine import Engine

from core.clock import Clock, SystemClock
from core.comfy.presets import Presets
from core.config import Settings, get_settings
from core.db import make_engine
from core.gallery.media import MediaStore, open_media_store
from core.gallery.sharing import ShareSigner
from core.gallery.taxonomy import Taxonomy
from core.safety import OutputScreener, shared_screener

TAXONOMY_TTL_S = 60


@st.cache_resource
def settings() -> Settings:
    """The validated settings."""
    return get_settings()


@st.cache_resource
def engine() -> Engine:
    """The database engine for `DATABASE_URL`."""
    return make_engine(settings().database_url)


@st.cache_resource
def media_store() -> MediaStore:
    """The media store `MEDIA_STORE` names: the local folder or the S3 bucket."""
    return open_media_store(settings())


@st.cache_resource
def presets() -> Presets:
    """The quality presets and models offered (data/presets.toml)."""
    return Presets.load()


@st.cache_resource
def clock() -> Clock:
    """The wall clock every page uses."""
    return SystemClock()


@st.cache_resource
def share_signer() -> ShareSigner:
    """Signs and checks share links with the key derived for sharing from `COOKIE_KEY`."""
    return ShareSigner.from_secret(settings().cookie_key.get_secret_value())


@st.cache_data(ttl=TAXONOMY_TTL_S, show_spinner=False)
def taxonomy() -> Taxonomy:
    """The gallery's categories and tags (data/taxonomy.toml); an edit shows within a minute."""
    return Taxonomy.load()


def screener() -> OutputScreener:
    """The process's output screener (the OUTPUT_SCREENER setting), built once."""
    return shared_screener(settings().output_screener)
