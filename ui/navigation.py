"""Which pages a visitor sees, by role."""

from __future__ import annotations

import streamlit as st

USER_PAGES = [
    ("views/studio.py", "Studio", ":material/auto_awesome:"),
    ("views/muses.py", "Muses", ":material/face:"),
    ("views/gallery.py", "Gallery", ":material/photo_library:"),
    ("views/account.py", "Account", ":material/person:"),
]
ADMIN_PAGES = [
    ("views/admin_pool.py", "Warm pool", ":material/memory:"),
    ("views/admin_costs.py", "Spend & usage", ":material/monitoring:"),
    ("views/admin_audit.py", "Audit log", ":material/policy:"),
    ("views/admin_moderation.py", "Moderation", ":material/flag:"),
    ("views/admin_users.py", "Users", ":material/group:"),
]


TAKEDOWN_URL = "takedown"


def share_page() -> st.Page:
    """The page a share link (`/share?token=...`) opens."""
    return st.Page("views/share.py", title="Shared picture", url_path="share")


def takedown_page() -> st.Page:
    """The removal request form: open to everyone, before the age gate (views/takedown.py)."""
    return st.Page(
        "views/takedown.py",
        title="Request removal",
        icon=":material/report:",
        url_path=TAKEDOWN_URL,
    )


def pages_for(is_admin: bool) -> dict[str, list[st.Page]]:
    """The navigation sections for a visitor; admin pages only for admins."""
    sections = {
        "Create": [st.Page(path, title=title, icon=icon) for path, title, icon in USER_PAGES]
    }
    if is_admin:
        sections["Admin"] = [
            st.Page(path, title=title, icon=icon) for path, title, icon in ADMIN_PAGES
        ]
    sections["Shared"] = [share_page()]
    sections["Help"] = [takedown_page()]
    return sections
