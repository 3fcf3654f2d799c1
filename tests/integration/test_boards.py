"""Boards: create, rename, delete, add and take off pictures, move in bulk, share by a
revocable link that shows only pictures safe to show; never another user's board."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from core.db import read_scope, session_scope
from core.errors import NotFound, ValidationFailed
from core.gallery import boards, library
from core.gallery.sharing import ShareSigner
from core.models import Asset, BoardItem, Screening, Visibility
from testing.factories import make_asset, make_user
from testing.statements import statements_sent

NOW = datetime(2026, 12, 3, 9, tzinfo=UTC)
SIGNER = ShareSigner.from_secret("a test secret that is long enough")


def new_board(engine, owner, name="Harbours"):
    with session_scope(engine) as session:
        return boards.create_board(session, owner_id=owner.id, name=name, now=NOW).id


def add(engine, owner, board_id, asset_ids, *, at=NOW):
    with session_scope(engine) as session:
        return boards.add_pictures(
            session, owner_id=owner.id, board_id=board_id, asset_ids=asset_ids, now=at
        )


def on_board(engine, owner, board_id):
    with read_scope(engine) as session:
        page = boards.board_pictures(session, owner_id=owner.id, board_id=board_id, limit=50)
    return [a.id for a in page.items]


def test_a_board_is_created_renamed_filled_and_deleted(engine):
    owner = make_user(engine)
    pictures = [make_asset(engine, owner, visibility=Visibility.PRIVATE) for _ in range(3)]
    board_id = new_board(engine, owner, "  Harbours   at  dawn ")
    for n, asset in enumerate(pictures):
        assert add(engine, owner, board_id, [asset.id], at=NOW + timedelta(minutes=n)) == 1
    assert add(engine, owner, board_id, [pictures[0].id]) == 0  # already there
    assert on_board(engine, owner, board_id) == [a.id for a in reversed(pictures)]
    with session_scope(engine) as session:
        boards.rename_board(session, owner_id=owner.id, board_id=board_id, name="Ports")
    with read_scope(engine) as session:
        [summary] = boards.list_boards(session, owner_id=owner.id)
    assert (summary.board.name, summary.pictures) == ("Ports", 3)
    with session_scope(engine) as session:
        removed = boards.remove_pictures(
            session, owner_id=owner.id, board_id=board_id, asset_ids=[pictures[1].id]
        )
    assert removed == 1
    assert on_board(engine, owner, board_id) == [pictures[2].id, pictures[0].id]
    with session_scope(engine) as session:
        boards.delete_board(session, owner_id=owner.id, board_id=board_id)
    with read_scope(engine) as session:
        assert boards.list_boards(session, owner_id=owner.id) == []
        assert session.exec(select(BoardItem)).all() == []
        assert len(session.exec(select(Asset)).all()) == 3  # the pictures stay


def test_board_pages_by_keyset(engine):
    owner = make_user(engine)
    pictures = [make_asset(engine, owner) for _ in range(5)]
    board_id = new_board(engine, owner)
    add(engine, owner, board_id, [a.id for a in pictures])  # one instant: ties by id
    seen, cursor = [], None
    with read_scope(engine) as session:
        while True:
            page = boards.board_pictures(
                session, owner_id=owner.id, board_id=board_id, cursor=cursor, limit=2
            )
            seen += [a.id for a in page.items]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
    assert seen == sorted((a.id for a in pictures), reverse=True)


@pytest.mark.parametrize("name", ["", "   ", "x" * 81, "bad\x00name"])
def test_a_bad_board_name_is_refused_with_a_message(engine, name):
    owner = make_user(engine)
    with pytest.raises(ValidationFailed), session_scope(engine) as session:
        boards.create_board(session, owner_id=owner.id, name=name, now=NOW)


def test_a_second_board_of_the_same_name_is_refused(engine):
    owner, other = make_user(engine), make_user(engine)
    new_board(engine, owner, "Harbours")
    with pytest.raises(ValidationFailed, match="already"), session_scope(engine) as session:
        boards.create_board(session, owner_id=owner.id, name="harbours", now=NOW)
    new_board(engine, other, "Harbours")  # another user's names are theirs


def test_another_user_can_neither_see_nor_fill_nor_share_a_board(engine):
    owner, stranger = make_user(engine), make_user(engine)
    board_id = new_board(engine, owner)
    theirs = make_asset(engine, stranger)
    add(engine, owner, board_id, [make_asset(engine, owner).id])
    attempts = [
        lambda s: boards.board_pictures(s, owner_id=stranger.id, board_id=board_id),
        lambda s: boards.add_pictures(
            s, owner_id=stranger.id, board_id=board_id, asset_ids=[theirs.id], now=NOW
        ),
        lambda s: boards.remove_pictures(s, owner_id=stranger.id, board_id=board_id, asset_ids=[]),
        lambda s: boards.rename_board(s, owner_id=stranger.id, board_id=board_id, name="Mine"),
        lambda s: boards.delete_board(s, owner_id=stranger.id, board_id=board_id),
        lambda s: boards.share_board(
            s, owner_id=stranger.id, board_id=board_id, signer=SIGNER, now=NOW
        ),
        lambda s: boards.revoke_board_links(s, owner_id=stranger.id, board_id=board_id, now=NOW),
    ]
    for attempt in attempts:
        with pytest.raises(NotFound), session_scope(engine) as session:
            attempt(session)
    with read_scope(engine) as session:
        assert boards.list_boards(session, owner_id=stranger.id) == []
    assert len(on_board(engine, owner, board_id)) == 1


def test_only_pictures_the_owner_may_see_go_on_a_board_all_or_none(engine):
    owner, stranger = make_user(engine), make_user(engine)
    board_id = new_board(engine, owner)
    own_private = make_asset(engine, owner, visibility=Visibility.PRIVATE)
    their_public = make_asset(engine, stranger)
    their_private = make_asset(engine, stranger, visibility=Visibility.PRIVATE)
    with pytest.raises(NotFound), session_scope(engine) as session:
        boards.add_pictures(
            session,
            owner_id=owner.id,
            board_id=board_id,
            asset_ids=[own_private.id, their_private.id],
            now=NOW,
        )
    assert on_board(engine, owner, board_id) == []
    assert add(engine, owner, board_id, [own_private.id, their_public.id]) == 2
    with session_scope(engine) as session:  # the stranger makes theirs private afterwards
        asset = session.get(Asset, their_public.id)
        asset.visibility = Visibility.PRIVATE
        session.add(asset)
    assert on_board(engine, owner, board_id) == [own_private.id]


def test_bulk_move_puts_the_selection_on_a_board_and_off_the_one_it_came_from(engine):
    owner, stranger = make_user(engine), make_user(engine)
    picked = [make_asset(engine, owner) for _ in range(3)]
    inbox, keep = new_board(engine, owner, "Inbox"), new_board(engine, owner, "Keep")
    add(engine, owner, inbox, [a.id for a in picked])
    with session_scope(engine) as session:
        moved = boards.move_pictures(
            session,
            owner_id=owner.id,
            asset_ids=[a.id for a in picked[:2]],
            to_board_id=keep,
            from_board_id=inbox,
            now=NOW,
        )
    assert moved == 2
    assert set(on_board(engine, owner, keep)) == {a.id for a in picked[:2]}
    assert on_board(engine, owner, inbox) == [picked[2].id]
    strangers = new_board(engine, stranger, "Theirs")
    with pytest.raises(NotFound), session_scope(engine) as session:
        boards.move_pictures(  # onto a board that is not the mover's
            session,
            owner_id=owner.id,
            asset_ids=[picked[2].id],
            to_board_id=strangers,
            from_board_id=inbox,
            now=NOW,
        )
    assert on_board(engine, owner, inbox) == [picked[2].id]


def test_a_board_link_shows_only_public_safe_pictures_until_revoked(engine):
    owner, stranger = make_user(engine), make_user(engine)
    board_id = new_board(engine, owner)
    shown = {
        "public": make_asset(engine, owner),
        "own unlisted": make_asset(engine, owner, visibility=Visibility.UNLISTED),
        "theirs public": make_asset(engine, stranger),
    }
    held = {
        "private": make_asset(engine, owner, visibility=Visibility.PRIVATE),
        "pending": make_asset(engine, owner, screening=Screening.PENDING),
        "hidden": make_asset(engine, owner, hidden=True),
        "unlisted pending": make_asset(
            engine, owner, visibility=Visibility.UNLISTED, screening=Screening.PENDING
        ),
    }
    add(engine, owner, board_id, [a.id for a in [*shown.values(), *held.values()]])
    with session_scope(engine) as session:
        link = boards.share_board(
            session, owner_id=owner.id, board_id=board_id, signer=SIGNER, now=NOW
        )
    assert boards.board_url("https://kings.example", link).startswith(
        "https://kings.example/board?token="
    )
    with read_scope(engine) as session:
        board = boards.resolve_board_link(session, token=link, signer=SIGNER)
        page = boards.shared_pictures(session, board=board, limit=50)
    assert {a.id for a in page.items} == {a.id for a in shown.values()}
    forged = link[:-1] + ("0" if link[-1] != "0" else "1")
    for bad in (forged, "", "not-a-link", link.split(".")[0] + ".abc"):
        with pytest.raises(NotFound), read_scope(engine) as session:
            boards.resolve_board_link(session, token=bad, signer=SIGNER)
    with session_scope(engine) as session:
        revoked = boards.revoke_board_links(session, owner_id=owner.id, board_id=board_id, now=NOW)
    assert revoked == 1
    with pytest.raises(NotFound), read_scope(engine) as session:
        boards.resolve_board_link(session, token=link, signer=SIGNER)


def test_a_deleted_picture_leaves_every_board(engine, tmp_path):
    owner = make_user(engine)
    asset = make_asset(engine, owner)
    board_id = new_board(engine, owner)
    add(engine, owner, board_id, [asset.id])
    with session_scope(engine) as session:
        library.delete_asset(session, owner_id=owner.id, asset_id=asset.id, media=tmp_path)
    assert on_board(engine, owner, board_id) == []


def test_a_deep_board_page_is_one_statement_across_ties_and_older_additions(engine):
    owner = make_user(engine)
    pictures = [make_asset(engine, owner) for _ in range(6)]
    board_id = new_board(engine, owner)
    add(engine, owner, board_id, [a.id for a in pictures[:3]])
    add(engine, owner, board_id, [a.id for a in pictures[3:]], at=NOW + timedelta(minutes=1))
    with read_scope(engine) as session:
        first = boards.board_pictures(session, owner_id=owner.id, board_id=board_id, limit=2)
        with statements_sent(engine) as sent:  # the cursor is inside the newer instant: its
            deep = boards.board_pictures(  # last tie, then the older ones
                session, owner_id=owner.id, board_id=board_id, cursor=first.next_cursor, limit=3
            )
    statements = [s for s, _ in sent if "FROM boarditem" in s]
    assert [a.id for a in first.items + deep.items] == [a.id for a in reversed(pictures)][:5]
    assert len(statements) == 1
