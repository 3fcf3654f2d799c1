"""Media on the pages: content-addressed reads cached by hash, and the download button."""

from __future__ import annotations

import streamlit as st

from core.gallery import store
from core.models import Asset
from ui import resources

CACHED_FILES = 128
"""Files kept in memory per server: thumbnails mostly, a few full pictures."""


@st.cache_data(max_entries=CACHED_FILES, show_spinner=False)
def read(sha256: str) -> bytes:
    """The stored file with this hash. Cached by the hash alone: a content-addressed file
    never changes, so a cached copy is never stale."""
    return store.read(resources.settings().media_root, sha256)


def download_button(asset: Asset, data: bytes, *, key: str | None = None) -> None:
    """Download `asset`'s file as `aikings-<id>.<type>`."""
    st.download_button(
        "Download",
        data,
        file_name=f"aikings-{asset.id}.{asset.mime.split('/')[-1]}",
        mime=asset.mime,
        key=key,
    )
