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
from functools import cached_property, lru_cache

from core.config import REPO_ROOT
from core.errors import PolicyRefusal, ValidationFailed
from core.safety import ages
from core.safety.context import ContextRules
from core.safety.lexicon import ADULT_AGE, EXEMPT_KEYS, Lexicon, lexicon
from core.safety.normalization import (
    TOKEN,
    accented,
    cased,
    is_unspaced,
    join_first_letter,
    join_letter_pairs,
    normalize,
    spelled_out,
    tokens,
)
from core.safety.phrases import Match, PhraseSet, Term

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


# A prompt weight, "(red hair:1.2)" or "[x:0.8]", is no age and no letter: dropped before
# the text is read. Weights run from 0 to 2 or so; "(age:14)" is an age field, kept.
_WEIGHT = re.compile(r":\s{0,3}(?:[0-2](?:\.\d{1,4})?|\.\d{1,4})\s{0,3}(?=[)\]])")

# A line break or tab written as its escape ("Name: Toby\\nAge: 11"), as a card pasted from
# a JSON string or a script's source holds them: read as the break it stands for, or the
# escape's letter would glue to the next word ("nage").
_ESCAPED_BREAK = re.compile(r"\\[nr]|\\t(?![a-z])")


# A tag of the image boards' kind ("1girl", "2boys", "solo_focus"): the request is written
# in their tags, where "jk", "jc", "js" are the Japanese school abbreviations, never initials.
_BOORU_TAG = re.compile(r"(?<![^\W\d_])(?:[1-6i]\+? ?(?:girl|boy|other)s?)(?![^\W\d_])")

# A run of three or more of one letter ("chiiiild"): `normalize` shortens it to two, which
# reads "teeeen" but not "chiild"; read as one letter too.
_STRETCHED = re.compile(r"([^\W\d_])\1{2,}")
# Pictures of a child: the emoji for a girl, a boy, a child, a baby (any skin tone).
_YOUTH_EMOJI = re.compile("[\U0001f466\U0001f467\U0001f476\U0001f9d2\U0001f6b8]")

_ONE_IN_A_WORD = re.compile(r"[^\W\d_]1|1[^\W\d_]")
# A word cut into short pieces by hyphens ("to-ddl-er", "ba-by"): pieces of one to three
# letters, at least two of them; longer pieces are words of their own ("kid-friendly").
_CUT_WORD = re.compile(r"(?<![^\W\d_])[^\W\d_]{1,3}(?:-[^\W\d_]{1,3})+(?![^\W\d_])")
# A hashtag written in camel case ("#littleGirl", "#anakSD"): a new word at each capital
# after a small letter.
_HASHTAG = re.compile(r"#\w{2,40}")
_CAMEL_HUMP = re.compile(r"(?<=[a-z])(?=[A-Z])")


def letter_forms(text: str) -> list[str]:
    """The letters forms of `text`: "1" reads as "i" ("k1d"), and inside a word also as "l"
    ("todd1er"); a word cut by hyphens into short pieces reads joined ("to-ddl-er"); a run
    of spaced letters read with its first letter the other way, joined or apart ("o f e t i
    t a", "a d o l e s c e n t")."""
    forms = [normalize(text)]
    variant = join_first_letter(text)
    if variant is not None and variant not in forms:
        forms.append(variant)
    if _ONE_IN_A_WORD.search(text):
        forms.append(normalize(text.replace("1", "l")))
    joined = cut_words_joined(text)
    if joined is not None:
        forms.append(normalize(joined))
    if _STRETCHED.search(text):  # "chiiiild": a run read as one letter too ("teeeen" keeps two)
        forms.append(normalize(_STRETCHED.sub(r"\1", text)))
    if "#" in text:  # "#littleGirl", "#anakSD": a hashtag's words, apart
        split = _HASHTAG.sub(lambda found: _CAMEL_HUMP.sub(" ", found.group(0)), text)
        if split != text:
            forms.append(normalize(split))
    return forms


def cut_words_joined(text: str) -> str | None:
    """`text` with its words cut by hyphens into short pieces joined ("a-g-e-d t-w-e-l-v-e"
    reads "aged twelve"), or None if it has none."""
    if "-" not in text:
        return None
    joined = _CUT_WORD.sub(lambda found: found.group(0).replace("-", ""), text)
    return joined if joined != text else None


