"""Stored outputs and what people do with them: tags, boards, ratings, views, shares, reports."""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from core.models.enums import MediaKind, ReportStatus, Screening, TakedownStatus, Visibility
from core.models.types import UTCDateTime, json_column, text_enum, utcnow

PRIOR_VOTES, PRIOR_MEAN_STARS = 3, 3  # top-rated's Bayesian prior: 3 votes of 3 stars
Count = TypeVar("Count", int, sa.ColumnElement[int])


def bayesian_rating_milli(rating_sum: Count, rating_count: Count) -> Count:
    """Thousandths of a star: the mean rating pulled toward 3 stars by 3 imaginary votes,
    so one 5-star vote does not outrank fifty 4-star ones. Integer arithmetic, so the same
    formula gives the same number in Python and in SQL (SQLite and PostgreSQL)."""
    prior_milli = PRIOR_VOTES * PRIOR_MEAN_STARS * 1000
    return (rating_sum * 1000 + prior_milli) // (rating_count + PRIOR_VOTES)


WAITING = f"screening = '{Screening.WAITING.value}'"
"""The outputs waiting for their checks (core.gallery.verdicts), as SQL: a query reads its
partial index by stating it word for word (`sa.text`), so that neither database's planner has
a bound value to prove it from."""
FLAGGED_UNDECIDED = f"screening = '{Screening.FLAGGED.value}' AND flag_decided_at IS NULL"
"""The flagged outputs no moderator has decided on yet, as SQL (likewise)."""


def _partial_index(name: str, predicate: str) -> sa.Index:
    """An index of asset (created_at, id) holding only the rows `predicate` is true of."""
    where = sa.text(predicate)
    return sa.Index(name, "created_at", "id", sqlite_where=where, postgresql_where=where)


class Asset(SQLModel, table=True):
    """One image or video in the media store, owned by a user.

    Every gallery sort has a stored key and an index (visibility, key, id), so a page of the
    public gallery, at any depth, is one index range (core/gallery/listing.py); the same per
    owner (owner_id, key, id) for "mine". Title search has an index outside the models
    (core/gallery/search.py).
    """

    __table_args__ = (
        sa.Index("ix_asset_visibility_created", "visibility", "created_at", "id"),
        sa.Index("ix_asset_visibility_rating", "visibility", "rating_score", "id"),
        sa.Index("ix_asset_visibility_trending", "visibility", "trending_score", "id"),
        sa.Index("ix_asset_visibility_views", "visibility", "view_count", "id"),
        # refresh_trending finds the assets whose trending score is not zero through it
        sa.Index("ix_asset_trending", "trending_score"),
        sa.Index("ix_asset_owner_created", "owner_id", "created_at", "id"),
        sa.Index("ix_asset_owner_rating", "owner_id", "rating_score", "id"),
        sa.Index("ix_asset_owner_trending", "owner_id", "trending_score", "id"),
        sa.Index("ix_asset_owner_views", "owner_id", "view_count", "id"),
        sa.Index("ix_asset_category_created", "category", "created_at", "id"),
        # The outputs still waiting for their checks, and the flagged ones' review queue, each
        # a partial index of a few rows. As one index (screening,
        # created_at, id), SQLite's planner took it for the public pages, which filter on
        # screening as they do on visibility.
        _partial_index("ix_asset_waiting", WAITING),
        _partial_index("ix_asset_flagged_undecided", FLAGGED_UNDECIDED),
    )

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="user.id")
    job_id: int | None = Field(default=None, foreign_key="generationjob.id", index=True)
    muse_id: int | None = Field(default=None, foreign_key="muse.id", index=True)
    sha256: str = Field(max_length=64, index=True)
    thumb_sha256: str | None = Field(default=None, max_length=64)
    kind: MediaKind = Field(sa_type=text_enum(MediaKind))
    mime: str = Field(max_length=32)
    width: int
    height: int
    size_bytes: int
    title: str = Field(default="", max_length=200)
    category: str | None = Field(default=None, max_length=64)
    visibility: Visibility = Field(default=Visibility.PRIVATE, sa_type=text_enum(Visibility))
    screening: Screening = Field(default=Screening.PENDING, sa_type=text_enum(Screening))
    # What the output screener saw (core.gallery.screening): its model, each label's score.
    screen_model: str | None = Field(default=None, max_length=64)
    screen_labels: dict[str, float] = Field(default_factory=dict, sa_type=json_column())
    screened_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    flag_decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    hidden: bool = False
    recipe_public: bool = False
    """The owner lets other viewers see how it was made (prompts, settings) and remix it."""
    featured: bool = False
    view_count: int = 0
    rating_sum: int = 0
    rating_count: int = 0
    rating_score: int = bayesian_rating_milli(0, 0)  # kept by engagement.rate()
    trending_score: int = 0  # kept by engagement.refresh_trending()
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AssetTag(SQLModel, table=True):
    """One tag of a picture. A tag's pictures are read from (tag, asset_id) alone."""

    __table_args__ = (sa.Index("ix_assettag_tag_asset", "tag", "asset_id"),)

    asset_id: int = Field(foreign_key="asset.id", primary_key=True)
    tag: str = Field(max_length=64, primary_key=True)


