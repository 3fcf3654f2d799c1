"""One muse's own page: portrait and actions, then its profile, look-book, pictures,
variations and history. Alerts go above the tabs, so no refusal is hidden in one."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import streamlit as st
from sqlmodel import Session

from core.comfy.presets import Presets
from core.errors import NotFound
from core.models import Asset, GenerationJob, Muse, ReferenceImage
from core.muses import cards, lookbook, prompt, service
from core.muses.schema import VARIATION_FIELDS, MuseProfile, validate_profile
from core.studio import remix
from core.studio.compose import scene_of
from ui import db, media, resources, studio_prefill, widgets
from ui.muse_form import offered_choices, profile_form
from ui.references import upload_reference

VIEW = "m_view"
"""What the Muses page shows: None (the grid), "new", "import", or a muse id."""
_NOTICES = "m_notices"
THUMB_COLUMNS = 4
STUDIO_PAGE = studio_prefill.STUDIO_PAGE


def open_view(view: int | str | None) -> None:
    """Show `view` on the Muses page (rerunning now)."""
    st.session_state[VIEW] = view
    st.rerun()


def notify(message: str) -> None:
    """A confirmation shown at the top of the page's next run."""
    st.session_state.setdefault(_NOTICES, []).append(message)


def show_notices() -> None:
    """The confirmations stored by `notify`, once."""
    for message in st.session_state.pop(_NOTICES, []):
        st.success(message)


def studio_label(muse: Muse) -> str:
    """The muse's entry in the Studio's muse list."""
    return f"{muse.name} (#{muse.id})"


def _act(
    alerts: Any,
    action: Callable[[Session, datetime], object],
    done: str,
    *,
    target: str,
    user_id: int,
) -> None:
    """Run a muse use case, `action(session, now)`, as one unit of work; on success confirm
    and rerun, on refusal explain above the tabs (a content-policy one audited as `target`)."""
    if db.attempt(action, alerts=alerts, audited=(f"user:{user_id}", target)):
        notify(done)
        st.rerun()


def studio_values(muse: Muse, profile: MuseProfile, presets: Presets) -> dict[str, object]:
    """The Studio widget values that choose `muse` with its AI settings (and say which
    saved settings could not apply)."""
    defaults = prompt.studio_defaults(profile, presets, model=presets.default_model("image"))
    return {
        **studio_prefill.from_muse(defaults),
        "studio_muse": studio_label(muse),
        "studio_left_out": defaults.left_out,
    }


def detail_view(user_id: int, muse_id: int, *, presets: Presets) -> None:
    """The muse's page, or "No such muse" for one that is not the user's."""
    if st.button("← All muses", key="m_back"):
        open_view(None)
    try:
        with db.reading() as session:
            muse = service.get_muse(session, owner_id=user_id, muse_id=muse_id)
            profile = service.profile_of(muse)
            card = service.export_card(session, owner_id=user_id, muse_id=muse_id)
            refs = service.references(session, owner_id=user_id, muse_id=muse_id)
            shown = lookbook.portraits(session, owner_id=user_id, muse_ids=[muse_id])
    except NotFound:
        st.error("No such muse.")
        return
    portrait = media.read(shown[muse_id]) if muse_id in shown else None
    _header(user_id, muse, profile, portrait, card, presets)
    alerts = st.container()
    tabs = st.tabs(["Profile", "Look-book", "Pictures", "Variations", "History"])
    with tabs[0]:
        _profile_tab(alerts, user_id, muse, profile, presets)
    with tabs[1]:
        _lookbook_tab(alerts, user_id, muse, refs)
    with tabs[2]:
        _pictures_tab(alerts, user_id, muse, refs)
    with tabs[3]:
        _variations_tab(alerts, user_id, muse)
    with tabs[4]:
        _history_tab(user_id, muse)