@dataclass(frozen=True)
class _Exemptions:
    """What exempt phrases cover: token indices, and character spans of unspaced text."""

    tokens: frozenset[int]
    spans: list[tuple[int, int]]


# Short words a title leaves in lower case ("Billy the Kid", "Sweet Child o' Mine").
# Also a possessive "s" ("Destiny's Child") and the small words of other languages' titles
# ("Les Enfants du Paradis", "El Niño").
_TITLE_SMALL_WORDS = frozenset(
    {"the", "of", "o", "n", "in", "a", "an", "by", "me", "on", "and", "s", "r", "du", "de",
     "des", "la", "le", "les", "el", "los", "las", "di", "del", "der", "die", "das", "von",
     "van", "y", "et", "e", "und"}
)  # fmt: skip


@lru_cache(maxsize=512)
def _as_name(source: str) -> re.Pattern[str] | None:
    """A pattern finding list entry `source` written as a name: each word capitalised
    (small words aside), words apart by a few non-letters; None for a script without
    capitals (there the entry is taken as written). Literals only: nothing backtracks."""
    stem = source.endswith("*")
    words = re.findall(r"[^\W\d_]+", cased(source.strip("*")))  # accents as `cased` drops them
    if not words or all(w.upper() == w.lower() for w in words):
        return None
    parts = []
    for word in words:
        rest = "(?i:" + re.escape(word[1:]) + ")"
        if word in _TITLE_SMALL_WORDS:
            parts.append("(?i:" + re.escape(word) + ")")
        else:
            parts.append(re.escape(word[0].upper()) + rest)
    ending = r"\w{0,20}" if stem else "(?:e?s)?"
    return re.compile(r"(?<!\w)" + r"[\W_]{1,3}".join(parts) + ending + r"(?!\w)")


def _written_as_names(names: PhraseSet, toks: list[str], text: str) -> list[Match]:
    """The name matches in `toks` whose entry appears in `text` written as a name at least
    as many times as it matched: "Kid Rock" is the singer, "a kid rock climbing" is a kid,
    and "Kid Rock and a kid rock climbing" exempts neither."""
    by_term: dict[Term, list[Match]] = {}
    for match in names.matches(toks):
        by_term.setdefault(match.term, []).append(match)
    original = cased(text) if by_term else ""
    kept = []
    for term, found in by_term.items():
        pattern = _as_name(term.source)
        if pattern is None or sum(1 for _ in pattern.finditer(original)) >= len(found):
            kept += found
    return kept


_NAME_KEYS = ("exempt_names", "exempt_young_titles", "exempt_titles")
_AS_THING_KEYS = ("exempt_young_titles", "exempt_titles")


class _Context:
    """What every exemption of one request is read against; the guards are read only once
    some exemption matched (most requests have none)."""

    def __init__(self, text: str, lex: Lexicon, *, explicit: bool, letters: str) -> None:
        self.text, self.lex, self.explicit, self.letters = text, lex, explicit, letters
        self.toks = tokens(letters)
        self.sexual_words = _first(lex.term("sexual"), letters, self.toks, _NOTHING) is not None

    @cached_property
    def youth_context(self) -> bool:
        """A child's world is named: no phrase or name exemption holds."""
        found = _first(self.lex.term("youth_context"), self.letters, self.toks, _NOTHING)
        return found is not None

    @cached_property
    def rules(self) -> ContextRules:
        """The context rules (similes, endearments, professions, adult ages) of the request."""
        return ContextRules(self.text, self.lex)

    @cached_property
    def numbered(self) -> frozenset[str]:
        """Entries followed by a bare number under 18: none of them holds."""
        return _numbered_entries(self.text, self.lex)

    @cached_property
    def bare_minor(self) -> bool:
        """Whether a bare number under 18 follows any word of the request ("a baby goat, 9")."""
        digits_form = normalize(self.text, lookalikes=False)
        toks = ages.digit_tokens(digits_form)
        reader = ages.Reader(toks, self.lex, year=0, glued=ages.glued_digits(digits_form))
        return any(reader.bare_minor_after(i) for i, t in enumerate(toks) if t.isdecimal())


