"""Process-wide resources for the web app, built once per server by `st.cache_resource`."""

from __future__ import annotations

import streamlit as st
from sqlalchemy.engine import Engine

from core.config import Settings, get_settings
from core.db import make_engine


@st.cache_resource
def settings() -> Settings:
    """The validated settings."""
    return get_settings()


@st.cache_resource
def engine() -> Engine:
    """The database engine for `DATABASE_URL`."""
    return make_engine(settings().database_url)
