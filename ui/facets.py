"""The gallery's facet counts, cached a minute per filter set (a count over the whole public
gallery is a scan; the listing itself is not cached)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import streamlit as st

from core.gallery.facets import Facets, facet_counts
from core.models import MediaKind
from ui import db, resources

FACETS_TTL_S = 60


@st.cache_data(ttl=FACETS_TTL_S, max_entries=512, show_spinner=False)
def counts(
    *,
    viewer_id: int,
    scope: Literal["mine", "public"],
    category: tuple[str, ...] | None,
    tag: tuple[str, ...] | None,
    kind: MediaKind | None,
    muse_id: int | None,
    since: datetime | None,
    until: datetime | None,
    search: str | None,
) -> Facets:
    """`core.gallery.facets.facet_counts` for these filters (given as the listing takes
    them), with the taxonomy's renames."""
    taxonomy = resources.taxonomy()
    with db.reading() as session:
        return facet_counts(
            session,
            renamed_categories=taxonomy.renamed_categories,
            renamed_tags=taxonomy.renamed_tags,
            viewer_id=viewer_id,
            scope=scope,
            category=category,
            tag=tag,
            kind=kind,
            muse_id=muse_id,
            since=since,
            until=until,
            search=search,
        )
