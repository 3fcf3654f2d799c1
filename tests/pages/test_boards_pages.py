"""The Boards page, a board opened by its link (no account), and uploads into the gallery,
through the real page scripts."""

from datetime import UTC, datetime

import pytest
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from core.db import read_scope, session_scope
from core.errors import PolicyRefusal, ValidationFailed
from core.gallery import boards
from core.models import Asset, AuditEntry, Board, Screening, User, Visibility
from testing.factories import mp4_bytes, png_bytes
from tests.pages.actions import click
from tests.pages.conftest import ROOT, store_picture
from ui import gallery_upload, resources


def picture(engine, title, *, colour, visibility=Visibility.PUBLIC, screening=Screening.PASSED):
    with session_scope(engine) as session:
        asset = store_picture(session, title=title, colour=colour)
        asset.visibility, asset.screening = visibility, screening
        session.add(asset)
        session.flush()
        return asset.id


def make_board(app, name):
    app.text_input(key="board_new_name").input(name)
    return click(app, "Create board")


def board_page(token):
    app = AppTest.from_file(str(ROOT / "views/board.py"), default_timeout=30)
    app.query_params["token"] = token
    return app


def test_boards_page_creates_renames_and_shares_a_board_that_opens_without_an_account(
    signed_in, web_engine, monkeypatch
):
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://studio.example.test")
    app = signed_in("views/boards.py").run()
    assert not app.exception
    app = make_board(app, "Harbours")
    with read_scope(web_engine) as session:
        board = session.exec(select(Board)).one()
    shown = picture(web_engine, "![x](https://tracker.example/p.png) harbour", colour=(1, 2, 3))
    private = picture(
        web_engine, "private harbour", colour=(4, 5, 6), visibility=Visibility.PRIVATE
    )
    pending = picture(web_engine, "pending harbour", colour=(7, 8, 9), screening=Screening.PENDING)
    with session_scope(web_engine) as session:
        boards.add_pictures(
            session,
            owner_id=board.owner_id,
            board_id=board.id,
            asset_ids=[shown, private, pending],
            now=datetime.now(UTC),
        )
    app.run()
    assert "Harbours (3)" in app.selectbox(key="board_pick").options
    app.text_input(key=f"board_name_{board.id}").input("Ports")
    app = click(app, "Rename")
    assert "Ports (3)" in app.selectbox(key="board_pick").options
    app = click(app, "Create board link")
    link = app.code[0].value
    assert link.startswith("https://studio.example.test/board?token=")
    visitor = board_page(link.split("token=")[1]).run()  # no session: a visitor
    assert not visitor.exception
    assert visitor.title[0].value == "Ports"
    [grid] = visitor.get("image")
    assert grid.captions == [r"\!\[x\]\(https\:\/\/tracker\.example\/p\.png\) harbour"]
    app = click(app, "Revoke board links")
    visitor = board_page(link.split("token=")[1]).run()
    assert visitor.error[0].value == "This link is not valid."


def test_a_shared_board_shows_its_pictures_in_reading_order_one_image_list_a_column(
    signed_in, web_engine
):
    signed_in("views/boards.py")
    ids = [picture(web_engine, f"shot {n}", colour=(n, 9, 9)) for n in range(6)]
    with session_scope(web_engine) as session:
        owner_id = session.exec(select(User)).one().id
        board = boards.create_board(session, owner_id=owner_id, name="Six", now=datetime.now(UTC))
        for asset_id in ids:  # one at a time: the board lists the newest addition first
            boards.add_pictures(
                session,
                owner_id=owner_id,
                board_id=board.id,
                asset_ids=[asset_id],
                now=datetime.now(UTC),
            )
        link = boards.share_board(
            session,
            owner_id=owner_id,
            board_id=board.id,
            signer=resources.share_signer(),
            now=datetime.now(UTC),
        )
    visitor = board_page(link).run()
    assert not visitor.exception
    # four columns, read row by row: the newest six are 5 4 3 2 / 1 0
    assert [grid.captions for grid in visitor.get("image")] == [
        ["shot 5", "shot 1"],
        ["shot 4", "shot 0"],
        ["shot 3"],
        ["shot 2"],
    ]


