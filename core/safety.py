"""Content policy: refuse anything that sexualises minors, before any credit or GPU is used.

Pure and fast. Text is normalised first (NFKC, case, accents, zero-width and bidi controls,
look-alike letters and digits, separators between letters), then checked by bounded
patterns (no nested quantifiers, so time is linear in the input):

- a stated age under 18, in digits or words, in any request;
- youth terms (child, teen, schoolgirl, ... and a few non-English ones) in a request that is
  explicit or mentions sexual context; unambiguous ones (loli, underage, ...) always;
- real people named in explicit requests;
- reference images without the uploader's consent statement, or in explicit mode.

Stated age >= 18 is necessary, not sufficient (SECURITY.md decision 9): outputs also pass an
`OutputScreener` before they can be public.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, Protocol

from core.config import REPO_ROOT
from core.errors import PolicyRefusal, ValidationFailed

MAX_PROMPT_CHARS = 4000

CONSENT_STATEMENT = (
    "I own this image or have the right to use it, and every person pictured in it is an "
    "adult who has consented to its use here."
)

MINOR_MESSAGE = (
    "This request was refused: it describes or implies a person under 18. "
    "Every character must be an adult."
)

_ZERO_WIDTH = dict.fromkeys(
    map(
        ord,
        "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069",
    ),
    None,
)
_LETTER_LOOKALIKES = str.maketrans(
    {
        "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i",
        "ј": "j", "ѕ": "s", "ԁ": "d", "ɡ": "g", "α": "a", "ε": "e", "ο": "o", "ρ": "p",
        "τ": "t", "υ": "u", "ν": "v", "κ": "k", "ι": "i", "т": "t", "к": "k", "м": "m",
        "в": "b", "н": "h",
    }
)  # fmt: skip
_DIGIT_LOOKALIKES = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}
)
# Youth words whose accents carry the meaning ("nina" is also a name; "niña" is a girl).
_ACCENTED_YOUTH = re.compile(r"(?<!\w)(?:niñ[ao]s?|mädchen|petite fille)(?!\w)")

NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17,
}  # fmt: skip

# Youth terms refused with any sexual context or in explicit mode.
YOUTH_TERMS = (
    "child", "children", "kid", "kids", "minor", "minors", "teen", "teens", "teenager",
    "teenage", "teenaged", "preteen", "tween", "schoolgirl", "schoolboy", "school girl",
    "school boy", "young girl", "young boy", "little girl", "little boy", "girl child",
    "juvenile", "adolescent", "pubescent", "prepubescent", "infant", "toddler", "baby face",
    "babyface", "childlike", "child like", "young looking", "youthful body", "flat chested",
    "middle school", "elementary school", "junior high", "high schooler", "kindergarten",
    "menor", "menores", "enfant", "kinder", "jeune fille", "ragazzina",
    "bambina", "ребенок", "девочка", "子供", "少女",
)  # fmt: skip
# Refused in any request, explicit or not.
ALWAYS_TERMS = (
    "underage", "under age", "loli", "lolicon", "shota", "shotacon", "jailbait", "barely legal",
    "pedo", "paedo", "csam", "cp porn", "幼女",
)  # fmt: skip
SEXUAL_TERMS = (
    "nude", "naked", "topless", "sexy", "sexual", "sex", "erotic", "lingerie", "seductive",
    "sensual", "explicit", "nsfw", "undressed", "undressing", "aroused", "intimate", "lewd",
    "provocative", "bikini", "busty", "breasts", "bare skin", "stripping", "porn",
    "fetish", "bdsm", "bedroom eyes", "in bed",
)  # fmt: skip

_OLD = r"(?:yo|y/o|yrs? old|years? old|jahre alt|ans|anos|anni)"
_AGE_DIGITS = re.compile(
    r"\b(\d{1,2}) ?" + _OLD + r"\b" + r"|\b(?:age|aged|age of|alter|edad) ?:? ?(\d{1,2})\b"
)
_AGE_WORDS = re.compile(
    r"\b(" + "|".join(NUMBER_WORDS) + r") ?" + _OLD + r"\b"
    r"|\b(?:age|aged) ?:? ?(" + "|".join(NUMBER_WORDS) + r")\b"
)


def _phrase_pattern(terms: tuple[str, ...]) -> re.Pattern[str]:
    words = sorted({normalize(term) for term in terms}, key=len, reverse=True)
    return re.compile(r"(?<![a-z])(?:" + "|".join(re.escape(w) for w in words) + r")(?![a-z])")


def _fold(text: str, *, lookalikes: bool = True) -> str:
    """Case, width and accents folded; look-alikes (digits too) mapped to Latin letters."""
    text = unicodedata.normalize("NFKC", text).translate(_ZERO_WIDTH).casefold()
    text = "".join(
        ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch)
    ).translate(_LETTER_LOOKALIKES)
    return text.translate(_DIGIT_LOOKALIKES) if lookalikes else text


_SEPARATED = re.compile(r"(?<![a-z])(?:[a-z][ ._*\-+~|/\\]){2,}[a-z](?![a-z])")


def _join_letters(match: re.Match[str]) -> str:
    run = match.group(0)
    # "a t e e n": the English word "a" (or "I") starts the run, it is not part of the word.
    keep = run[:2] if run[:2] in ("a ", "i ") else ""
    return keep + re.sub(r"[^a-z]", "", run[len(keep) :])


def normalize(text: str, *, lookalikes: bool = True) -> str:
    """The text as the policy reads it: folded, separators collapsed, single-spaced.

    "T.E.E.N", "t e e n" and "t33n" all read "teen"; runs of one letter are shortened to two
    ("teeeen" -> "teen"). With `lookalikes=False` digits stay digits (for reading ages).
    """
    folded = _fold(text, lookalikes=lookalikes)
    folded = re.sub(r"[\s_\-]+", " ", folded)
    folded = _SEPARATED.sub(_join_letters, folded)
    folded = re.sub(r"([a-z])\1{2,}", r"\1\1", folded)
    return re.sub(r" {2,}", " ", folded).strip()


YOUTH = _phrase_pattern(YOUTH_TERMS)
ALWAYS = _phrase_pattern(ALWAYS_TERMS)
SEXUAL = _phrase_pattern(SEXUAL_TERMS)


@lru_cache(maxsize=1)
def public_figures() -> re.Pattern[str] | None:
    """Names from `data/safety/public_figures.txt` (one per line; editable)."""
    path = REPO_ROOT / "data" / "safety" / "public_figures.txt"
    names = [
        line.strip()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    return _phrase_pattern(tuple(names)) if names else None


def stated_minor_age(normalized: str) -> int | None:
    """An age under 18 stated in the text (digits or number words), else None."""
    for match in _AGE_DIGITS.finditer(normalized):
        age = int(match.group(1) or match.group(2))
        if age < 18:
            return age
    for match in _AGE_WORDS.finditer(normalized):
        return NUMBER_WORDS[match.group(1) or match.group(2)]
    return None


def _check_length(text: str, field: str) -> None:
    if len(text) > MAX_PROMPT_CHARS:
        raise ValidationFailed(
            f"The {field} is {len(text):,} characters long; the limit is {MAX_PROMPT_CHARS:,}."
        )
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\r\t" for ch in text):
        raise ValidationFailed(f"The {field} contains control characters; remove them.")


def screen_prompt(text: str, *, nsfw: bool = True, field: str = "prompt") -> None:
    """Refuse `text` (PolicyRefusal, with a rule id) or return quietly.

    `nsfw` is the request's explicit mode; youth terms are refused in explicit mode or next
    to sexual context, and a stated age under 18 is refused everywhere.
    """
    _check_length(text, field)
    normalized = normalize(text)
    if ALWAYS.search(normalized):
        raise PolicyRefusal(MINOR_MESSAGE, rule="minor_term")
    if stated_minor_age(normalize(text, lookalikes=False)) is not None:
        raise PolicyRefusal(MINOR_MESSAGE, rule="minor_age")
    sexual = nsfw or SEXUAL.search(normalized) is not None
    accented = _ACCENTED_YOUTH.search(unicodedata.normalize("NFKC", text).casefold())
    if sexual and (YOUTH.search(normalized) or accented):
        raise PolicyRefusal(MINOR_MESSAGE, rule="minor_sexual")
    figures = public_figures()
    if sexual and figures is not None and figures.search(normalized):
        raise PolicyRefusal(
            "This request was refused: it names a real person in an explicit context. "
            "Create fictional characters instead.",
            rule="real_person",
        )


def screen_muse(fields: Mapping[str, str], *, age: int, nsfw: bool) -> None:
    """Refuse a character under 18, or any field that describes one; the message names it."""
    if age < 18:
        raise PolicyRefusal("Every character must be 18 or older.", rule="minor_age")
    for name, value in fields.items():
        try:
            screen_prompt(value, nsfw=nsfw, field=name.replace("_", " "))
        except PolicyRefusal as refusal:
            raise PolicyRefusal(f"{name.replace('_', ' ')}: {refusal}", rule=refusal.rule) from None


def screen_reference_use(*, consent_given: bool, explicit: bool) -> None:
    """Reference images need the consent statement and never go with explicit mode."""
    if not consent_given:
        raise PolicyRefusal(
            "Reference images need your statement: " + CONSENT_STATEMENT, rule="reference_consent"
        )
    if explicit:
        raise PolicyRefusal(
            "Reference images cannot be used in explicit mode: they may show real people.",
            rule="reference_explicit",
        )


@dataclass(frozen=True)
class ScreeningResult:
    """An output's verdict: passed may be public, flagged is hidden, pending awaits review."""

    verdict: Literal["passed", "flagged", "pending"]
    reason: str


class OutputScreener(Protocol):
    """Judges a generated image before it may be public (NSFW score, apparent age, ...)."""

    def screen(self, data: bytes, mime: str) -> ScreeningResult:
        """The verdict on one output."""
        ...


class PendingReviewScreener:
    """The default: every output stays private until a moderator approves it.

    No classifier model can be downloaded at run time here; a packaged one plugs in behind
    `OutputScreener` without touching the job runner.
    """

    def screen(self, data: bytes, mime: str) -> ScreeningResult:
        """Always `pending`: nothing becomes public unreviewed."""
        return ScreeningResult("pending", "awaiting moderator review (no classifier installed)")