def _numbered_entries(text: str, lex: Lexicon) -> frozenset[str]:
    """The exemption entries that a bare number under 18 follows ("Kid Rock, 10"), read
    in the digits form; for Chinese/Japanese entries, any such number in the text."""
    digits_form = normalize(text, lookalikes=False)
    toks = ages.digit_tokens(digits_form)
    reader = ages.Reader(toks, lex, year=0, glued=ages.glued_digits(digits_form))
    found: set[str] = set()
    joined = " ".join(toks)
    any_bare: bool | None = None
    for key in EXEMPT_KEYS:
        phrases = lex.exempt_in(key, "digits")
        found |= {m.term.source for m in phrases.matches(toks) if reader.bare_minor_after(m.end)}
        unspaced = {m.term.source for m in phrases.unspaced_matches(joined)}
        if unspaced and any_bare is None:
            any_bare = any(reader.bare_minor_after(i) for i, t in enumerate(toks) if t.isdecimal())
        if unspaced and any_bare:
            found |= unspaced
    return frozenset(found)


def _as_thing(match: Match, toks: list[str], lex: Lexicon) -> bool:
    """Whether a title names a thing: an `artifacts` word just after it or just before it
    ("a Teen Titans logo", "a poster for Karate Kid"), not the characters themselves."""
    artifacts = lex.term("artifacts")
    ahead = range(match.end, min(len(toks), match.end + 2))
    behind = range(max(0, match.start - 3), match.start)
    return any(artifacts.end_at(toks, index) for index in (*ahead, *behind))


def _unspaced_as_thing(match: Match, letters: str, lex: Lexicon) -> bool:
    """`_as_thing` for a Chinese/Japanese title: an artifact right after it ("のポスター")."""
    rest = letters[match.end : match.end + 12].lstrip()
    rest = rest.removeprefix("の").removeprefix("的").lstrip()
    artifacts = lex.term("artifacts")
    return any(found.start == 0 for found in artifacts.unspaced_matches(rest)) or bool(
        artifacts.first(tokens(rest)[:1])
    )


def _holds(key: str, match: Match, ctx: _Context) -> bool:
    """Whether one exemption match holds under the context guards."""
    if match.term.source in ctx.numbered:
        return False
    word_level = key in ("exempt", "exempt_brands") and len(match.term.words) == 1
    return word_level or not ctx.youth_context


def _exempt(
    letters: str,
    toks: list[str],
    lex: Lexicon,
    ctx: _Context,
    form: str,
    *,
    rules_in_child_world: bool = False,
) -> _Exemptions:
    """What the exemption lists cover in one form of the request.

    Brands and phrases hold in every mode; names and titles only without sexual words;
    titles of young characters only as things (a poster, never the characters: the studio
    makes no picture of a minor in any mode), other titles so in explicit mode. The context
    rules (`core.safety.context`) add the youth words a simile, endearment, profession or
    adult age holds. None holds beside a bare number under 18 or in a child's world (see
    `_Context`), except the context rules if `rules_in_child_world` (for the common words,
    which count there only because of that world)."""
    keys = ["exempt", "exempt_brands"]
    if not ctx.sexual_words:
        keys += list(_NAME_KEYS)
    indices: set[int] = set()
    spans: list[tuple[int, int]] = []
    for key in keys:
        phrases = lex.exempt_in(key, form)
        if key == "exempt_names" or key == "exempt_young_titles":
            found = _written_as_names(phrases, toks, ctx.text)
        else:
            found = list(phrases.matches(toks))
        unspaced = list(phrases.unspaced_matches(letters))
        if key == "exempt":  # "high school teacher*": her school, unless another is named
            found = [m for m in found if not _staff_with_others(m, toks, ctx, form)]
        if key == "exempt_young_titles" or (ctx.explicit and key in _AS_THING_KEYS):
            found = [m for m in found if _as_thing(m, toks, lex)]
            unspaced = [m for m in unspaced if _unspaced_as_thing(m, letters, lex)]
        indices |= {i for m in found if _holds(key, m, ctx) for i in range(m.start, m.end)}
        spans += [(m.start, m.end) for m in unspaced if _holds(key, m, ctx)]
    indices |= _modifying(letters, toks, ctx, form)
    if (rules_in_child_world or not ctx.youth_context) and not ctx.bare_minor:
        held = ctx.rules.held(letters, toks, form, frozenset(indices))
        indices |= held.tokens
        spans += held.spans
    return _Exemptions(frozenset(indices), spans)


