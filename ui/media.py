"""Media on the pages: what `st.image`, `st.video` and the download button are given, per
backend; a file shown by its media type (a player for video, the picture otherwise).

With the local store the page sends the bytes (read once per hash and cached); with a
bucket the browser fetches the file itself by a presigned URL (`MediaStore.url`), so no
picture passes through Python. A URL is reused for `URL_REUSE_S` so reruns hit the
browser's cache; it stays valid at least as long again (`S3_PRESIGN_SECONDS` >= 2x).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from core.gallery import store
from core.models import Asset
from ui import resources
from ui.widgets import md_literal

CACHED_FILES = 128
"""Files kept in memory per server: thumbnails mostly, a few full pictures."""
CACHED_THUMBNAILS = 1024
"""Grid thumbnails kept in memory per server (~40 KB each as JPEG): twenty pages of 48."""
URL_REUSE_S = 60
THUMB_MIME = "image/webp"  # store.make_thumbnail


@st.cache_data(max_entries=CACHED_FILES, show_spinner=False)
def read(sha256: str) -> bytes:
    """The stored file with this hash. Cached by the hash alone: a content-addressed file
    never changes, so a cached copy is never stale."""
    return store.read(resources.media_store(), sha256)


@st.cache_data(ttl=URL_REUSE_S, max_entries=4096, show_spinner=False)
def _url(sha256: str, mime: str, filename: str | None) -> str | None:
    return resources.media_store().url(sha256, mime=mime, filename=filename)


def source(sha256: str, mime: str = "image/png") -> bytes | str:
    """What `st.image` shows this file from: its presigned URL when the store gives one,
    else its bytes."""
    return _url(sha256, mime, None) or read(sha256)


@st.cache_data(max_entries=CACHED_THUMBNAILS, show_spinner=False)
def shown_thumbnail(sha256: str) -> bytes:
    """The file with this hash as a JPEG thumbnail, made once per hash (a content-addressed
    file never changes): `st.image` sends a JPEG as it is, where it would decode a WebP and
    encode it to JPEG again on every rerun (~5 ms a picture, 48 to a grid)."""
    return store.make_thumbnail(store.read(resources.media_store(), sha256), format="JPEG")


def thumbnail(asset: Asset) -> bytes | str:
    """The asset's thumbnail to show: its presigned URL with a bucket, else
    `shown_thumbnail` of it (of its full file until the thumbnail is made)."""
    sha256, mime = (
        (asset.thumb_sha256, THUMB_MIME) if asset.thumb_sha256 else (asset.sha256, asset.mime)
    )
    return _url(sha256, mime, None) or shown_thumbnail(sha256)


def thumbnail_grid(assets: Sequence[Asset], *, columns: int = 4) -> None:
    """`assets` in `columns` columns, in reading order (row by row), each thumbnail over its
    title as literal text (`md_literal`): one `st.image` list per column, so a page of 48 is a
    few elements rather than an image, a caption and a block per picture."""
    for column, shown in zip(
        st.columns(columns), (assets[start::columns] for start in range(columns)), strict=True
    ):
        if shown:
            column.image(
                [thumbnail(asset) for asset in shown],
                caption=[md_literal(asset.title or "Untitled") for asset in shown],
                width="stretch",
            )


def full(asset: Asset) -> bytes | str:
    """The asset's full file to show or play."""
    return source(asset.sha256, asset.mime)


def download_button(asset: Asset, *, key: str | None = None) -> None:
    """Download `asset`'s file as `aikings-<id>.<type>`: a link to a presigned URL that
    asks the browser to save it, or a button carrying the bytes."""
    name = f"aikings-{asset.id}.{asset.mime.split('/')[-1]}"
    url = _url(asset.sha256, asset.mime, name)
    if url is not None:
        st.link_button("Download", url, key=key)
        return
    st.download_button("Download", read(asset.sha256), file_name=name, mime=asset.mime, key=key)


def is_video_file(asset: Asset) -> bool:
    """Whether `asset`'s file is a video container (an MP4), played rather than shown; an
    animated WebP is a picture the browser animates in place."""
    return asset.mime.startswith("video/")


def show(asset: Asset, *, caption: str | None = None) -> None:
    """`asset`'s file: an MP4 in the video player (`st.video`, seekable), any picture
    (animated WebP included) as an image; with `caption` under it."""
    if is_video_file(asset):
        st.video(full(asset), format=asset.mime)
        if caption:
            st.caption(caption)
    else:
        st.image(full(asset), caption=caption, width="stretch")


def show_preview(asset: Asset) -> None:
    """`asset` in a list: a video played from its file (its grid thumbnail is the poster
    frame), a picture by its thumbnail."""
    if is_video_file(asset):
        show(asset, caption=asset.title)
    else:
        st.image(thumbnail(asset), caption=asset.title, width="stretch")


@contextmanager
def review_card(asset: Asset) -> Iterator[DeltaGenerator]:
    """A bordered card for the moderators' queues: the asset's thumbnail on the left; yields
    the column on its right for what is said and decided about it."""
    with st.container(border=True):
        left, right = st.columns([1, 2])
        left.image(thumbnail(asset))
        yield right