def _header(
    user_id: int,
    muse: Muse,
    profile: MuseProfile,
    portrait: bytes | None,
    card: cards.CardData,
    presets: Presets,
) -> None:
    mid = muse.id or 0
    left, right = st.columns([1, 3])
    with left:
        if portrait is not None:
            st.image(portrait, width="stretch")
        else:
            st.caption("No portrait yet: pin a picture in the look-book.")
    with right:
        st.subheader(muse.name)
        facts = [f"{muse.age}", profile.basic.occupation, "explicit" if muse.nsfw else "standard"]
        st.caption(" · ".join([f for f in facts if f] + list(muse.tags)))
        studio, dup, delete = st.columns(3)
        if studio.button("Use in the Studio", type="primary", key=f"studio_{mid}"):
            studio_prefill.request(studio_values(muse, profile, presets))
            st.switch_page(STUDIO_PAGE)
        if dup.button("Duplicate", key=f"dup_{mid}"):
            with db.writing() as (session, now):
                copy = service.duplicate_muse(session, owner_id=user_id, muse_id=mid, now=now)
            notify(f"Duplicated as {copy.name}.")
            open_view(copy.id)
        if delete.button("Delete", key=f"del_{mid}"):
            widgets.ask_to_confirm(f"del_muse_{mid}")

        def really_delete() -> None:
            with db.writing() as (session, _now):
                service.delete_muse(session, owner_id=user_id, muse_id=mid)
            notify(f"Deleted {muse.name}.")
            open_view(None)

        widgets.confirmation(
            f"del_muse_{mid}",
            f"Delete {muse.name}? Its pictures stay in your gallery.",
            yes="Delete",
            on_yes=really_delete,
        )
        json_col, png_col = st.columns(2)
        json_col.download_button("Export JSON card", cards.export_json(card), f"muse-{mid}.json")
        png_col.download_button(
            "Export PNG card", cards.export_png(card, portrait), f"muse-{mid}.png"
        )


def _profile_tab(
    alerts: Any, user_id: int, muse: Muse, profile: MuseProfile, presets: Presets
) -> None:
    mid = muse.id or 0
    raw = profile_form(
        profile,
        list(muse.tags),
        key=f"edit_{mid}",
        offered=offered_choices(presets),
        submit_label="Save changes",
    )
    if raw is None:
        return

    def save(session: Session, now: datetime) -> None:
        edited = validate_profile(raw["profile"])
        service.update_muse(
            session, owner_id=user_id, muse_id=mid, profile=edited, tags=raw["tags"], now=now
        )

    _act(
        alerts,
        save,
        f"Saved {raw['profile']['basic']['name']}.",
        target="muse.save",
        user_id=user_id,
    )


def _thumb_grid(items: list[Any]) -> Iterator[tuple[Any, Any]]:
    """(item, column) pairs laying `items` out THUMB_COLUMNS to a row."""
    for start in range(0, len(items), THUMB_COLUMNS):
        row = items[start : start + THUMB_COLUMNS]
        yield from zip(row, st.columns(THUMB_COLUMNS), strict=False)


def _lookbook_tab(alerts: Any, user_id: int, muse: Muse, refs: list[ReferenceImage]) -> None:
    mid = muse.id or 0
    st.markdown(f"**References for IP-Adapter** ({len(refs)} of {service.MAX_REFERENCES})")
    if not refs:
        st.caption("None yet: pin one of your pictures below, or upload one.")
    for ref, column in _thumb_grid(refs):
        with column.container(border=True):
            st.image(media.source(ref.sha256), width="stretch")
            is_portrait = muse.portrait_sha256 == ref.sha256
            source = "your picture" if ref.asset_id is not None else "upload (consent given)"
            st.caption(("portrait · " if is_portrait else "") + source)
            if not is_portrait and st.button("Make portrait", key=f"portrait_{ref.id}"):

                def make_portrait(
                    session: Session, _now: datetime, ref_id: int = ref.id or 0
                ) -> None:
                    lookbook.set_portrait(
                        session, owner_id=user_id, muse_id=mid, reference_id=ref_id
                    )

                _act(
                    alerts, make_portrait, "Portrait set.", target="muse.portrait", user_id=user_id
                )
            if st.button("Remove", key=f"unpin_{ref.id}"):

                def remove(session: Session, _now: datetime, ref_id: int = ref.id or 0) -> None:
                    lookbook.remove_reference(session, owner_id=user_id, reference_id=ref_id)

                _act(alerts, remove, "Reference removed.", target="muse.reference", user_id=user_id)
    st.markdown("**Pin one of your pictures** (allowed in every mode: it shows no real person)")
    with db.reading() as session:
        pinnable = lookbook.pinnable_pictures(session, owner_id=user_id, muse_id=mid)
    if not pinnable:
        st.caption("Pictures you generate appear here.")
    for asset, column in _thumb_grid(pinnable):
        with column:
            _pin_button(alerts, user_id, mid, asset)
    st.markdown("**Upload a reference**")
    if muse.nsfw:
        st.caption(
            "Outside pictures cannot guide an explicit muse (they may show real people): "
            "pin your own pictures instead."
        )
        return
    if upload_reference(user_id=user_id, muse_id=mid, target="muse.reference", key=f"ref_{mid}"):
        notify("Reference added.")
        st.rerun()


