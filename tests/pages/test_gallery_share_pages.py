"""The Gallery and Share pages through their widgets: paging, owner controls, share, report."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from core.config import get_settings
from core.db import read_scope, session_scope
from core.errors import NotFound
from core.gallery import moderation, sharing
from core.gallery.sharing import ShareSigner
from core.models import Asset, Report, Role, Screening, Visibility
from testing.factories import make_user
from tests.pages.conftest import ROOT, store_picture


def picture(engine, title, *, colour=0, public=False, minutes=0):
    with session_scope(engine) as session:
        asset = store_picture(
            session,
            title=title,
            colour=(colour % 256, 40, 90),
            at=datetime.now(UTC) - timedelta(hours=1) + timedelta(minutes=minutes),
        )
        if public:
            asset.visibility, asset.screening = Visibility.PUBLIC, Screening.PASSED
        session.add(asset)
        session.flush()
        return asset.id


def captions(app):
    return [c.value for c in app.caption]


def click(app, label):
    [b for b in app.button if b.label == label][0].click()
    return app.run()


def open_first(app):
    return click(app, "Open")


def test_gallery_pages_by_keyset_forward_and_back(signed_in, web_engine):
    app = signed_in("views/gallery.py")
    for n in range(14):
        picture(web_engine, f"harbour {n:02d}", colour=n, minutes=n)
    app.run()
    first = [c for c in captions(app) if "harbour" in c]
    assert len(first) == 12 and "harbour 13" in first[0]
    app = click(app, "More →")
    second = [c for c in captions(app) if "harbour" in c]
    assert [c.split(" · ")[0] for c in second] == ["harbour 01", "harbour 00"]
    app = click(app, "← Back")
    assert [c for c in captions(app) if "harbour" in c] == first


def test_gallery_search_finds_by_title(signed_in, web_engine):
    app = signed_in("views/gallery.py")
    picture(web_engine, "Neon alley", colour=1)
    picture(web_engine, "Quiet forest", colour=2)
    app.run()
    app.text_input(key="g_search").input("forest").run()
    assert [c.split(" · ")[0] for c in captions(app) if "·" in c] == ["Quiet forest"]


def test_owner_shares_a_picture_and_the_link_opens_it_after_review(signed_in, web_engine):
    app = signed_in("views/gallery.py")
    asset_id = picture(web_engine, "Harbour at dawn")
    app.run()
    app = open_first(app)
    app = click(app, "Create share link")
    assert not app.exception
    link = app.code[0].value
    token = link.split("token=")[1]
    with read_scope(web_engine) as session:
        assert session.get(Asset, asset_id).visibility is Visibility.UNLISTED

    share = share_page(token).run()
    assert "waiting for review" in share.error[0].value
    moderator = make_user(
        web_engine, role=Role.ADMIN, username="moderator", email="mod@example.test"
    )
    with session_scope(web_engine) as session:
        moderation.approve_asset(
            session, asset_id=asset_id, moderator_id=moderator.id, now=datetime.now(UTC)
        )
    share = share_page(token).run()
    assert not share.exception and not share.error
    assert share.title[0].value == "Shared picture"


def test_a_share_link_starts_with_the_public_base_url(signed_in, web_engine, monkeypatch):
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://studio.example.test")
    app = signed_in("views/gallery.py")
    picture(web_engine, "Harbour at dawn")
    app.run()
    app = click(open_first(app), "Create share link")
    link = app.code[0].value
    assert link.startswith("https://studio.example.test/share?token=")
    token = link.split("token=")[1]
    with read_scope(web_engine) as session:
        signer = ShareSigner.from_secret(get_settings().cookie_key.get_secret_value())
        with pytest.raises(NotFound, match="waiting for review"):  # the link is ours and live
            sharing.resolve_share(session, token=token, signer=signer)


def share_page(token):
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(str(ROOT / "views/share.py"), default_timeout=30)
    app.query_params["token"] = token
    return app


@pytest.mark.parametrize("token", ["", "forged.0000", "x" * 300])
def test_share_page_refuses_bad_links(web_engine, token):
    app = share_page(token).run()
    assert not app.exception
    assert app.error[0].value == "This link is not valid."
    assert not app.get("image")


def test_a_share_link_visitor_reports_and_the_picture_is_hidden(signed_in, web_engine):
    signed_in("views/gallery.py")  # creates the owner
    asset_id = picture(web_engine, "Harbour at dawn", public=True)
    with session_scope(web_engine) as session:
        token = sharing.create_share_link(
            session,
            owner_id=1,
            asset_id=asset_id,
            signer=ShareSigner.from_secret(get_settings().cookie_key.get_secret_value()),
            now=datetime.now(UTC),
        )
    app = share_page(token).run()
    app.selectbox(key="share_report_reason").select("non-consensual or real person")
    app = click(app, "Report")
    assert "Reported." in app.success[0].value
    with read_scope(web_engine) as session:
        assert session.get(Asset, asset_id).hidden is True
        assert session.exec(select(Report)).one().reason == "non-consensual or real person"
    assert share_page(token).run().error[0].value == "This link is not valid."


def test_owner_makes_a_picture_public_and_deletes_another(signed_in, web_engine):
    app = signed_in("views/gallery.py")
    keep = picture(web_engine, "Keep me", colour=1)
    drop = picture(web_engine, "Drop me", colour=2, minutes=5)
    app.run()
    app = open_first(app)  # newest first: "Drop me"
    app = click(app, "Delete")
    assert not app.exception
    app = open_first(app)  # now "Keep me"
    app.segmented_control(key=f"vis_{keep}").set_value("public").run()
    assert not app.exception
    with read_scope(web_engine) as session:
        assert session.get(Asset, drop) is None
        assert session.get(Asset, keep).visibility is Visibility.PUBLIC


def test_a_viewer_reports_a_public_picture_from_the_gallery(signed_in, web_engine):
    app = signed_in("views/gallery.py")
    asset_id = picture(web_engine, "Public harbour", public=True)
    app.run()
    app = open_first(app)
    app = click(app, "Report")
    assert not app.exception
    with read_scope(web_engine) as session:
        assert session.get(Asset, asset_id).hidden is True
