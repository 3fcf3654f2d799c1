"""Gallery: your pictures and the public ones, filtered, sorted and paged by keyset."""

from __future__ import annotations

from typing import Literal

import streamlit as st

from core.errors import CoreError
from core.gallery import engagement, library, listing, moderation, sharing
from core.models import Asset, MediaKind, Visibility
from core.muses import service as muses
from ui import db, media, resources
from ui.auth import is_admin, require_user
from ui.muse_pin import pin_to_muse
from ui.widgets import KeysetPager, date_range, report_picture

SCOPES: list[Literal["mine", "public"]] = ["mine", "public"]
SORTS: list[listing.Sort] = ["newest", "top_rated", "trending", "most_viewed"]

user = require_user()
user_id = user.id or 0
settings = resources.settings()
taxonomy = resources.taxonomy()

st.title("Gallery")

with db.reading() as session:
    featured = listing.featured(session, limit=4)
if featured:
    st.subheader("Featured")
    for column, asset in zip(st.columns(4), featured, strict=False):
        column.image(
            media.read(asset.thumb_sha256 or asset.sha256), caption=asset.title, width="stretch"
        )

filters = st.columns([2, 2, 2, 2, 3])
scope = filters[0].segmented_control("Show", SCOPES, default="mine", key="g_scope")
sort = filters[1].selectbox(
    "Sort",
    SORTS,
    format_func=lambda s: s.replace("_", " "),
    key="g_sort",
)
categories = {"All": None} | {c.label: c.slug for c in taxonomy.categories}
category = categories[filters[2].selectbox("Category", list(categories), key="g_category")]
kinds = {"All": None, "Images": MediaKind.IMAGE, "Videos": MediaKind.VIDEO}
kind = kinds[filters[3].selectbox("Type", list(kinds), key="g_kind")]
search = filters[4].text_input("Search titles and tags", key="g_search", max_chars=100)
tag = st.pills("Tag", taxonomy.tags, key="g_tag")
more = st.columns([2, 3])
with db.reading() as session:
    my_muses = {"Any muse": None} | {
        m.name: m.id for m in muses.list_muses(session, owner_id=user_id, limit=200)
    }
muse_id = my_muses[more[0].selectbox("Muse", list(my_muses), key="g_muse")]
since, until = date_range("Created between", key="g_dates", where=more[1])

pager: KeysetPager[str] = KeysetPager(
    f"g_cursors:{scope}:{sort}:{category}:{kind}:{search}:{tag}:{muse_id}:{since}:{until}"
)
with db.reading() as session:
    page = listing.list_assets(
        session,
        viewer_id=user_id,
        scope=scope or "mine",
        category=category,
        tag=tag,
        kind=kind,
        muse_id=muse_id,
        since=since,
        until=until,
        search=search or None,
        sort=sort,
        cursor=pager.cursor,
        limit=12,
    )

if not page.items:
    st.info("Nothing here yet." if scope == "mine" else "No public pictures match.")


def _asset_card(asset: Asset) -> None:
    st.image(media.read(asset.thumb_sha256 or asset.sha256), width="stretch")
    stars = f"{asset.rating_sum / asset.rating_count:.1f}★" if asset.rating_count else "unrated"
    video = "▶ video · " if asset.kind is MediaKind.VIDEO else ""
    st.caption(f"{video}{asset.title or 'Untitled'} · {stars} · {asset.view_count} views")
    if st.button("Open", key=f"open_{asset.id}"):
        st.session_state["g_open"] = asset.id


for row_start in range(0, len(page.items), 4):
    for column, asset in zip(st.columns(4), page.items[row_start : row_start + 4], strict=False):
        with column:
            _asset_card(asset)

pager.controls(page.next_cursor, key="g", back="← Back", forward="More →")


def _close_asset() -> None:
    st.session_state.pop("g_open", None)


# The open picture stays in session state until the dialog is dismissed, so a click inside
# the dialog (rate, share, delete, report) finds it again on the next run.
@st.dialog("Picture", width="large", on_dismiss=_close_asset)
def open_asset(asset_id: int) -> None:
    """One asset: full size or video, rating, sharing, reporting, and owner controls."""
    try:
        with db.writing() as (session, now):
            asset = listing.get_asset(session, viewer_id=user_id, asset_id=asset_id)
            engagement.record_view(session, asset_id=asset_id, viewer_id=user_id, now=now)
    except CoreError as exc:
        st.error(str(exc))
        return
    data = media.read(asset.sha256)
    # Videos are animated WebP (ComfyUI's SaveAnimatedWEBP): the browser plays them in place.
    st.image(data, caption=asset.title, width="stretch")
    media.download_button(asset, data)
    stars = st.feedback("stars", key=f"rate_{asset.id}")
    if stars is not None:
        with db.writing() as (session, now):
            engagement.rate(
                session, asset_id=asset.id or 0, user_id=user_id, stars=stars + 1, now=now
            )
        st.toast("Thanks for rating.")
    if asset.owner_id == user_id:
        _owner_controls(asset)
        pin_to_muse(asset, user_id=user_id, key=f"gpin_{asset.id}")
    if is_admin(user) and st.button(
        "Unfeature" if asset.featured else "Feature on the front row", key=f"feature_{asset.id}"
    ):
        with db.writing() as (session, now):
            moderation.set_featured(
                session,
                asset_id=asset.id or 0,
                featured=not asset.featured,
                moderator_id=user_id,
                now=now,
            )
        st.toast("Saved.")

    def send_report(reason: str, details: str) -> None:
        with db.writing() as (session, now):
            moderation.report_asset(
                session,
                asset_id=asset.id or 0,
                reporter_id=user_id,
                reason=reason,
                details=details,
                now=now,
            )

    report_picture("report", send_report)


def _owner_controls(asset: Asset) -> None:
    visibility = st.segmented_control(
        "Visibility",
        [v.value for v in Visibility],
        default=asset.visibility.value,
        key=f"vis_{asset.id}",
    )
    if visibility and visibility != asset.visibility.value:
        with db.writing() as (session, now):
            library.set_visibility(
                session,
                owner_id=user_id,
                asset_id=asset.id or 0,
                visibility=Visibility(visibility),
                now=now,
            )
        st.toast("Public pictures appear after screening." if visibility == "public" else "Saved.")
    if st.button("Create share link", key=f"share_{asset.id}"):
        with db.writing() as (session, now):
            token = sharing.create_share_link(
                session,
                owner_id=user_id,
                asset_id=asset.id or 0,
                signer=resources.share_signer(),
                now=now,
            )
        st.code(sharing.share_url(settings.base_url, token))
        st.caption("Anyone with this link can see the picture once it passed review.")
    if st.button("Revoke share links", key=f"unshare_{asset.id}"):
        with db.writing() as (session, now):
            revoked = sharing.revoke_share(
                session, owner_id=user_id, asset_id=asset.id or 0, now=now
            )
        st.toast(f"Revoked {revoked} link(s).")
    if st.button("Delete", key=f"delete_{asset.id}"):
        with db.writing() as (session, _now):
            library.delete_asset(
                session, owner_id=user_id, asset_id=asset.id or 0, media_root=settings.media_root
            )
        st.session_state.pop("g_open", None)
        st.rerun()


if "g_open" in st.session_state:
    open_asset(st.session_state["g_open"])