def _pin_button(alerts: Any, user_id: int, muse_id: int, asset: Asset) -> None:
    st.image(media.thumbnail(asset), width="stretch")
    if st.button("Pin", key=f"pin_{asset.id}"):

        def pin(session: Session, now: datetime) -> None:
            lookbook.pin_picture(
                session, owner_id=user_id, muse_id=muse_id, asset_id=asset.id or 0, now=now
            )

        _act(alerts, pin, "Pinned to the look-book.", target="muse.pin", user_id=user_id)


def _pictures_tab(alerts: Any, user_id: int, muse: Muse, refs: list[ReferenceImage]) -> None:
    mid = muse.id or 0
    with db.reading() as session:
        pictures = lookbook.muse_pictures(session, owner_id=user_id, muse_id=mid)
    if not pictures:
        st.caption("None yet: use this muse in the Studio.")
    pinned = {ref.sha256 for ref in refs}
    for asset, column in _thumb_grid(pictures):
        with column:
            if asset.sha256 in pinned:
                st.image(media.thumbnail(asset), width="stretch")
                st.caption("in the look-book")
            else:
                _pin_button(alerts, user_id, mid, asset)


def _variations_tab(alerts: Any, user_id: int, muse: Muse) -> None:
    mid = muse.id or 0
    with db.reading() as session:
        looks = service.variations(session, owner_id=user_id, muse_id=mid)
    for look in looks:
        text = ", ".join(f"{k}: {v}" for k, v in look.overrides.items())
        st.caption(f"{look.name} · {text}")
        if st.button("Remove", key=f"vdel_{look.id}"):
            with db.writing() as (session, _now):
                service.delete_variation(session, owner_id=user_id, variation_id=look.id or 0)
            st.rerun()
    with st.form(f"var_{mid}", clear_on_submit=True):
        name = st.text_input("Variation name", max_chars=80)
        overrides = {
            field: st.text_input(f"{field.title()} (blank keeps the muse's)", max_chars=400)
            for field in VARIATION_FIELDS
        }
        if not st.form_submit_button("Add variation"):
            return

    def add(session: Session, now: datetime) -> None:
        service.add_variation(
            session,
            owner_id=user_id,
            muse_id=mid,
            name=name,
            overrides={k: v.strip() for k, v in overrides.items() if v.strip()},
            now=now,
        )

    _act(
        alerts,
        add,
        f"Added the variation {name.strip()}.",
        target="muse.variation",
        user_id=user_id,
    )


def _history_tab(user_id: int, muse: Muse) -> None:
    mid = muse.id or 0
    with db.reading() as session:
        past = service.muse_history(session, owner_id=user_id, muse_id=mid, limit=20)
    if not past:
        st.caption("None yet: use this muse in the Studio.")
    for job in past:
        st.caption(_job_line(job))
        if st.button("Remix", key=f"remix_{job.id}"):
            studio_prefill.load_remix(
                remix.of_job(job),
                user_id=user_id,
                presets=resources.presets(),
                origin=f"job #{job.id}",
            )


def _job_line(job: GenerationJob) -> str:
    settings = f"{job.model} · {job.preset} · seed {job.seed} · batch {job.batch_size}"
    return f"#{job.id} · {job.status} · {settings} · {scene_of(job)[:160]}"
