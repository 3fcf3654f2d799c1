"""Screening text: refuse any request that describes or implies a person under 18.

The studio makes no picture of a minor at all, in any mode: youth words, school grades and
institutions, infants, and ages said any way are refused whether or not the request is
explicit. Only words that are also common in another sense (listed as `youth_sexual`) need
sexual context or explicit mode. Every check is bounded (see `core.safety.phrases`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from core.config import REPO_ROOT
from core.errors import PolicyRefusal, ValidationFailed
from core.safety import ages
from core.safety.lexicon import ADULT_AGE, Lexicon, lexicon
from core.safety.normalization import accented, normalize, tokens
from core.safety.phrases import Match, PhraseSet

MAX_PROMPT_CHARS = 4000

CONSENT_STATEMENT = (
    "I own this image or have the right to use it, and every person pictured in it is an "
    "adult who has consented to its use here."
)

MINOR_MESSAGE = (
    "This request was refused: it describes or implies a person under 18. "
    "Every character must be an adult, 18 or older."
)
REAL_PERSON_MESSAGE = (
    "This request was refused: it names a real person in an explicit context. "
    "Create fictional characters instead."
)


@dataclass(frozen=True)
class Finding:
    """Why a text would be refused: the rule id and the list entry or rule that matched."""

    rule: str
    evidence: str


# A prompt weight, "(red hair:1.2)" or "[x:0.8]", is no age: dropped before ages are read.
_WEIGHT = re.compile(r":\s{0,3}\d{1,3}(?:\.\d{1,4})?\s{0,3}(?=[)\]])")


_ONE_IN_A_WORD = re.compile(r"[^\W\d_]1|1[^\W\d_]")


def letter_forms(text: str) -> list[str]:
    """The letters forms of `text`: "1" reads as "i" ("k1d"), and inside a word also as "l"
    ("todd1er")."""
    forms = [normalize(text)]
    if _ONE_IN_A_WORD.search(text):
        forms.append(normalize(text.replace("1", "l")))
    return forms


@dataclass(frozen=True)
class _Exemptions:
    """What exempt phrases cover: token indices, and character spans of unspaced text."""

    tokens: frozenset[int]
    spans: list[tuple[int, int]]


def _exempt(letters: str, toks: list[str], lex: Lexicon, *, sexual: bool) -> _Exemptions:
    lists = [lex.term("exempt")] + ([] if sexual else [lex.term("exempt_names")])
    indices = frozenset(
        index for p in lists for m in p.matches(toks) for index in range(m.start, m.end)
    )
    spans = [(m.start, m.end) for p in lists for m in p.unspaced_matches(letters)]
    return _Exemptions(indices, spans)


def _first(phrases: PhraseSet, letters: str, toks: list[str], exempt: _Exemptions) -> Match | None:
    """The first term of `phrases` not wholly inside an exempt phrase."""
    found = phrases.first(toks, exempt.tokens)
    if found is not None:
        return found
    for match in phrases.unspaced_matches(letters):
        if not any(a <= match.start and match.end <= b for a, b in exempt.spans):
            return match
    return None


_NOTHING = _Exemptions(frozenset(), [])


def lex_always() -> PhraseSet:
    """The terms refused everywhere, negative prompts included."""
    return lexicon().term("always")


def _term_finding(letters: str, lex: Lexicon, *, explicit: bool) -> Finding | None:
    """The youth, always or (with sexual context) ambiguous term in one letters form."""
    toks = tokens(letters)
    found = _first(lex.term("always"), letters, toks, _NOTHING)
    if found is not None:
        return Finding("minor_term", found.term.source)
    sexual = explicit or _first(lex.term("sexual"), letters, toks, _NOTHING) is not None
    found = _first(lex.term("youth"), letters, toks, _exempt(letters, toks, lex, sexual=sexual))
    if found is not None:
        return Finding("minor_youth", found.term.source)
    if sexual:
        exempt = _exempt(letters, toks, lex, sexual=True)
        found = _first(lex.term("youth_sexual"), letters, toks, exempt)
        if found is not None:
            return Finding("minor_sexual", found.term.source)
    return None


def find_minor(
    text: str, *, explicit: bool, year: int, lex: Lexicon | None = None
) -> Finding | None:
    """Why `text` describes or implies a person under 18, or None. Pure; no length checks.

    `explicit` is the request's mode: with it (or sexual words in the text) the
    `youth_sexual` words count too. `year` is the Clock's year, for years of birth.
    """
    lex = lex or lexicon()
    for letters in letter_forms(text):
        finding = _term_finding(letters, lex, explicit=explicit)
        if finding is not None:
            return finding
    accented_term = lex.term("youth_accented").first(tokens(accented(text)))
    if accented_term is not None:
        return Finding("minor_youth", accented_term.term.source)
    rule = ages.minor_age(normalize(_WEIGHT.sub("", text), lookalikes=False), lex, year=year)
    return Finding(rule, "age") if rule is not None else None


def is_sexual(text: str, *, lex: Lexicon | None = None) -> bool:
    """Whether `text` has words of sexual context."""
    lex = lex or lexicon()
    letters = normalize(text)
    sexual = lex.term("sexual")
    return bool(sexual.first(tokens(letters)) or next(sexual.unspaced_matches(letters), None))


@lru_cache(maxsize=1)
def public_figures() -> PhraseSet:
    """Names from `data/safety/public_figures.txt` (one per line; editable)."""
    path = REPO_ROOT / "data" / "safety" / "public_figures.txt"
    names = [
        line.strip()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    return PhraseSet(names)


def check_length(text: str, field: str) -> None:
    """ValidationFailed for text past the limit or holding control characters."""
    if len(text) > MAX_PROMPT_CHARS:
        raise ValidationFailed(
            f"The {field} is {len(text):,} characters long; the limit is {MAX_PROMPT_CHARS:,}."
        )
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\r\t" for ch in text):
        raise ValidationFailed(f"The {field} contains control characters; remove them.")


def screen_prompt(
    text: str, *, year: int, nsfw: bool = True, field: str = "prompt", negative: bool = False
) -> None:
    """Refuse `text` (PolicyRefusal with MINOR_MESSAGE and a rule id) or return quietly.

    Any person under 18 is refused in every mode; `nsfw` is the request's explicit mode
    (stricter: ambiguous youth words and real people's names are refused too). `year` is
    the Clock's current year. A `negative` prompt lists what to keep out of the picture
    ("child, teen" there is good practice), so only the `always` terms are refused in it.
    """
    check_length(text, field)
    if negative:
        found = _first(lex_always(), normalize(text), tokens(normalize(text)), _NOTHING)
        if found is not None:
            raise PolicyRefusal(MINOR_MESSAGE, rule="minor_term")
        return
    finding = find_minor(text, explicit=nsfw, year=year)
    if finding is not None:
        raise PolicyRefusal(MINOR_MESSAGE, rule=finding.rule)
    if nsfw or is_sexual(text):
        if public_figures().first(tokens(normalize(text))) is not None:
            raise PolicyRefusal(REAL_PERSON_MESSAGE, rule="real_person")


def screen_muse(fields: Mapping[str, str], *, age: int, nsfw: bool, year: int) -> None:
    """Refuse a character under 18, or any field that describes one; the message names it."""
    if age < ADULT_AGE:
        raise PolicyRefusal(f"age: {MINOR_MESSAGE}", rule="minor_age")
    for name, value in fields.items():
        label = name.replace("_", " ")
        try:
            screen_prompt(value, nsfw=nsfw, field=label, year=year)
        except PolicyRefusal as refusal:
            raise PolicyRefusal(f"{label}: {refusal}", rule=refusal.rule) from None


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
