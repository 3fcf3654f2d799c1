"""An estimate of how many CLIP tokens a prompt uses (the text encoder reads 75 + 2).

CLIP's byte-pair encoding keeps common words whole and splits rare or long ones; counting
one token per punctuation mark and per eight letters of each word is within a few tokens for
English prompts, which is all the warning needs.
"""

from __future__ import annotations

import math
import re

CLIP_WINDOW = 75
_PIECES = re.compile(r"[A-Za-z]+|\d|[^\sA-Za-z\d]")


def estimate_clip_tokens(text: str) -> int:
    """Approximate CLIP tokens in `text` (without the start and end tokens)."""
    return sum(
        math.ceil(len(piece) / 8) if piece.isalpha() else 1 for piece in _PIECES.findall(text)
    )


def over_window(text: str) -> bool:
    """Whether the text likely runs past CLIP's window, so its tail is weakened or cut."""
    return estimate_clip_tokens(text) > CLIP_WINDOW