@pytest.mark.parametrize("token", ["", "forged.0000", "x" * 300])
def test_board_page_refuses_bad_links(web_engine, token):
    app = board_page(token).run()
    assert not app.exception
    assert app.error[0].value == "This link is not valid."


def test_another_users_board_is_not_on_the_boards_page(signed_in, web_engine):
    app = signed_in("views/boards.py").run()
    with session_scope(web_engine) as session:
        owner = session.exec(select(User)).one()
        stranger = User(
            username="stranger",
            email="s@example.test",
            display_name="S",
            password_hash="x",
            date_of_birth=owner.date_of_birth,
        )
        session.add(stranger)
        session.flush()
        session.add(Board(owner_id=stranger.id, name="Their secret board"))
    app.run()
    assert not app.exception
    assert not app.get("selectbox")  # no boards of one's own: nothing to pick
    assert "Their secret board" not in str([m.value for m in [*app.markdown, *app.info]])


def test_gallery_bulk_move_to_a_board(signed_in, web_engine):
    app = signed_in("views/gallery.py")
    ids = [picture(web_engine, f"shot {n}", colour=(n, 9, 9)) for n in range(3)]
    with session_scope(web_engine) as session:
        owner = session.exec(select(User)).one()
        board_id = boards.create_board(
            session, owner_id=owner.id, name="Keep", now=datetime.now(UTC)
        ).id
    app.run()
    for asset_id in ids[:2]:
        app.checkbox(key=f"sel_{asset_id}").check()
    app.run()
    app.selectbox(key="bulk_board").select(board_id).run()
    app = click(app, "Move to board")
    assert not app.exception
    with read_scope(web_engine) as session:
        page = boards.board_pictures(session, owner_id=owner.id, board_id=board_id)
    assert sorted(a.id for a in page.items) == sorted(ids[:2])


def test_an_upload_shows_in_the_gallery_private_and_a_refusal_is_audited(signed_in, web_engine):
    app = signed_in("views/gallery.py").run()
    assert [b.label for b in app.button if b.label == "Upload"] == ["Upload"]
    with read_scope(web_engine) as session:
        owner = session.exec(select(User)).one()
    gallery_upload.store_upload(
        user_id=owner.id, data=png_bytes("maroon"), title="*my* upload", consent_given=True
    )
    gallery_upload.store_upload(
        user_id=owner.id, data=mp4_bytes(), title="a clip", consent_given=True
    )
    with pytest.raises(ValidationFailed, match="not a PNG"):
        gallery_upload.store_upload(user_id=owner.id, data=b"<html>", title="x", consent_given=True)
    with pytest.raises(PolicyRefusal):
        gallery_upload.store_upload(
            user_id=owner.id, data=png_bytes("olive"), title="x", consent_given=False
        )
    app.run()
    assert not app.exception
    captions = [c.value for c in app.caption if "·" in c.value]
    assert any(c.startswith(r"\*my\* upload") for c in captions)
    assert any(c.startswith("▶ video · a clip") for c in captions)
    with read_scope(web_engine) as session:
        stored = session.exec(select(Asset)).all()
        refusals = session.exec(
            select(AuditEntry).where(AuditEntry.target == "gallery.upload")
        ).all()
    assert {a.visibility for a in stored} == {Visibility.PRIVATE}
    assert len(stored) == 2 and len(refusals) == 1
    video = next(a for a in stored if a.mime == "video/mp4")
    open_video = [b for b in app.button if b.label == "Open"]
    assert open_video  # the dialog plays an MP4 in a video player
    app.session_state["g_open"] = video.id
    app.run()
    assert not app.exception
    assert app.get("video")
