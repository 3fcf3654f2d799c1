"""Boards: a user's named collections of pictures, kept private or opened by a share link.

A board holds pictures its owner may see (their own, or other people's public ones). Its
owner sees each picture they may still see; a board link (signed like a picture's share link,
`core.gallery.sharing`, and revocable) shows anyone only the pictures safe to show: screened
as passed, not hidden, and public, or unlisted by the board's own owner. Another user's
board is NotFound, the same as one that does not exist. Use cases take a session and flush;
the caller commits.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from core.accounts.inputs import require_plain
from core.errors import NotFound, ValidationFailed
from core.gallery.listing import get_asset, publicly_visible, rows_after
from core.gallery.sharing import ShareSigner, link_hash, new_link
from core.links import page_url
from core.models import Asset, Board, BoardItem, BoardShareLink, Screening, Visibility

BOARD_PAGE = "board"
"""The web page's url path a board link opens (ui/navigation.py serves it there)."""
MAX_NAME_CHARS = 80
MAX_BOARDS = 200
MAX_ITEMS_PER_CALL = 500


@dataclass(frozen=True)
class BoardSummary:
    """A board and how many pictures it holds."""

    board: Board
    pictures: int


@dataclass(frozen=True)
class BoardPage:
    """One page of a board's pictures, newest additions first, and the next page's cursor."""

    items: list[Asset]
    next_cursor: str | None


def _clean_name(name: str) -> str:
    require_plain({"board name": name})
    cleaned = " ".join(name.split())
    if not cleaned:
        raise ValidationFailed("Give the board a name.")
    if len(cleaned) > MAX_NAME_CHARS:
        raise ValidationFailed(f"A board name has at most {MAX_NAME_CHARS} characters.")
    return cleaned


def _refuse_taken(session: Session, *, owner_id: int, name: str, board_id: int | None) -> None:
    taken = session.exec(
        select(Board.id).where(
            Board.owner_id == owner_id,
            sa.func.lower(Board.name) == name.lower(),
            col(Board.id) != (board_id or -1),
        )
    ).first()
    if taken is not None:
        raise ValidationFailed(f"You already have a board called “{name}”.")


def owned_board(session: Session, *, owner_id: int, board_id: int) -> Board:
    """The board if `owner_id` owns it; NotFound otherwise (the same as a missing id)."""
    board = session.get(Board, board_id)
    if board is None or board.owner_id != owner_id:
        raise NotFound("No such board.")
    return board


def create_board(session: Session, *, owner_id: int, name: str, now: datetime) -> Board:
    """A new empty board of the owner's; ValidationFailed for an empty, overlong or control-
    character name, a name the owner already uses (case aside), or past 200 boards."""
    cleaned = _clean_name(name)
    count = session.exec(
        select(sa.func.count()).select_from(Board).where(Board.owner_id == owner_id)
    ).one()
    if count >= MAX_BOARDS:
        raise ValidationFailed(f"You have {MAX_BOARDS} boards already; delete one first.")
    _refuse_taken(session, owner_id=owner_id, name=cleaned, board_id=None)
    board = Board(owner_id=owner_id, name=cleaned, created_at=now)
    session.add(board)
    session.flush()
    return board


def rename_board(session: Session, *, owner_id: int, board_id: int, name: str) -> Board:
    """The owner's board under its new name (checked as `create_board` checks it)."""
    board = owned_board(session, owner_id=owner_id, board_id=board_id)
    cleaned = _clean_name(name)
    _refuse_taken(session, owner_id=owner_id, name=cleaned, board_id=board_id)
    board.name = cleaned
    session.add(board)
    return board


def delete_board(session: Session, *, owner_id: int, board_id: int) -> None:
    """Delete the owner's board and its links; the pictures themselves stay."""
    board = owned_board(session, owner_id=owner_id, board_id=board_id)
    for model in (BoardItem, BoardShareLink):
        session.execute(sa.delete(model).where(col(model.board_id) == board_id))
    session.delete(board)
    session.flush()


