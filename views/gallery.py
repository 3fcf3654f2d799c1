"""Gallery: your pictures and the public ones, filtered, sorted and paged by keyset."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import streamlit as st
from sqlmodel import Session

from core.gallery import boards, engagement, library, listing, moderation, sharing
from core.gallery.taxonomy import normalize_tags
from core.models import Asset, MediaKind, Visibility
from core.muses import service as muses
from ui import db, media, recipe, resources
from ui import facets as facet_cache
from ui.auth import is_admin, require_user
from ui.gallery_upload import upload_form
from ui.muse_pin import pin_to_muse
from ui.widgets import KeysetPager, date_range, md_literal, report_picture

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
        column.image(media.thumbnail(asset), width="stretch")
        column.caption(md_literal(asset.title or "Untitled"))

# Only what most visits change sits above the pictures; the rest folds away (on a phone the
# full filter set was 1,550 px tall before the first picture).
filters = st.columns([2, 2, 3])
scope = filters[0].segmented_control("Show", SCOPES, default="mine", key="g_scope")
sort = filters[1].selectbox(
    "Sort",
    SORTS,
    format_func=lambda s: s.replace("_", " "),
    key="g_sort",
)
search = filters[2].text_input(
    "Search titles and tags",
    key="g_search",
    max_chars=100,
    help="Titles need 3 characters or more; a shorter word matches tags only.",
)


def chosen_filters(category: str | None, tag: str | None) -> dict[str, Any]:
    """The listing's filters as the listing and its facet counts take them: `category` and
    `tag` as given, the others as chosen on this run."""
    return {
        "viewer_id": user_id,
        "scope": scope or "mine",
        "category": taxonomy.category_names(category) if category else None,
        "tag": taxonomy.tag_names(tag) if tag else None,
        "kind": kind,
        "muse_id": muse_id,
        "since": since,
        "until": until,
        "search": search or None,
    }


with st.expander("More filters"):
    more = st.columns(3)
    kinds = {"All": None, "Images": MediaKind.IMAGE, "Videos": MediaKind.VIDEO}
    kind = kinds[more[1].selectbox("Type", list(kinds), key="g_kind")]
    with db.reading() as session:
        my_muses = {"Any muse": None} | {
            m.name: m.id for m in muses.list_muses(session, owner_id=user_id, limit=200)
        }
    muse_id = my_muses[more[2].selectbox("Muse", list(my_muses), key="g_muse")]
    since, until = date_range("Created between", key="g_dates")
    # The counts beside each category and tag: what choosing it would show, the other
    # filters as they are (the other facet's choice read from this run's state).
    categories = {"All": None} | {c.label: c.slug for c in taxonomy.categories}
    chosen_category = categories.get(st.session_state.get("g_category", "All"))
    chosen_tag = st.session_state.get("g_tag")
    facets = facet_cache.counts(**chosen_filters(chosen_category, chosen_tag))
    category = categories[
        more[0].selectbox(
            "Category",
            list(categories),
            format_func=lambda label: (
                label
                if categories[label] is None
                else f"{label} ({facets.categories.get(categories[label] or '', 0)})"
            ),
            key="g_category",
        )
    ]
    tag = st.pills(
        "Tag",
        taxonomy.tags,
        format_func=lambda name: f"{name} ({facets.tags.get(name, 0)})",
        key="g_tag",
    )

pager: KeysetPager[str] = KeysetPager(
    f"g_cursors:{scope}:{sort}:{category}:{kind}:{search}:{tag}:{muse_id}:{since}:{until}"
)
with db.reading() as session:
    page = listing.list_assets(
        session, sort=sort, cursor=pager.cursor, limit=12, **chosen_filters(category, tag)
    )

if not page.items:
    st.info("Nothing here yet." if scope == "mine" else "No public pictures match.")


def _asset_card(asset: Asset) -> None:
    st.image(media.thumbnail(asset), width="stretch")
    stars = f"{asset.rating_sum / asset.rating_count:.1f}★" if asset.rating_count else "unrated"
    video = "▶ video · " if asset.kind is MediaKind.VIDEO else ""
    st.caption(
        f"{video}{md_literal(asset.title or 'Untitled')} · {stars} · {asset.view_count} views"
    )
    if st.button("Open", key=f"open_{asset.id}"):
        st.session_state["g_open"] = asset.id
    if scope == "mine":
        st.checkbox("Select", key=f"sel_{asset.id}")


for row_start in range(0, len(page.items), 4):
    for column, asset in zip(st.columns(4), page.items[row_start : row_start + 4], strict=False):
        with column:
            _asset_card(asset)

pager.controls(page.next_cursor, key="g", back="← Back", forward="More →")
with st.expander("Upload pictures or videos"):
    upload_form(user_id=user_id, key="g_upload")


def _my_boards() -> dict[int, str]:
    with db.reading() as session:
        return {
            s.board.id or 0: s.board.name for s in boards.list_boards(session, owner_id=user_id)
        }


def _move_to_board(selected: list[int]) -> None:
    """Put every selected picture on one of the viewer's boards."""
    names = _my_boards()
    target = st.selectbox(
        "Move to a board",
        list(names),
        format_func=lambda board_id: names[board_id],
        index=None,
        placeholder="Choose a board (make boards on the Boards page)",
        key="bulk_board",
    )
    if st.button("Move to board", key="bulk_board_go", disabled=target is None) and target:
        moved = db.attempt(
            lambda session, now: boards.move_pictures(
                session,
                owner_id=user_id,
                asset_ids=selected,
                to_board_id=target,
                from_board_id=None,
                now=now,
            )
        )
        if moved:
            st.toast(f"Put {moved.value} pictures on {names[target]}.")


