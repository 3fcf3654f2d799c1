"""What typed input may contain: no control characters (bidi overrides included), no lone
surrogates, bounded integers.

PostgreSQL refuses NUL in text and no database (nor argon2, which hashes UTF-8) takes a lone
surrogate, so such input is refused with a message before any query or hash sees it. Every
boundary (forms, card imports, the CLI) checks its text and numbers here, accounts first.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping

from core.errors import ValidationFailed

_REFUSED_CATEGORIES = frozenset({"Cc", "Cs"})  # control characters (NUL, tab...), surrogates
# Bidi embeddings, overrides and isolates make text read other than it is stored (a title
# shown as "exe.png" holding "gnp.exe" overridden); the plain marks LRM and RLM stay allowed.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_LINE_BREAKS = frozenset("\t\n\r")
MAX_ROW_ID = 2**31 - 1
"""Row ids are 32-bit integers on PostgreSQL: a larger number names no row."""


def has_control_characters(value: str, *, multiline: bool = False) -> bool:
    """Whether `value` holds a control character (NUL included), a bidi override, embedding
    or isolate, or a lone surrogate; tabs and line breaks are allowed when `multiline`."""
    return any(
        (unicodedata.category(char) in _REFUSED_CATEGORIES or char in _BIDI_CONTROLS)
        and not (multiline and char in _LINE_BREAKS)
        for char in value
    )


def require_plain(fields: Mapping[str, str | None], *, multiline: bool = False) -> None:
    """Refuse text a database cannot store or a page does not mean: ValidationFailed naming
    the first field (by its label in `fields`) that holds a control character or a lone
    surrogate (see `has_control_characters`); None and "" pass."""
    for label, value in fields.items():
        if not isinstance(value, str | None):
            raise ValidationFailed(f"The {label} must be text.")
        if value and has_control_characters(value, multiline=multiline):
            raise ValidationFailed(f"The {label} contains control characters; remove them.")


def require_int(value: object, *, field: str, low: int, high: int) -> int:
    """`value` if it is a whole number from `low` to `high` (a bool is not one); else
    ValidationFailed naming `field`, so no column overflows and no number means two things."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationFailed(f"The {field} must be a whole number from {low} to {high}.")
    return value


def printable(value: str, *, limit: int = 64) -> str:
    """`value` with control and non-ASCII characters escaped (`\\x00`), cut to `limit`: safe to
    store in an audit row on any database."""
    return value.encode("unicode_escape").decode("ascii")[:limit]


def row_id(text: str) -> int | None:
    """The row id `text` spells (ASCII digits, no leading zero, 1 to `MAX_ROW_ID`), else
    None: text from a link or a log never reaches a query as a number no column holds."""
    if not (text.isascii() and text.isdigit()) or text.startswith("0"):
        return None
    value = int(text)
    return value if value <= MAX_ROW_ID else None