def list_boards(session: Session, *, owner_id: int) -> list[BoardSummary]:
    """The owner's boards by name, each with its picture count."""
    counts = (
        select(BoardItem.board_id, sa.func.count().label("n"))
        .group_by(col(BoardItem.board_id))
        .subquery()
    )
    rows = session.exec(
        select(Board, sa.func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.board_id == Board.id)
        .where(Board.owner_id == owner_id)
        .order_by(sa.func.lower(Board.name), col(Board.id))
    ).all()
    return [BoardSummary(board, int(n)) for board, n in rows]


def boards_holding(session: Session, *, owner_id: int, asset_id: int) -> list[int]:
    """The ids of the owner's boards that hold this picture."""
    return list(
        session.exec(
            select(BoardItem.board_id)
            .join(Board, col(Board.id) == BoardItem.board_id)
            .where(Board.owner_id == owner_id, BoardItem.asset_id == asset_id)
        ).all()
    )


def _bounded(asset_ids: Sequence[int]) -> list[int]:
    ids = list(dict.fromkeys(asset_ids))
    if len(ids) > MAX_ITEMS_PER_CALL:
        raise ValidationFailed(f"Choose at most {MAX_ITEMS_PER_CALL} pictures at a time.")
    return ids


def add_pictures(
    session: Session, *, owner_id: int, board_id: int, asset_ids: Sequence[int], now: datetime
) -> int:
    """Put pictures on the owner's board, all or none: each must be one the owner may see
    (their own, or a public one; anything else is NotFound and nothing is added). Pictures
    on the board already stay as they were; how many were added."""
    owned_board(session, owner_id=owner_id, board_id=board_id)
    ids = _bounded(asset_ids)
    for asset_id in ids:
        get_asset(session, viewer_id=owner_id, asset_id=asset_id)
    present = set(
        session.exec(
            select(BoardItem.asset_id).where(
                BoardItem.board_id == board_id, col(BoardItem.asset_id).in_(ids)
            )
        ).all()
    )
    added = [i for i in ids if i not in present]
    for asset_id in added:
        session.add(BoardItem(board_id=board_id, asset_id=asset_id, added_at=now))
    session.flush()
    return len(added)


