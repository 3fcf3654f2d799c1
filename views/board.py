"""A shared board, opened from a board link by anyone who passed the age gate: only the
pictures safe to show anyone (core.gallery.boards.shared_pictures)."""

from __future__ import annotations

import streamlit as st

from core.errors import CoreError
from core.gallery import boards
from ui import db, media, resources
from ui.widgets import KeysetPager, md_literal

GRID = 48  # thumbnails a page
token = st.query_params.get("token", "")
pager: KeysetPager[str] = KeysetPager(f"board_cursors:{token}")
try:
    with db.reading() as session:
        board = boards.resolve_board_link(session, token=token, signer=resources.share_signer())
        page = boards.shared_pictures(session, board=board, cursor=pager.cursor, limit=GRID)
except CoreError as exc:
    st.title("Shared board")
    st.error(str(exc))
    st.stop()

st.title(md_literal(board.name))
if not page.items:
    st.info("Nothing on this board can be shown yet.")
media.thumbnail_grid(page.items)
pager.controls(page.next_cursor, key="board", back="← Back", forward="More →")