def _staff_with_others(match: Match, toks: list[str], ctx: _Context, form: str) -> bool:
    """Whether an exempt phrase names a staff member ("high school teacher") and the
    request names someone else not stated to be an adult ("with a student"): the school
    word may then be that person's."""
    staff = ctx.lex.context_in("staff", form)
    named = any(staff.end_at(toks, index) for index in range(match.start, match.end))
    return named and ctx.rules.someone_else(toks, match.start, match.end)


def _modifying(letters: str, toks: list[str], ctx: _Context, form: str) -> set[int]:
    """The tokens of `youth_modifiers` words that describe the thing right after them ("a
    baby koala", "the Baby Boom"): a `young_things` word next to it (a space or hyphen apart,
    no comma), and after that no `worn` or person word ("a baby bear costume", "a baby fox
    girl"). None holds in a child's world or with a bare number under 18 in the request
    (read as a person's age)."""
    modifiers = ctx.lex.modifier_in("youth_modifiers", form)
    found = [m for m in modifiers.matches(toks) if m.end < len(toks) or m.start > 0]
    if not found or ctx.youth_context or ctx.bare_minor:
        return set()
    things, worn = (ctx.lex.modifier_in(k, form) for k in ("young_things", "worn"))
    spans = [m.span() for m in TOKEN.finditer(letters)]
    held: set[int] = set()
    for match in found:
        if _modifies_before(letters, toks, spans, match, ctx, form) or _animals_young(
            toks, match, ctx, form
        ):
            held |= set(range(match.start, match.end))  # "carciofini baby", "maíz baby"
            continue
        head_end = things.end_at(toks, match.end) if match.end < len(toks) else 0
        if not head_end or letters[spans[match.end - 1][1] : spans[match.end][0]].strip():
            continue
        after = head_end < len(toks) and (
            worn.end_at(toks, head_end) or ctx.lex.phrase("persons").end_at(toks, head_end)
        )
        if after:  # "a baby bear costume", "a baby fox girl": someone young
            continue
        held |= set(range(match.start, match.end))
    return held


def _modifies_before(
    letters: str,
    toks: list[str],
    spans: list[tuple[int, int]],
    match: Match,
    ctx: _Context,
    form: str,
) -> bool:
    """Whether a `youth_modifiers` word comes right after the `young_things` word it
    describes, as Romance languages place it ("carciofini baby", "una pizza baby"): no
    comma between, and no `worn` or person word after it ("un maglione baby" is worn)."""
    things = ctx.lex.modifier_in("young_things", form)
    start = next(
        (s for s in range(max(0, match.start - things.max_words), match.start)
         if things.end_at(toks, s) == match.start),
        -1,
    )  # fmt: skip
    if start < 0 or letters[spans[match.start - 1][1] : spans[match.start][0]].strip() != "":
        return False
    if match.end >= len(toks):
        return True
    worn, persons = ctx.lex.modifier_in("worn", form), ctx.lex.phrase("persons")
    return not (worn.end_at(toks, match.end) or persons.end_at(toks, match.end))


def _animals_young(toks: list[str], match: Match, ctx: _Context, form: str) -> bool:
    """Whether a `youth_modifiers` word names an animal's young by its possessive ("a goat
    with her two kids", "بکری اپنے بچوں کے ساتھ"): a possessive right before it (a number
    word between at most), a `young_things` animal a few tokens before that, and no person
    named in the request (the possessive could be a woman's)."""
    possessives = ctx.lex.context_in("possessives", form)
    owner = match.start - 1
    if owner > 0 and ages.numbers_in(toks[owner : owner + 1], ctx.lex):
        owner -= 1  # "her two kids"
    if owner < 1 or possessives.end_at(toks, owner) != owner + 1:
        return False
    things = ctx.lex.modifier_in("young_things", form)
    if not any(things.end_at(toks, at) for at in range(max(0, owner - _ANIMAL_REACH), owner)):
        return False
    return not (ctx.rules.adult_named or ctx.rules.person_named(toks, match))


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
# How far before an animal's young's possessive the animal may stand ("a goat with her").
_ANIMAL_REACH = 3


