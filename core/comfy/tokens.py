"""CLIP token estimates and the 75-token chunks a long prompt is encoded in; pure.

CLIP's text encoder reads 75 tokens (77 with its start and end tokens) at a time. CLIP's
byte-pair encoding keeps common words whole and splits rare or long ones; counting one token
per punctuation mark and per eight letters of each word is within a few tokens for English
prompts. `prompt_chunks` cuts a prompt at its commas into windows of that size, so a graph can
encode each chunk on its own and concatenate the conditionings: nothing past the first window
is dropped or weakened, and no phrase is split between two windows. Should the estimate fall
short for a chunk, ComfyUI's own tokenizer splits that chunk again: still nothing is dropped.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

CLIP_WINDOW = 75
_PIECES = re.compile(r"[A-Za-z]+|\d|[^\sA-Za-z\d]")


@dataclass(frozen=True)
class PromptChunk:
    """One encoder window of a prompt: its text and its estimated CLIP tokens."""

    text: str
    tokens: int


def estimate_clip_tokens(text: str) -> int:
    """Approximate CLIP tokens in `text` (without the start and end tokens)."""
    return sum(
        math.ceil(len(piece) / 8) if piece.isalpha() else 1 for piece in _PIECES.findall(text)
    )


def prompt_chunks(text: str, *, window: int = CLIP_WINDOW) -> tuple[PromptChunk, ...]:
    """`text` cut at its commas into chunks of at most `window` estimated CLIP tokens.

    A phrase is never split across chunks unless it alone is longer than a window (then it
    is cut between words); a comma inside brackets, as in "(red dress, lace:1.2)", does not
    end a phrase, so prompt weights stay whole. Joining the chunks' texts with ", " gives
    `text` back (up to spaces around commas and empty phrases), so a graph may encode each
    chunk and concatenate the conditionings without losing a word."""
    chunks: list[list[str]] = []
    for phrase in (p.strip() for p in _phrases(text)):
        if not phrase:
            continue
        for piece in _word_pieces(phrase, window):
            if chunks and estimate_clip_tokens(", ".join([*chunks[-1], piece])) <= window:
                chunks[-1].append(piece)
            else:
                chunks.append([piece])
    joined = (", ".join(parts) for parts in chunks)
    return tuple(PromptChunk(part, estimate_clip_tokens(part)) for part in joined)


def _phrases(text: str) -> list[str]:
    """`text` split at the commas outside brackets."""
    phrases: list[str] = []
    start = depth = 0
    for index, char in enumerate(text):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth = max(depth - 1, 0)
        elif char == "," and depth == 0:
            phrases.append(text[start:index])
            start = index + 1
    phrases.append(text[start:])
    return phrases


def _word_pieces(phrase: str, window: int) -> list[str]:
    """The phrase, or its words grouped into pieces of at most `window` tokens."""
    if estimate_clip_tokens(phrase) <= window:
        return [phrase]
    pieces: list[str] = []
    for word in phrase.split():
        if pieces and estimate_clip_tokens(f"{pieces[-1]} {word}") <= window:
            pieces[-1] = f"{pieces[-1]} {word}"
        else:
            pieces.append(word)
    return pieces