def _bulk_actions(selected: list[int]) -> None:
    """Visibility, category and tags, or deletion for every selected picture at once."""
    with st.expander(f"{len(selected)} selected", expanded=True):
        left, right = st.columns(2)
        visibility = left.segmented_control(
            "Visibility", [v.value for v in Visibility], key="bulk_vis"
        )
        if left.button("Set visibility", key="bulk_vis_go", disabled=not visibility) and visibility:
            with db.writing() as (session, now):
                library.set_visibility_many(
                    session,
                    owner_id=user_id,
                    asset_ids=selected,
                    visibility=Visibility(visibility),
                    now=now,
                )
            st.toast(f"Saved {len(selected)} pictures.")
        labels = {c.slug: c.label for c in taxonomy.categories}
        category = right.selectbox(
            "Category",
            list(labels),
            format_func=lambda slug: labels[slug],
            index=None,
            key="bulk_category",
        )
        tags = right.multiselect("Add tags", taxonomy.tags, key="bulk_tags")
        if right.button("File them", key="bulk_file", disabled=not (category or tags)):
            with db.writing() as (session, _now):
                library.set_category_tags_many(
                    session, owner_id=user_id, asset_ids=selected, category=category, add_tags=tags
                )
            st.toast(f"Filed {len(selected)} pictures.")
        _move_to_board(selected)
        if st.button("Delete selected", key="bulk_delete"):
            st.session_state["bulk_deleting"] = True
        if st.session_state.get("bulk_deleting"):
            st.warning(f"Delete {len(selected)} pictures for good?")
            if st.button("Yes, delete them", type="primary", key="bulk_delete_yes"):
                st.session_state.pop("bulk_deleting", None)
                if db.attempt(
                    lambda session, _now: library.delete_many(
                        session, owner_id=user_id, asset_ids=selected, media=resources.media_store()
                    )
                ):
                    st.rerun()
            if st.button("Keep them", key="bulk_delete_no"):
                st.session_state.pop("bulk_deleting", None)
                st.rerun()


chosen = [a.id or 0 for a in page.items if st.session_state.get(f"sel_{a.id}")]
if scope == "mine" and chosen:
    _bulk_actions(chosen)


def _close_asset() -> None:
    st.session_state.pop("g_open", None)
    st.session_state.pop("g_deleting", None)


def _viewed(session: Session, asset_id: int, now: datetime) -> Asset:
    """The asset the viewer may see, its view counted."""
    asset = listing.get_asset(session, viewer_id=user_id, asset_id=asset_id)
    engagement.record_view(session, asset_id=asset_id, viewer_id=user_id, now=now)
    return asset