def lex_always() -> PhraseSet:
    """The terms refused everywhere, negative prompts included."""
    return lexicon().term("always")


def _term_finding(letters: str, lex: Lexicon, ctx: _Context) -> Finding | None:
    """The youth, always or (with sexual context) ambiguous term in one letters form of
    the request."""
    toks = tokens(letters)
    found = _first(lex.term("always"), letters, toks, _NOTHING)
    if found is not None:
        return Finding("minor_term", found.term.source)
    youth, ambiguous = lex.term("youth"), ctx.explicit or ctx.sexual_words
    # A common word ("pige", "jente", "daughter") counts in a child's world too ("hjem fra
    # skole"), unless a context rule holds it there ("my daughter, 35, with a stroller").
    child_world = not ambiguous and ctx.youth_context
    if _first(youth, letters, toks, _NOTHING) is None and (
        not (ambiguous or child_world)
        or _first(lex.term("youth_sexual"), letters, toks, _NOTHING) is None
    ):
        return None  # no youth word at all: no exemption to read
    exempt = _exempt(letters, toks, lex, ctx, "letters")
    found = _first(youth, letters, toks, exempt)
    if found is not None:
        return Finding("minor_youth", found.term.source)
    if child_world:
        exempt = _exempt(letters, toks, lex, ctx, "letters", rules_in_child_world=True)
    if ambiguous or child_world:
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
    text = _ESCAPED_BREAK.sub("\n", text)
    emoji = _YOUTH_EMOJI.search(text)
    if emoji is not None:  # "a 👧 on a bed"
        return Finding("minor_youth", emoji.group(0))
    unweighted = _WEIGHT.sub("", text)  # "(loli:1.2)": the weight's digits are no letters
    forms = letter_forms(unweighted)
    ctx = _Context(unweighted, lex, explicit=explicit, letters=forms[0])
    for letters in forms:
        finding = _term_finding(letters, lex, ctx)
        if finding is not None:
            return finding
    generic = (lex.term("youth_sexual"), lex.context_in("simile_words", "letters"))
    for word in spelled_out(unweighted):  # "K i n d im Garten": spelled out, no common word
        found = next((m for words in generic if (m := words.first([word]))), None)
        if found is not None:
            return Finding("minor_sexual", found.term.source)
    beside_cjk = join_letter_pairs(text)  # "ＪＫが", "Ｊ Ｃ": Latin letters beside Japanese
    if beside_cjk is not None or is_unspaced(text) or _BOORU_TAG.search(forms[0]):
        found = lex.term("youth_unspaced").first(tokens(beside_cjk or forms[0]))
        if found is not None:  # "JC" beside Japanese text is a schoolgirl, not initials
            return Finding("minor_youth", found.term.source)
    found = _tag_field(forms[0], lex)
    if found is not None:  # "JK, sailor uniform, anime": a tag of its own
        return Finding("minor_youth", found.term.source)
    accents = accented(unweighted)
    accent_toks = tokens(accents)
    accented_term = lex.term("youth_accented").first(accent_toks)
    if accented_term is not None:  # "niña" is a girl, unless a name holds it ("La Niña")
        exempt = _exempt(accents, accent_toks, lex, ctx, "accents")
        accented_term = lex.term("youth_accented").first(accent_toks, exempt.tokens)
    if accented_term is not None:
        return Finding("minor_youth", accented_term.term.source)
    named = ages.named_first(unweighted)
    joined = cut_words_joined(unweighted)  # "a-g-e-d t-w-e-l-v-e": the age read joined too
    for source in (unweighted,) if joined is None else (unweighted, joined):
        digits_form = normalize(ages.vietnamese_teens(source), lookalikes=False)
        rule = ages.minor_age(digits_form, lex, year=year, subject_named=named)
        if rule is not None:
            return Finding(rule, "age")
    return None


def _tag_field(letters: str, lex: Lexicon) -> Match | None:
    """A `youth_unspaced` abbreviation standing alone between commas, a tag of a list
    ("JK, sailor uniform, train station"); "JK Rowling, novels" is a name."""
    if "," not in letters:
        return None
    for field in letters.split(","):
        toks = tokens(field)
        found = lex.term("youth_unspaced").first(toks) if len(toks) == 1 else None
        if found is not None:
            return found
    return None


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
