"""Which pages a visitor sees, by role, and where a deep link lands."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import streamlit as st

from core.accounts.verification import VERIFY_PAGE
from core.gallery.boards import BOARD_PAGE
from core.gallery.sharing import SHARE_PAGE

USER_PAGES = [
    ("views/studio.py", "Studio", ":material/auto_awesome:"),
    ("views/muses.py", "Muses", ":material/face:"),
    ("views/gallery.py", "Gallery", ":material/photo_library:"),
    ("views/reader.py", "Settings reader", ":material/manage_search:"),
    ("views/boards.py", "Boards", ":material/collections_bookmark:"),
    ("views/account.py", "Account", ":material/person:"),
]
ADMIN_PAGES = [
    ("views/admin_pool.py", "Warm pool", ":material/memory:"),
    ("views/admin_costs.py", "Spend & usage", ":material/monitoring:"),
    ("views/admin_audit.py", "Audit log", ":material/policy:"),
    ("views/admin_moderation.py", "Moderation", ":material/flag:"),
    ("views/admin_users.py", "Users", ":material/group:"),
    ("views/admin_models.py", "Models", ":material/model_training:"),
]


TAKEDOWN_URL = "takedown"


def share_page() -> st.Page:
    """The page a share link (`/share?token=...`) opens; never listed, only linked to."""
    return st.Page(
        "views/share.py", title="Shared picture", url_path=SHARE_PAGE, visibility="hidden"
    )


def board_page() -> st.Page:
    """The page a board link (`/board?token=...`) opens; never listed, only linked to."""
    return st.Page("views/board.py", title="Shared board", url_path=BOARD_PAGE, visibility="hidden")


def verify_page() -> st.Page:
    """The page an email verification link (`/verify?token=...`) opens; only linked to."""
    return st.Page(
        "views/verify.py", title="Email verification", url_path=VERIFY_PAGE, visibility="hidden"
    )


def visitor_pages(sign_in: Callable[[], None]) -> list[st.Page]:
    """A visitor's pages: the sign-in form at `/` and at each user page's own path, and the
    share and email verification pages, and the removal request form.

    A deep link such as `/gallery` shows the sign-in form there; signing in reruns the same
    path, which is then the real page, so the visitor lands where the link pointed.
    """
    at_user_paths = [
        st.Page(sign_in, title=title, url_path=Path(path).stem) for path, title, _ in USER_PAGES
    ]
    return [
        st.Page(sign_in, title="Sign in", default=True),
        *at_user_paths,
        share_page(),
        board_page(),
        verify_page(),
        takedown_page(),
    ]


def takedown_page() -> st.Page:
    """The removal request form: open to everyone, before the age gate (views/takedown.py)."""
    return st.Page(
        "views/takedown.py",
        title="Request removal",
        icon=":material/report:",
        url_path=TAKEDOWN_URL,
    )


def share_link_open(query: Mapping[str, str]) -> bool:
    """Whether the address is a share or board link (`/share?token=...`, `/board?token=...`):
    the only time those pages belong in a signed-in visitor's navigation."""
    return bool(query.get("token"))


def pages_for(is_admin: bool, *, share_link: bool = False) -> dict[str, list[st.Page]]:
    """The navigation sections for a signed-in visitor; admin pages only for admins.

    The share and board pages are there only while such a link is open (`share_link`):
    listed without a link they led to "This link is not valid".
    """
    create = [st.Page(path, title=title, icon=icon) for path, title, icon in USER_PAGES]
    shared = [share_page(), board_page()] if share_link else []
    sections = {"Create": [*create, *shared, verify_page()]}  # verify: hidden, opened by links
    if is_admin:
        sections["Admin"] = [
            st.Page(path, title=title, icon=icon) for path, title, icon in ADMIN_PAGES
        ]
    sections["Help"] = [takedown_page()]
    return sections
