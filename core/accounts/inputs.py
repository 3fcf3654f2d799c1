"""What typed account input may contain: no control characters, no lone surrogates.

PostgreSQL refuses NUL in text and no database (nor argon2, which hashes UTF-8) takes a lone
surrogate, so such input is refused with a message before any query or hash sees it.
"""

from __future__ import annotations

import unicodedata

_REFUSED_CATEGORIES = frozenset({"Cc", "Cs"})  # control characters (NUL, tab...), surrogates


def has_control_characters(value: str) -> bool:
    """Whether `value` holds a control character (NUL included) or a lone surrogate."""
    return any(unicodedata.category(char) in _REFUSED_CATEGORIES for char in value)


def printable(value: str, *, limit: int = 64) -> str:
    """`value` with control and non-ASCII characters escaped (`\\x00`), cut to `limit`: safe to
    store in an audit row on any database."""
    return value.encode("unicode_escape").decode("ascii")[:limit]