class Rating(SQLModel, table=True):
    """One rating per user per asset."""

    __table_args__ = (
        sa.CheckConstraint("stars BETWEEN 1 AND 5", name="ck_rating_stars"),
        sa.Index("ix_rating_created", "created_at"),  # trending reads the last 7 days
    )

    asset_id: int = Field(foreign_key="asset.id", primary_key=True)
    user_id: int = Field(foreign_key="user.id", primary_key=True)
    stars: int
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AssetView(SQLModel, table=True):
    """A view event; trending decays these over time."""

    __table_args__ = (sa.Index("ix_assetview_asset_at", "asset_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    asset_id: int = Field(foreign_key="asset.id")
    user_id: int | None = Field(default=None, foreign_key="user.id")
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class ShareLink(SQLModel, table=True):
    """A revocable share link; the URL carries a signed token, we keep its hash."""

    id: int | None = Field(default=None, primary_key=True)
    asset_id: int = Field(foreign_key="asset.id", index=True)
    token_sha256: str = Field(max_length=64, unique=True)
    created_by: int = Field(foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Board(SQLModel, table=True):
    """A user's named collection of pictures (core/gallery/boards.py); private to its owner
    unless shared by a link (`BoardShareLink`)."""

    __table_args__ = (sa.Index("ix_board_owner_name", "owner_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="user.id")
    name: str = Field(max_length=80)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class BoardItem(SQLModel, table=True):
    """A picture on a board; newest additions first (board_id, added_at, asset_id)."""

    __table_args__ = (
        sa.Index("ix_boarditem_board_added", "board_id", "added_at", "asset_id"),
        sa.Index("ix_boarditem_asset", "asset_id"),
    )

    board_id: int = Field(foreign_key="board.id", primary_key=True)
    asset_id: int = Field(foreign_key="asset.id", primary_key=True)
    added_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class BoardShareLink(SQLModel, table=True):
    """A revocable link to a board; like `ShareLink`, the URL carries a signed token and we
    keep its hash."""

    id: int | None = Field(default=None, primary_key=True)
    board_id: int = Field(foreign_key="board.id", index=True)
    token_sha256: str = Field(max_length=64, unique=True)
    created_by: int = Field(foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Report(SQLModel, table=True):
    """A report against an asset, waiting in the moderation queue."""

    __table_args__ = (sa.Index("ix_report_status_created", "status", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    asset_id: int = Field(foreign_key="asset.id", index=True)
    reporter_id: int | None = Field(default=None, foreign_key="user.id")
    reason: str = Field(max_length=64)
    details: str = Field(default="", max_length=2000)
    status: ReportStatus = Field(default=ReportStatus.OPEN, sa_type=text_enum(ReportStatus))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolved_by: int | None = Field(default=None, foreign_key="user.id")


class BlockedHash(SQLModel, table=True):
    """A taken-down file: copies are refused on upload and output (core.gallery.takedown).

    One row per hash of the picture: its stored bytes and its canonical re-encoding (what an
    upload of the same picture becomes); `phash` (16 hex digits, 64 bits) catches copies
    re-encoded, resized or recompressed elsewhere."""

    sha256: str = Field(primary_key=True, max_length=64)
    phash: str | None = Field(default=None, max_length=16)
    reason: str = Field(max_length=200)
    report_id: int | None = Field(default=None, foreign_key="report.id")
    takedown_id: int | None = Field(default=None, foreign_key="takedownrequest.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    phash_band0: int | None = Field(default=None, index=True)
    phash_band1: int | None = Field(default=None, index=True)
    phash_band2: int | None = Field(default=None, index=True)
    phash_band3: int | None = Field(default=None, index=True)
    """`phash` cut in four 16-bit bands (`phash_bands`), each indexed, set from `phash` on
    every write: a near copy (<= 10 bits apart) shares a band within 2 bits, so the
    look-up reads only the rows near one of its bands (core.gallery.fingerprints)."""


PHASH_BANDS = 4
PHASH_BAND_BITS = 16


def phash_bands(phash: str | None) -> tuple[int | None, ...]:
    """A 64-bit perceptual hash (16 hex digits) as its four 16-bit bands, most significant
    first; four Nones for no hash."""
    if phash is None:
        return (None,) * PHASH_BANDS
    value = int(phash, 16)
    mask = (1 << PHASH_BAND_BITS) - 1
    return tuple(
        (value >> (PHASH_BAND_BITS * (PHASH_BANDS - 1 - band))) & mask
        for band in range(PHASH_BANDS)
    )


@sa.event.listens_for(BlockedHash, "before_insert")
@sa.event.listens_for(BlockedHash, "before_update")
def _set_phash_bands(_mapper: object, _connection: object, row: BlockedHash) -> None:
    """The bands always follow `phash`, whoever writes the row."""
    for band, value in enumerate(phash_bands(row.phash)):
        setattr(row, f"phash_band{band}", value)


class TakedownRequest(SQLModel, table=True):
    """A removal request for non-consensual intimate imagery, filed by anyone, signed in or
    not (TAKE IT DOWN Act: removal within 48 hours of a valid request)."""

    __table_args__ = (sa.Index("ix_takedownrequest_status_due", "status", "due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    asset_id: int | None = Field(default=None, foreign_key="asset.id", index=True)
    location: str = Field(max_length=500)
    description: str = Field(default="", max_length=2000)
    requester_name: str = Field(max_length=120)
    requester_email: str = Field(max_length=254)
    relationship: str = Field(max_length=32)
    signature: str = Field(max_length=120)
    status: TakedownStatus = Field(default=TakedownStatus.OPEN, sa_type=text_enum(TakedownStatus))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    due_at: datetime = Field(sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolved_by: int | None = Field(default=None, foreign_key="user.id")
    resolution: str = Field(default="", max_length=500)
