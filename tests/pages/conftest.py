"""Page tests run the real scripts with AppTest against a migrated database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import streamlit as st
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from core.accounts import legal, sessions
from core.config import get_settings
from core.db import make_engine, migrate, session_scope
from core.gallery.media import open_media_store
from core.models import Asset, Role, User
from testing.factories import register_user, store_png
from ui import auth

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def web_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """The database the pages use (DATABASE_URL), migrated; resource and data caches cleared."""
    url = f"sqlite:///{tmp_path / 'web.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    migrate(url)
    st.cache_resource.clear()
    st.cache_data.clear()
    engine = make_engine(url)
    yield engine
    engine.dispose()
    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.fixture
def signed_in(web_engine: Engine) -> Callable[..., AppTest]:
    """Open a page as a freshly registered user (role=admin for admins)."""

    def open_page(page: str, *, role: Role = Role.USER, credits: int = 500) -> AppTest:
        now = datetime.now(UTC)
        with session_scope(web_engine) as session:
            user = register_user(
                session,
                f"{role.value}1",
                password="a long enough secret",
                now=now,
                starter_credits=credits,
                role=role,
                accepted=legal.load(),
            )
            started = sessions.start_browser_session(
                session, user_id=user.id or 0, now=now, ttl_s=3600
            )
        app = AppTest.from_file(str(ROOT / page), default_timeout=30)
        app.session_state["age_confirmed"] = True
        app.session_state[auth.SESSION_KEY] = started.id
        return app

    return open_page


@pytest.fixture
def texts() -> Callable[[AppTest], str]:
    """What a page says, as one string: markdown, captions, subheaders and every alert."""

    def page_text(app: AppTest) -> str:
        parts = [*app.markdown, *app.caption, *app.subheader]
        parts += [*app.error, *app.info, *app.success, *app.warning]
        return " ".join(str(element.value) for element in parts)

    return page_text


def store_picture(
    session: Session,
    *,
    title: str,
    colour: tuple[int, int, int] | str = "teal",
    at: datetime | None = None,
) -> Asset:
    """A small PNG stored as the first user's (private, pending) picture, through the store."""
    owner = session.exec(select(User)).first()
    assert owner is not None, "sign a user in first"
    return store_png(
        session,
        media=open_media_store(get_settings()),
        owner_id=owner.id or 0,
        title=title,
        now=at or owner.created_at,
        colour=colour,
    )