def remove_pictures(
    session: Session, *, owner_id: int, board_id: int, asset_ids: Sequence[int]
) -> int:
    """Take pictures off the owner's board (the pictures stay); how many were on it."""
    owned_board(session, owner_id=owner_id, board_id=board_id)
    ids = _bounded(asset_ids)
    result = session.execute(
        sa.delete(BoardItem).where(
            col(BoardItem.board_id) == board_id, col(BoardItem.asset_id).in_(ids)
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


def move_pictures(
    session: Session,
    *,
    owner_id: int,
    asset_ids: Sequence[int],
    to_board_id: int,
    from_board_id: int | None,
    now: datetime,
) -> int:
    """Move pictures to the owner's board `to_board_id` (off `from_board_id`, when they were
    picked from one of the owner's boards), all or none; how many arrived."""
    added = add_pictures(
        session, owner_id=owner_id, board_id=to_board_id, asset_ids=asset_ids, now=now
    )
    if from_board_id is not None and from_board_id != to_board_id:
        remove_pictures(session, owner_id=owner_id, board_id=from_board_id, asset_ids=asset_ids)
    return added


def _owner_may_see(owner_id: int) -> Any:
    own = sa.and_(col(Asset.owner_id) == owner_id, col(Asset.screening) != Screening.FLAGGED)
    return sa.or_(own, publicly_visible())


def _link_may_show(owner_id: int) -> Any:
    """What a board link shows: screened, not hidden, public or the owner's own unlisted."""
    unlisted_own = sa.and_(
        col(Asset.visibility) == Visibility.UNLISTED,
        col(Asset.owner_id) == owner_id,
        col(Asset.screening) == Screening.PASSED,
        col(Asset.hidden).is_(False),
    )
    return sa.or_(publicly_visible(), unlisted_own)


def encode_cursor(added_at: datetime, asset_id: int) -> str:
    """The cursor of the board page after the picture added at `added_at` with `asset_id`."""
    return base64.urlsafe_b64encode(json.dumps([added_at.isoformat(), asset_id]).encode()).decode()


def _after(cursor: str) -> tuple[datetime, int]:
    try:
        added, asset_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        at = datetime.fromisoformat(added)
    except (ValueError, TypeError) as exc:
        raise ValidationFailed("That page link is not valid any more.") from exc
    if at.tzinfo is None or not isinstance(asset_id, int) or not 0 <= asset_id < 2**63:
        raise ValidationFailed("That page link is not valid any more.")
    return at, asset_id


def _page(
    session: Session, *, board: Board, shown: Any, cursor: str | None, limit: int
) -> BoardPage:
    query = (
        select(BoardItem, Asset)
        .join(Asset, col(Asset.id) == BoardItem.asset_id)
        .where(BoardItem.board_id == board.id, shown)
        .order_by(col(BoardItem.added_at).desc(), col(BoardItem.asset_id).desc())
    )
    if cursor:
        at, asset_id = _after(cursor)
        key, ids = col(BoardItem.added_at), col(BoardItem.asset_id)
        rows = rows_after(session, query, key, at, asset_id, limit + 1, id_column=ids)
    else:
        rows = list(session.exec(query.limit(limit + 1)).all())
    items = [asset for _, asset in rows[:limit]]
    last = rows[limit - 1][0] if len(rows) > limit else None
    more = encode_cursor(last.added_at, last.asset_id) if last is not None else None
    return BoardPage(items, more)


def board_pictures(
    session: Session, *, owner_id: int, board_id: int, cursor: str | None = None, limit: int = 24
) -> BoardPage:
    """A page of the owner's board: the pictures on it they may still see (another user's
    picture made private since drops out), newest additions first."""
    board = owned_board(session, owner_id=owner_id, board_id=board_id)
    return _page(session, board=board, shown=_owner_may_see(owner_id), cursor=cursor, limit=limit)


def share_board(
    session: Session, *, owner_id: int, board_id: int, signer: ShareSigner, now: datetime
) -> str:
    """A new signed link to the owner's board (only its hash is stored); the pictures keep
    their own visibility: the link shows only those `shared_pictures` may show."""
    owned_board(session, owner_id=owner_id, board_id=board_id)
    link, token_sha256 = new_link(signer)
    session.add(
        BoardShareLink(
            board_id=board_id, token_sha256=token_sha256, created_by=owner_id, created_at=now
        )
    )
    session.flush()
    return link


def board_url(base_url: str, link: str) -> str:
    """The address that opens the board behind `link` (what `share_board` returned)."""
    return page_url(base_url, BOARD_PAGE, token=link)


def revoke_board_links(session: Session, *, owner_id: int, board_id: int, now: datetime) -> int:
    """Revoke every link to the owner's board; how many were live."""
    owned_board(session, owner_id=owner_id, board_id=board_id)
    links = session.exec(
        select(BoardShareLink).where(
            BoardShareLink.board_id == board_id, col(BoardShareLink.revoked_at).is_(None)
        )
    ).all()
    for link in links:
        link.revoked_at = now
        session.add(link)
    return len(links)


def resolve_board_link(session: Session, *, token: str, signer: ShareSigner) -> Board:
    """The board behind a link; NotFound for forged, unknown or revoked links."""
    token_sha256 = link_hash(signer, token)
    if token_sha256 is None:  # not signed by us: no database lookup at all
        raise NotFound("This link is not valid.")
    link = session.exec(
        select(BoardShareLink).where(BoardShareLink.token_sha256 == token_sha256)
    ).first()
    board = (
        None if link is None or link.revoked_at is not None else session.get(Board, link.board_id)
    )
    if board is None:
        raise NotFound("This link is not valid.")
    return board


def shared_pictures(
    session: Session, *, board: Board, cursor: str | None = None, limit: int = 24
) -> BoardPage:
    """A page of a board opened by its link: only pictures safe to show anyone (screened as
    passed, not hidden, public or the board owner's own unlisted ones)."""
    return _page(
        session, board=board, shown=_link_may_show(board.owner_id), cursor=cursor, limit=limit
    )
