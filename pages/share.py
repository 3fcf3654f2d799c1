"""A shared picture, opened from a share link by anyone who passed the age gate."""

from __future__ import annotations

import streamlit as st

from core.db import read_scope
from core.errors import NotFound
from core.gallery import queries, store
from ui import resources

st.title("Shared picture")
token = st.query_params.get("token", "")
try:
    with read_scope(resources.engine()) as session:
        asset = queries.resolve_share(session, token=token)
except NotFound:
    st.error("This link is not valid or was revoked.")
    st.stop()
st.image(store.read(resources.settings().media_root, asset.sha256), caption=asset.title)
