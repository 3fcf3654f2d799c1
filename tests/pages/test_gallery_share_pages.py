"""The Gallery and Share pages through their widgets: paging, owner controls, share, report."""

import hashlib
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlmodel import select

from core.comfy.presets import Presets
from core.config import get_settings
from core.db import read_scope, session_scope
from core.errors import NotFound
from core.gallery import details, library, listing, moderation, sharing
from core.gallery.sharing import ShareSigner
from core.models import Asset, Report, Role, Screening, User, Visibility
from testing.factories import make_job, make_user
from tests.pages.actions import click
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
    app.selectbox(key="share_report_reason").select("non-consensual or real person").run()
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
    app = click(app, "Keep it")  # asked first; nothing deleted
    with read_scope(web_engine) as session:
        assert session.get(Asset, drop) is not None
    app = click(app, "Delete")
    assert "for good" in app.warning[0].value
    app = click(app, "Yes, delete it")
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
    report = [b for b in app.button if b.label == "Report"][0]
    assert report.disabled  # no reason is chosen for the viewer, least of all the gravest
    assert app.selectbox(key="report_reason").value is None
    app.selectbox(key="report_reason").select("spam").run()
    app = click(app, "Report")
    assert not app.exception
    with read_scope(web_engine) as session:
        assert session.get(Asset, asset_id).hidden is True
        assert session.exec(select(Report)).one().reason == "spam"


def test_a_markdown_title_is_shown_literally_everywhere(signed_in, web_engine):
    app = signed_in("views/gallery.py")
    title = "![x](http://203.0.113.9/pixel.png) **bold** :red[red] $x$"
    picture(web_engine, title)
    app.run()
    caption = [c for c in captions(app) if "·" in c][0]
    # every punctuation mark is escaped, so the markdown renderer shows the characters
    assert caption.startswith(r"\!\[x\]\(http\:\/\/203\.0\.113\.9\/pixel\.png\) \*\*bold\*\*")
    assert r"\:red\[red\] \$x\$" in caption
    app = open_first(app)
    assert not app.exception
    assert any(c.startswith(r"\!\[x\]") for c in captions(app) if "·" not in c)


def test_the_viewer_shows_how_a_picture_was_made_to_its_owner_and_others_only_if_allowed(
    signed_in, web_engine
):
    app = signed_in("views/gallery.py")
    with session_scope(web_engine) as session:
        owner = session.exec(select(User)).one()
    job = make_job(web_engine, owner, prompt="a lighthouse at dusk", seed=424242, preset="low")
    asset_id = picture(web_engine, "Lighthouse", public=True)
    with session_scope(web_engine) as session:
        asset = session.get(Asset, asset_id)
        asset.job_id = job.id
        session.add(asset)
    app.run()
    app = open_first(app)
    assert not app.exception
    facts = [c for c in captions(app) if "Seed" in c][0]
    assert "Seed: 424242" in facts and "Steps: " in facts and "Model: sdxl" in facts
    assert app.text_area(key="g_made_prompt").value == "a lighthouse at dusk"

    stranger = make_user(web_engine)

    def seen_by_stranger():
        with read_scope(web_engine) as session:
            return details.made_with(
                session,
                viewer_id=stranger.id,
                asset=session.get(Asset, asset_id),
                presets=Presets.load(),
            )

    assert seen_by_stranger() is None  # until the owner allows it
    with session_scope(web_engine) as session:
        library.set_recipe_public(session, owner_id=owner.id, asset_id=asset_id, public=True)
    assert seen_by_stranger().prompt == "a lighthouse at dusk"


def test_filters_beyond_show_sort_and_search_are_folded_away(signed_in, web_engine):
    app = signed_in("views/gallery.py")
    app.run()
    assert [e.label for e in app.expander][:1] == ["More filters"]
    assert app.selectbox(key="g_category") in app.expander[0].selectbox


def test_owner_edits_title_category_and_tags_and_each_filter_finds_it(signed_in, web_engine):
    app = signed_in("views/gallery.py")
    asset_id = picture(web_engine, "Untitled draft")
    app.run()
    app = open_first(app)
    form = [t for t in app.text_input if t.label == "Title"][0]
    form.input("Harbour lights")
    [s for s in app.selectbox if s.label == "Category"][-1].select("cinematic")
    [m for m in app.multiselect if m.label == "Tags"][0].select("neon").select("golden-hour")
    app = [b for b in app.button if b.label == "Save"][0].click().run()
    assert not app.exception
    with read_scope(web_engine) as session:
        asset = session.get(Asset, asset_id)
        assert (asset.title, asset.category) == ("Harbour lights", "cinematic")
        assert library.tags_of(session, asset_id=asset_id) == ["golden-hour", "neon"]
        for filters in ({"category": "cinematic"}, {"tag": "neon"}, {"search": "harbour"}):
            page = listing.list_assets(session, viewer_id=asset.owner_id, scope="mine", **filters)
            assert [a.id for a in page.items] == [asset_id]


def test_owner_selects_pictures_and_files_them_in_bulk(signed_in, web_engine):
    app = signed_in("views/gallery.py")
    ids = [picture(web_engine, f"bulk {n}", colour=n, minutes=n) for n in range(3)]
    app.run()
    for asset_id in ids[:2]:
        app.checkbox(key=f"sel_{asset_id}").check()
    app.run()
    assert "2 selected" in [e.label for e in app.expander]
    app.selectbox(key="bulk_category").select("portrait")
    app.multiselect(key="bulk_tags").select("moody")
    app = app.run().button(key="bulk_file").click().run()
    assert not app.exception
    with read_scope(web_engine) as session:
        owner = session.get(Asset, ids[0]).owner_id
        page = listing.list_assets(session, viewer_id=owner, scope="mine", tag="moody")
        assert {a.id for a in page.items} == set(ids[:2])
    app = app.button(key="bulk_delete").click().run()
    app = app.button(key="bulk_delete_yes").click().run()
    with read_scope(web_engine) as session:
        assert [session.get(Asset, i) is None for i in ids] == [True, True, False]


def _image_urls(app):
    return [image.proto.imgs[0].url for image in app.get("image")]


def test_with_media_store_s3_the_gallery_shows_pictures_by_presigned_url(
    s3_env, signed_in, web_engine
):
    app = signed_in("views/gallery.py")
    asset_id = picture(web_engine, "From the bucket")
    app.run()
    assert not app.exception
    [thumb] = _image_urls(app)
    assert thumb.startswith(s3_env.endpoint_url) and "X-Amz-Signature=" in thumb
    with read_scope(web_engine) as session:
        asset = session.get(Asset, asset_id)
    answer = httpx.get(thumb)
    assert answer.status_code == 200
    assert hashlib.sha256(answer.content).hexdigest() == asset.thumb_sha256
    app = open_first(app)
    assert not app.exception
    full = [url for url in _image_urls(app) if asset.sha256 in url]
    assert full and httpx.get(full[0]).content[:8] == b"\x89PNG\r\n\x1a\n"
    [download] = app.get("link_button")
    assert "response-content-disposition=attachment" in download.proto.url


def test_with_the_local_store_the_gallery_sends_the_bytes(signed_in, web_engine):
    app = signed_in("views/gallery.py")
    picture(web_engine, "From the disk")
    app.run()
    app = open_first(app)
    assert not app.exception
    urls = _image_urls(app)  # the bytes, served by Streamlit itself (its media endpoint)
    assert urls and all("/media/" in url and "X-Amz" not in url for url in urls)
    assert not app.get("link_button") and app.get("download_button")