# The open picture stays in session state until the dialog is dismissed, so a click inside
# the dialog (rate, share, delete, report) finds it again on the next run.
@st.dialog("Picture", width="large", on_dismiss=_close_asset)
def open_asset(asset_id: int) -> None:
    """One asset: full size or video, rating, sharing, reporting, and owner controls."""
    viewed = db.attempt(lambda session, now: _viewed(session, asset_id, now))
    if not viewed:
        return
    asset = viewed.value
    media.show(asset)  # an MP4 in the player; an animated WebP animates in place
    st.caption(md_literal(asset.title or "Untitled"))
    media.download_button(asset)
    recipe.made_with(user_id, asset, key="g_made")
    _board_controls(asset)
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

    def send_report(session: Session, now: datetime, reason: str, details: str) -> None:
        moderation.report_asset(
            session,
            asset_id=asset.id or 0,
            reporter_id=user_id,
            reason=reason,
            details=details,
            now=now,
        )

    report_picture("report", send_report)


def _board_controls(asset: Asset) -> None:
    """Which of the viewer's boards hold the picture, and putting it on another."""
    names = _my_boards()
    with db.reading() as session:
        holding = boards.boards_holding(session, owner_id=user_id, asset_id=asset.id or 0)
    if holding:
        st.caption("On your boards: " + ", ".join(md_literal(names[i]) for i in holding))
    others = [board_id for board_id in names if board_id not in holding]
    if not others:
        return
    left, right = st.columns([3, 1])
    target = left.selectbox(
        "Add to a board",
        others,
        format_func=lambda board_id: names[board_id],
        index=None,
        key=f"board_add_{asset.id}",
    )
    if right.button("Add", key=f"board_add_go_{asset.id}", disabled=target is None) and target:
        with db.writing() as (session, now):
            boards.add_pictures(
                session, owner_id=user_id, board_id=target, asset_ids=[asset.id or 0], now=now
            )
        st.toast(f"Added to {names[target]}.")


def _edit_form(asset: Asset) -> None:
    """Title, category and tags of one picture (free tags allowed, cleaned on save)."""
    with db.reading() as session:
        current = library.tags_of(session, asset_id=asset.id or 0)
    labels = {c.slug: c.label for c in taxonomy.categories}
    with st.form(f"edit_{asset.id}"):
        title = st.text_input("Title", asset.title, max_chars=200)
        slugs = list(labels)
        category = st.selectbox(
            "Category",
            slugs,
            index=slugs.index(asset.category) if asset.category in labels else None,
            format_func=lambda slug: labels[slug],
        )
        tags = st.multiselect(
            "Tags",
            list(dict.fromkeys([*taxonomy.tags, *current])),
            default=current,
            accept_new_options=True,
            max_selections=20,
        )
        if st.form_submit_button("Save"):
            with db.writing() as (session, _now):
                library.set_title_tags(
                    session,
                    owner_id=user_id,
                    asset_id=asset.id or 0,
                    title=title,
                    tags=normalize_tags(tags),
                    category=category,
                )
            st.toast("Saved.")


def _owner_controls(asset: Asset) -> None:
    _edit_form(asset)
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
    shared_recipe = st.toggle(
        "Let others see how it was made (prompts and settings) and remix it",
        value=asset.recipe_public,
        key=f"recipe_{asset.id}",
    )
    if shared_recipe != asset.recipe_public:
        with db.writing() as (session, _now):
            library.set_recipe_public(
                session, owner_id=user_id, asset_id=asset.id or 0, public=shared_recipe
            )
        st.toast("Saved.")
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
    # Two steps: a dialog cannot open a confirmation dialog of its own.
    if st.button("Delete", key=f"delete_{asset.id}"):
        st.session_state["g_deleting"] = asset.id
    if st.session_state.get("g_deleting") == asset.id:
        st.warning("Delete this picture for good? Its share links stop working.")
        yes, no = st.columns(2)
        if yes.button("Yes, delete it", type="primary", key=f"delete_yes_{asset.id}"):
            with db.writing() as (session, _now):
                library.delete_asset(
                    session,
                    owner_id=user_id,
                    asset_id=asset.id or 0,
                    media=resources.media_store(),
                )
            st.session_state.pop("g_deleting", None)
            st.session_state.pop("g_open", None)
            st.rerun()
        if no.button("Keep it", key=f"delete_no_{asset.id}"):
            st.session_state.pop("g_deleting", None)
            st.rerun()


if "g_open" in st.session_state:
    open_asset(st.session_state["g_open"])
