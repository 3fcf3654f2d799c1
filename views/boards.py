"""Boards: your collections of pictures — create, rename, delete, share by link, and take
pictures off (pictures go on a board from the Gallery)."""

from __future__ import annotations

import streamlit as st

from core.gallery import boards
from ui import db, media, resources
from ui.auth import require_user
from ui.widgets import KeysetPager, md_literal

user = require_user()
user_id = user.id or 0
settings = resources.settings()

st.title("Boards")

with st.form("board_new", clear_on_submit=True):
    name = st.text_input("New board", max_chars=boards.MAX_NAME_CHARS, key="board_new_name")
    if st.form_submit_button("Create board"):
        if db.attempt(
            lambda session, now: boards.create_board(session, owner_id=user_id, name=name, now=now)
        ):
            st.toast("Board created.")

with db.reading() as session:
    mine = boards.list_boards(session, owner_id=user_id)
if not mine:
    st.info("No boards yet: create one, then put pictures on it from the Gallery.")
    st.stop()

by_id = {s.board.id or 0: s for s in mine}
chosen = st.selectbox(
    "Board",
    list(by_id),
    format_func=lambda i: f"{by_id[i].board.name} ({by_id[i].pictures})",
    key="board_pick",
)
board_id = chosen or 0
board = by_id[board_id].board


def _manage() -> None:
    """Rename, share, revoke and delete the chosen board."""
    with st.expander("Manage this board"):
        new_name = st.text_input(
            "Name", board.name, max_chars=boards.MAX_NAME_CHARS, key=f"board_name_{board_id}"
        )
        if st.button("Rename", key="board_rename"):
            if db.attempt(
                lambda session, _now: boards.rename_board(
                    session, owner_id=user_id, board_id=board_id, name=new_name
                )
            ):
                st.rerun()
        if st.button("Create board link", key="board_share"):
            with db.writing() as (session, now):
                link = boards.share_board(
                    session,
                    owner_id=user_id,
                    board_id=board_id,
                    signer=resources.share_signer(),
                    now=now,
                )
            st.code(boards.board_url(settings.base_url, link))
            st.caption("Anyone with this link sees the board's public, reviewed pictures.")
        if st.button("Revoke board links", key="board_unshare"):
            with db.writing() as (session, now):
                revoked = boards.revoke_board_links(
                    session, owner_id=user_id, board_id=board_id, now=now
                )
            st.toast(f"Revoked {revoked} link(s).")
        if st.button("Delete board", key="board_delete"):
            st.session_state["board_deleting"] = board_id
        if st.session_state.get("board_deleting") == board_id:
            st.warning("Delete this board? Its pictures stay in the gallery.")
            if st.button("Yes, delete the board", type="primary", key="board_delete_yes"):
                with db.writing() as (session, _now):
                    boards.delete_board(session, owner_id=user_id, board_id=board_id)
                st.session_state.pop("board_deleting", None)
                st.session_state.pop("board_pick", None)
                st.rerun()


_manage()
pager: KeysetPager[str] = KeysetPager(f"board_cursors:{board_id}")
with db.reading() as session:
    page = boards.board_pictures(
        session, owner_id=user_id, board_id=board_id, cursor=pager.cursor, limit=24
    )
if not page.items:
    st.info("This board is empty: pick pictures in the Gallery and move them here.")
for row_start in range(0, len(page.items), 4):
    for column, asset in zip(st.columns(4), page.items[row_start : row_start + 4], strict=False):
        with column:
            st.image(media.thumbnail(asset), width="stretch")
            st.caption(md_literal(asset.title or "Untitled"))
            if st.button("Take off", key=f"board_off_{asset.id}"):
                with db.writing() as (session, _now):
                    boards.remove_pictures(
                        session, owner_id=user_id, board_id=board_id, asset_ids=[asset.id or 0]
                    )
                st.rerun()
pager.controls(page.next_cursor, key="boardp", back="← Back", forward="More →")
