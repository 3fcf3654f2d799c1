"""Column types shared by every table: UTC timestamps, money, enums stored as text."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect

MICROS_PER_USD = Decimal(1_000_000)


def utcnow() -> datetime:
    """Default for created/updated columns; services pass their Clock's time explicitly."""
    return datetime.now(UTC)


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Money(sa.types.TypeDecorator[Decimal]):
    """US dollars as Decimal, stored exactly as integer micro-dollars.

    Integers keep SQLite exact (it has no decimal type) and make SUM() exact on both backends.
    """

    impl = sa.BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | int | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("money must be Decimal or int, never float")
        micros = (Decimal(value) * MICROS_PER_USD).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
        return int(micros)

    def process_result_value(self, value: int | None, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(value) / MICROS_PER_USD


def text_enum(enum_cls: type[StrEnum]) -> sa.Enum:
    """Store a StrEnum as its values in a VARCHAR (portable, no native PG enum to migrate)."""
    return sa.Enum(
        enum_cls,
        native_enum=False,
        length=max(len(member.value) for member in enum_cls) + 8,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


def json_column() -> Any:
    """A JSON column type (JSONB on PostgreSQL)."""
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
