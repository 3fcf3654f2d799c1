"""Muses (adult fictional characters), their variations and reference images."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from core.models.types import UTCDateTime, json_column, utcnow


class Muse(SQLModel, table=True):
    """A character profile. `age` is duplicated from the profile so the database enforces 18+."""

    __table_args__ = (
        sa.CheckConstraint("age >= 18", name="ck_muse_adult"),
        sa.Index("ix_muse_owner_name", "owner_id", "name"),
    )

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="user.id")
    name: str = Field(max_length=80)
    age: int
    nsfw: bool = False
    profile: dict[str, Any] = Field(default_factory=dict, sa_type=json_column())
    tags: list[str] = Field(default_factory=list, sa_type=json_column())
    # The sha256 of one of the muse's references, shown on its card (None: the first one).
    portrait_sha256: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class MuseVariation(SQLModel, table=True):
    """An outfit or scenario override of a muse."""

    id: int | None = Field(default=None, primary_key=True)
    muse_id: int = Field(foreign_key="muse.id", index=True)
    name: str = Field(max_length=80)
    overrides: dict[str, Any] = Field(default_factory=dict, sa_type=json_column())
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ReferenceImage(SQLModel, table=True):
    """A reference picture for IP-Adapter: an outside upload, stored only with the uploader's
    consent statement, or (`asset_id` set) one of the owner's own generated pictures pinned
    to a muse's look-book, which shows no real person and needs no statement ("")."""

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="user.id", index=True)
    muse_id: int | None = Field(default=None, foreign_key="muse.id", index=True)
    asset_id: int | None = Field(default=None, foreign_key="asset.id", index=True)
    sha256: str = Field(max_length=64, index=True)
    mime: str = Field(max_length=32)
    width: int
    height: int
    consent_statement: str = Field(max_length=500)
    consented_at: datetime = Field(sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
