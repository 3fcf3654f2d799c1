"""Ages said every way a request can say them, read from the digits form of the text.

Each rule looks at a number (digits, number words, "dix sept", kanji) and a few words
around it, never further than `WINDOW` tokens, so the cost is linear in the request:

- a unit after it: "12 years old", "12yo", "12 ans", "12歳"; months/weeks old is an infant;
- a word before it: "aged 12", "age of 12"; "under 18", "younger than 16", "18歳未満";
- an apparent age: "looks about 12", "appears to be 10", "выглядит на 14 лет", "wie 13 aussieht";
- a year of birth that makes the person a minor in the Clock's year: "born in 2014";
- a bare number after a person or relative: "her cousin, 10", "she is 12";
- school grades: "7th grade", "grade 4", "year 9 student"; "her 10th birthday";
- a class graduating five or more years ahead: "class of 2031" in 2026.

Context keeps ages of things and spans of time apart: "whisky aged 12 years", "a 10-year-old
car", "married for 12 years", "a man 6 feet tall", "10 years younger" (but an age set off
by a comma after a clause whose subject is a person is that person's: "a teacher marking
papers, aged 14"); and, when no one but adults is named and no sexual word is said, a
teacher's own class ("a teacher ... marking papers for her year 9 class"), a competition's
age class ("campeonato sub-17") and a grade's exam an adult sits at an adult school ("9.
klasses prøve på VUC").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.errors import ValidationFailed
from core.safety.lexicon import ADULT_AGE, Lexicon
from core.safety.normalization import INDIC_MARKS, is_unspaced, normalize
from core.safety.phrases import PhraseSet

WINDOW = 3
# Words naming someone other than an adult read per request (see `Reader._people_named`).
_PEOPLE_READ = 8
# How far back an animal or thing may own an age in weeks or months ("a calf in a barn, 2
# weeks old"); a person or relative word in between owns it instead.
THING_REACH = 6
# How far from "in three years" its mark of adulthood ("18", "an adult", "vote") may stand.
UNTIL_REACH = 8
# How far after "half the age of" the age it halves may stand.
HALF_REACH = 8
# The oldest age a person is given; a larger number is no one's age.
OLDEST_AGE = 120
# How far from a count of summers or candles a cue ("seen", "birthday cake") may stand.
LIFE_CUE_REACH = 6
# How far before a possessive school year ("her year 9 class") its teacher may stand.
OWNER_REACH = 12
# Real prompts hold a few dozen numbers at most (weights such as "(x:1.2)" are dropped
# first); past this the text is refused as unreadable, so the work stays bounded.
MAX_NUMBERS = 300
_DIGIT_TOKENS = re.compile(r"\d+|(?:[^\W\d_]|[" + INDIC_MARKS + r"])+")
_CONNECTORS = frozenset({"and", "et", "y", "und", "e", "i", "и", "en", "och"})
_ORDINAL_ENDINGS = frozenset({"th", "st", "nd", "rd", "e", "er", "eme", "o", "a", "te", "ste", "m"})
# "12-м этаже": Russian ordinal endings after a hyphen ("-м", folded to "m").
_SPACED_ORDINAL_ENDINGS = frozenset({"th", "st", "nd", "rd", "eme", "m"})
_KANJI_DIGITS = {
    "〇": 0, "一": 1, "二": 2, "两": 2, "兩": 2, "三": 3, "四": 4,
    "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
}  # fmt: skip
KANJI_AGE = re.compile(r"([〇一二两兩三四五六七八九十]{1,4})(?=[歳岁歲才])")
# The numerals of cheques and contracts ("拾肆岁": 14), read as the common ones before an age.
_FINANCIAL = str.maketrans("零壹贰貳叁參肆伍陆陸柒捌玖拾", "〇一二二三三四五六六七八九十")
_FINANCIAL_AGE = re.compile(
    r"[〇一二两兩三四五六七八九十零壹贰貳叁參肆伍陆陸柒捌玖拾]{1,4}(?=[歳岁歲才]|[个個ヶかカケ]月)"
)
# A kanji numeral before a unit of months ("二十个月大", "十ヶ月") or "years ago" ("十三年前"):
# written as digits, so the rules for months old and births read it like "20个月大".
_KANJI_MONTHS = re.compile(r"([〇一二两兩三四五六七八九十]{1,4})(?=[个個ヶかカケ]月|年前)")
BIRTH_YEARS = range(1900, 2200)
# A university class graduates at about 22 after 4 years: one graduating 5 or more years
# ahead has members 17 or younger now (a school class, younger still).
GRADUATION_LEAD = 5
SCHOOL_GRADUATION_LEAD = 1
SCHOOL_GRADES = range(0, 13)
# After an age, a word like these is a verb, not an adjective of the thing ("a 12 year old
# eating cheese", "a 7 year old bakes bread"; but "a 10 year old red car").
_VERB_LIKE = re.compile(r"^(?:\w{2,}ing|\w{3,}ed|\w{2,}[^s\W]s)$")
# The small units an age may be counted in, with how many of each make a year.
_SMALL_UNITS = (("month_counts", 12), ("week_counts", 52), ("day_counts", 365))
_ARTICLES = frozenset({"a", "an", "the", "her", "his", "their", "my", "your", "some"})
_COMMAS = frozenset({",", "，", "、"})
# An age glued to its unit in one token ("35살"): the digits, then letters.
_GLUED_AGE = re.compile(r"^(\d{1,3})[^\W\d_]")
# "of" after a number: a part of a count ("1 of 3 sisters", "10 of them"), no age.
_COUNT_OF = frozenset({"of", "out", "von"})
# "of" before a count ("a boy of 12 summers", "una chica de 14 primaveras"): what it counts is his.
_OF = frozenset({"of", "de", "di", "von", "van", "od", "av", "af"})
# Words that ask for a picture of someone ("paint me at 12", "a photo of me at 12").
_DEPICTING = frozenset(
    {"of", "draw", "paint", "picture", "photo", "portrait", "show", "render", "imagine",
     "depict", "sketch", "make", "generate", "create", "de", "von", "zeig", "male", "dibuja",
     "pinta", "dessine", "peins", "foto", "mia", "mio"}
)  # fmt: skip
# The speaker as the object of a request ("paint me at 14", "ich mit 13", "una foto mía").
_SELF_WORDS = frozenset(
    {"me", "moi", "mich", "ich", "mir", "mia", "mio", "mij", "mig", "meg", "eu"}
)
# Particles between a Chinese/Japanese age and the noun it describes ("3歳の猫", "3岁的猫").
_UNSPACED_PARTICLES = ("の", "的", "な")


@dataclass(frozen=True)
class Number:
    """A number in the token list: tokens [start, end), its value, and how it was written."""

    start: int
    end: int
    value: int
    digits: bool
    ordinal: bool


def digit_tokens(digits_form: str) -> list[str]:
    """Tokens of the digits form, numbers split from letters ("12yo" -> "12", "yo")."""
    return _DIGIT_TOKENS.findall(digits_form)


def glued_digits(digits_form: str) -> frozenset[int]:
    """Indices of the digit tokens written glued to the letters after them ("7e", "1a")."""
    found = list(_DIGIT_TOKENS.finditer(digits_form))
    return frozenset(
        index
        for index, (this, after) in enumerate(zip(found, found[1:], strict=False))
        if this.group(0).isdecimal() and this.end() == after.start()
    )


def numbers_in(
    toks: Sequence[str], lex: Lexicon, glued: frozenset[int] | None = None
) -> list[Number]:
    """Every number: digit runs one by one, runs of number words summed ("dix sept" = 17).

    An ending of one letter makes an ordinal only glued to its digits (`glued`): "7e
    classe" is one, "mon fils, 12, à la plage" is not."""
    found: list[Number] = []
    index = 0
    while index < len(toks):
        token = toks[index]
        if token.isdecimal() and len(token) <= 4:
            ending = toks[index + 1] if index + 1 < len(toks) else ""
            ordinal = ending in _ORDINAL_ENDINGS and (
                glued is None or index in glued or ending in _SPACED_ORDINAL_ENDINGS
            )
            found.append(Number(index, index + 1, int(token), True, ordinal))
            index += 1
            continue
        if token in lex.ordinals:
            after = toks[index + 1] if index + 1 < len(toks) else ""
            if lex.ordinals[token] < 10 and lex.numbers.get(after) == 10:
                # Arabic "الثالثة عشرة" ("the third ten"): thirteen, as ages are said
                found.append(Number(index, index + 2, lex.ordinals[token] + 10, False, False))
                index += 2
                continue
            found.append(Number(index, index + 1, lex.ordinals[token], False, True))
            index += 1
            continue
        if token not in lex.numbers:
            index += 1
            continue
        value, end = lex.numbers[token], index + 1
        while end < len(toks):
            if toks[end] in lex.numbers:
                value, end = value + lex.numbers[toks[end]], end + 1
            elif toks[end] in _CONNECTORS and end + 1 < len(toks) and toks[end + 1] in lex.numbers:
                end += 1
            else:
                break
        found.append(Number(index, end, value, False, False))
        index = end
    return found


def _after_fillers(fillers: frozenset[str], toks: Sequence[str], index: int) -> int:
    """How far back from `index` the run of filler words ("is", "only", "about") reaches."""
    start = index
    while start > 0 and index - start < WINDOW and toks[start - 1] in fillers:
        start -= 1
    return start


_OPENING, _CLOSING = ("(", "[", "（"), (")", "]", "）")
# A sex letter glued to an age in brackets, the way forums write it: "me (15F)", "(16w)"
_SEX_LETTERS = ("f", "m", "w")


def bracketed_digits(digits_form: str) -> frozenset[int]:
    """Indices of the digit tokens written alone in brackets ("my nephew (9)", "ゆい（13）"),
    or with a sex letter glued after them ("me (15F)"): the way an age is noted after a
    person, whatever word follows the bracket."""
    found = list(_DIGIT_TOKENS.finditer(digits_form))
    return frozenset(
        index
        for index, match in enumerate(found)
        if match.group(0).isdecimal()
        and digits_form[max(0, match.start() - 1) : match.start()] in _OPENING
        and (
            digits_form[match.end() : match.end() + 1] in _CLOSING
            or (
                digits_form[match.end() : match.end() + 1] in _SEX_LETTERS
                and digits_form[match.end() + 1 : match.end() + 2] in _CLOSING
            )
        )
    )


def dotted_digits(digits_form: str) -> frozenset[int]:
    """Indices of the digit tokens written with a dot after them and a word next ("14.
    doğum günü", "zum 14. Geburtstag"): an ordinal in the languages that write one so."""
    found = list(_DIGIT_TOKENS.finditer(digits_form))
    return frozenset(
        index
        for index, match in enumerate(found)
        if match.group(0).isdecimal()
        and digits_form[match.end() : match.end() + 2] == ". "
        and index + 1 < len(found)
        and found[index + 1].start() == match.end() + 2
    )


def after_commas(digits_form: str) -> frozenset[int]:
    """Indices of the tokens a comma stands right before ("papers, aged 14": "aged"), the
    clause boundaries an apposition is set off by."""
    found = list(_DIGIT_TOKENS.finditer(digits_form))
    return frozenset(
        index
        for index, match in enumerate(found)
        if digits_form[max(0, match.start() - 2) : match.start()].strip() in _COMMAS
    )


class Reader:
    """The age rules over one request's tokens; list lookups are memoised per token, so
    every rule costs a bounded number of dict reads whatever the request holds."""

    def __init__(
        self,
        toks: Sequence[str],
        lex: Lexicon,
        year: int,
        glued: frozenset[int] = frozenset(),
        bracketed: frozenset[int] = frozenset(),
        commas: frozenset[int] = frozenset(),
        subject_named: bool = False,
        dotted: frozenset[int] = frozenset(),
    ) -> None:
        self.toks, self.lex, self.year, self.glued = toks, lex, year, glued
        self.bracketed, self.commas, self.dotted = bracketed, commas, dotted
        self.subject_named = subject_named  # the first token may be a name (`named_first`)
        self._ends: dict[tuple[str, int], int] = {}
        self._people: tuple[bool, tuple[int, ...]] | None = None
        self._numbers: list[Number] | None = None

    def phrase(self, name: str) -> PhraseSet:
        return self.lex.phrase(name)

    def end_of(self, name: str, index: int) -> int:
        """Where a phrase of list `name` starting at token `index` ends (0 if none does).

        A Chinese or Japanese entry starts a token that begins with it ("歳の女の子")."""
        key = (name, index)
        if key not in self._ends:
            end = 0
            if 0 <= index < len(self.toks):
                phrases = self.phrase(name)
                end = phrases.end_at(self.toks, index)
                if not end and phrases.starts_unspaced(self.toks[index]):
                    end = index + 1
            self._ends[key] = end
        return self._ends[key]

    def ends_before(self, name: str, index: int, gap: int = 0) -> int:
        """The start of a phrase of list `name` ending at most `gap` tokens before `index`,
        or -1."""
        phrases = self.phrase(name)
        for end in range(index, max(1, index - gap) - 1, -1):
            if phrases.could_end_with(self.toks[end - 1]):
                for start in range(max(0, end - phrases.max_words), end):
                    if self.end_of(name, start) == end:
                        return start
            if phrases.ends_unspaced(self.toks[end - 1]):
                return end - 1
        return -1

    def near(self, name: str, start: int, stop: int) -> bool:
        """Whether a phrase of list `name` starts at a token in [start, stop)."""
        return any(self.end_of(name, index) for index in range(max(0, start), stop))

    def _is(self, names: tuple[str, ...], index: int) -> bool:
        return any(self.end_of(name, index) for name in names)

    def head_is_thing(
        self, indices: range, kinds: tuple[str, ...] = ("objects", "measures")
    ) -> bool:
        """Whether the noun an age describes, read over `indices` (nearest first, up to a
        stop word such as "with"), is one of `kinds` (a thing, an animal, a measure), not a
        person."""
        stops, fillers = self.lex.age_words["stops"], self.lex.age_words["fillers"]
        forward = indices.step > 0
        if not forward and 0 <= indices.start < len(self.toks):
            # "a house that is 9 years old", "the bridge, which is 12 years old": a relative
            # clause ends here ("who is" is none: a person's); read the noun before it
            clause = self.ends_before("relative_clauses", indices.start + 1)
            if clause > 0:
                return self.head_is_thing(range(clause - 1, clause - 1 - WINDOW, -1), kinds)
        for index in indices:
            if not 0 <= index < len(self.toks):
                return False
            if forward and index > indices.start and _VERB_LIKE.search(self.toks[index - 1]):
                return False  # "a 12 year old eating cheese": a verb ends the noun phrase
            if not forward and any(
                0 <= self.ends_before(kind, index + 1) < index for kind in kinds
            ):
                return True  # read back, a thing's name may hold a stop word: "con chó" (dog)
            if self.toks[index] in stops:  # "with", and articles: "a photo of a 15yo"
                return False
            if self.toks[index] in fillers:  # "un vino de 12 años", "a girl of 12 years"
                continue
            if self._is(("persons", "relations"), index):
                return False
            if self._is(kinds, index):
                if self._is(("agents",), index + 1):  # "a 16 year old whisky drinker"
                    return False
                # "a 13-year-old painting a mural": a verb, not "a 13-year-old painting"
                verb = forward and _VERB_LIKE.search(self.toks[index]) is not None
                return not (
                    verb and index + 1 < len(self.toks) and self.toks[index + 1] in _ARTICLES
                )
        return False

    def not_an_age_after(self, index: int) -> bool:
        """The word after a bare number makes it a measure, a time, a thing or a count."""
        if index >= len(self.toks) or self._is(("age_units",), index):
            return False
        if self.toks[index] in _COUNT_OF and index not in self.commas:  # "1 of 3 sisters"
            return True
        return self.toks[index].isdecimal() or self._is(("objects", "ago", "measures"), index)

    def with_unit(self, number: Number) -> str | None:
        """ "12 years old", "6 months old", "18歳未満"; not "a 10-year-old car", "for 12 years"."""
        toks = self.toks
        if number.ordinal and not number.digits and self.end_of("own_years", number.end):
            # "su decimocuarto año en el tribunal": the Nth year of something, no count of
            # years (`year_of_life` read it first); Arabic "في العاشرة من عمره" is an age
            return None
        unit_end = self.end_of("age_units", number.end)
        infant_end = self.end_of("infant_units", number.end)
        end = max(unit_end, infant_end)
        if not end:
            return None
        # "hace 12 años", "12 anni fa" are spans of time; "12 years old" never is.
        bare = self.end_of("bare_units", number.end) == unit_end and not infant_end
        # "выглядит на 14 лет", "wygląda na 13 lat": after "looks", "на" is no span of time.
        looks = self.ends_before("apparent", number.start, gap=2) >= 0
        span_of_time = not looks and self._span_word_before(number.start)
        if span_of_time and self._person_before_span(number.start):
            span_of_time = False  # "djevojka od 14 godina": "od" is "of" after a person
        if bare and (span_of_time or self._is(("ago",), end)):
            return None
        sign = self.difference_sign(number)
        value = self.relative_value(number, sign) if sign else None
        if value is not None:  # "her daughter, 25 years younger", "두 살 어린", "iki yaş küçük"
            return "minor_age" if 0 <= value < ADULT_AGE else None
        if sign and not self.end_of("under_after", number.end):
            return None  # a difference, no other age stated: no one's age ("18 yaşından küçük"
            # is a bound, `under_after`)
        if self.end_of("comparatives", end):
            return None  # "dos años menor que su hermano": a difference between two ages
        # With its unit said, the number is an age; only a thing can still own it ("a 10
        # year old car"); a measure nearby ("16 years old, 5 feet tall") describes the person.
        ahead = range(end, end + WINDOW)
        behind = range(number.start - 1, number.start - 1 - WINDOW, -1)
        thing_behind = self.head_is_thing(behind, ("objects",))
        # "a teacher marking papers, 14 years old": set off, hers; never an age in months
        # (one who acts is no infant: "a woman holding a puppy, 3 months old")
        if thing_behind and unit_end and self._person_clause_before(number.start):
            thing_behind = False
        if self.head_is_thing(ahead, ("objects",)) or thing_behind:
            return None
        if self.unspaced_thing_after_unit(number.end):  # "3歳の猫", "3岁的猫"
            return None
        if infant_end and not unit_end and self._thing_before(number.start):
            return None  # "a calf in a barn, 2 weeks old": an animal's weeks, no baby named
        if infant_end and not unit_end and self.end_of("frequencies", infant_end):
            return None  # "3 days a week", "2 dni w tygodniu": a rate, no baby's age
        # "under 18 years old", "de moins de 18 ans": an `under` word before counts as well.
        under = (
            bool(self.end_of("under_after", end) or self.end_of("under_after", number.end))
            or self.phrase("under_after").in_unspaced(toks[end - 1])
            or self.ends_before("under", number.start) >= 0
        )
        limit = ADULT_AGE + 1 if under else ADULT_AGE
        if infant_end and not unit_end and not under and self._adult_in_small_units(number):
            return None  # "a man who is 400 months old": 33 years, counted in months
        return "minor_age" if infant_end or number.value < limit else None

    def _adult_in_small_units(self, number: Number) -> bool:
        """Whether `number`, counted in the months, weeks or days said after it, makes 18
        years or more ("400 months", "9000 days")."""
        return any(
            self.end_of(name, number.end) and number.value >= ADULT_AGE * per_year
            for name, per_year in _SMALL_UNITS
        )

    def relative_age(self, number: Number, sign: int) -> str | None:
        """A difference of ages ("25 years younger") read against the age the request
        gives someone else ("a woman of 40 and her daughter, 25 years younger": 15); with
        none given it is no one's age."""
        value = self.relative_value(number, sign)
        return "minor_age" if value is not None and 0 <= value < ADULT_AGE else None

    def younger_than_stated(self, number: Number) -> str | None:
        """An adult number of years younger than an age stated ("a woman of 40 and her
        daughter, 25 years younger"): `relative_age` for numbers no other rule reads."""
        return self.relative_age(number, -1) if self.difference_sign(number) < 0 else None

    def difference_sign(self, number: Number) -> int:
        """-1 if a `younger` phrase follows the number (its unit said inside the phrase, "25
        years younger", or before it, "zwei Jahre jünger"), +1 for an `older` one, else 0."""
        for at in (number.end, self.end_of("age_units", number.end)):
            if at and self.end_of("younger", at):
                return -1
            if at and self.end_of("older", at):
                return 1
        return 0

    def relative_value(self, number: Number, sign: int) -> int | None:
        """The age `number` years younger (`sign` -1) or older (+1) than the nearest other
        age in the request, or None if it gives no other age."""
        reference = self.reference_age(number)
        return None if reference is None else reference + sign * number.value

    def reference_age(self, number: Number) -> int | None:
        """The nearest other age the request states: a number with an age unit after it
        (and no comparative), or an `age_before` word, a person or a relative before it."""
        best: tuple[int, int] | None = None
        for other in self.all_numbers():
            if other.start == number.start or not 0 < other.value < OLDEST_AGE:
                continue
            distance = abs(other.start - number.start)
            if (best is None or distance < best[0]) and self._states_age(other):
                best = (distance, other.value)
        for index, token in enumerate(self.toks):  # "35살", "30세": an age glued to its unit
            glued = _GLUED_AGE.match(token)
            distance = abs(index - number.start)
            if glued is None or (best is not None and distance >= best[0]):
                continue
            unit = token[glued.end(1) :]
            if self.phrase("age_units").end_at([unit], 0) and 0 < int(glued.group(1)) < OLDEST_AGE:
                best = (distance, int(glued.group(1)))
        return None if best is None else best[1]

    def _states_age(self, number: Number) -> bool:
        unit_end = self.end_of("age_units", number.end)
        if self.difference_sign(number) or (unit_end and self.end_of("comparatives", unit_end)):
            return False
        if unit_end:
            return True
        if self.ends_before("age_before", number.start) >= 0:
            return True
        reach = _after_fillers(self.lex.age_words["fillers"], self.toks, number.start)
        return any(
            self.ends_before(kind, at) >= 0
            for at in range(number.start, reach - 1, -1)
            for kind in ("persons", "relations")
        )

    def all_numbers(self) -> list[Number]:
        """Every number of the request (read once)."""
        if self._numbers is None:
            self._numbers = numbers_in(self.toks, self.lex, self.glued)[:MAX_NUMBERS]
        return self._numbers

    def halved_age(self) -> str | None:
        """ "a girl half the age of her 28-year-old aunt", "halb so alt wie ihre Tante, 30":
        a `half_age` phrase, then the next age stated within `HALF_REACH` tokens, halved."""
        for found in self.phrase("half_age").matches(self.toks):
            for other in self.all_numbers():
                near = found.end <= other.start < found.end + HALF_REACH
                if near and other.value < OLDEST_AGE and self._states_age(other):
                    return "minor_age" if other.value // 2 < ADULT_AGE else None
        return None

    def _person_clause_before(self, index: int) -> bool:
        """Whether the age phrase at token `index` (or its `age_before` words just before)
        is set off by a comma after a clause whose subject is a person: reading that clause
        (back to the comma before it, at most `OWNER_REACH` tokens) from its start, a person
        word comes before any thing ("a teacher marking papers, aged 14"; not "a whisky,
        aged 12 years" nor "her whisky, aged 12 years")."""
        aged = self.ends_before("age_before", index)
        start = aged if aged >= 0 else index
        if start not in self.commas:
            return False
        clause = start - 1
        while clause > max(0, start - OWNER_REACH) and clause not in self.commas:
            clause -= 1
        for at in range(clause, start):
            if self._person_word_at(at):
                return True
            if self._is(("objects",), at):
                return False
        return False

    def _person_word_at(self, index: int) -> bool:
        """Whether a word naming a person starts at token `index`: a `persons` or
        `relations` word that is no possessive ("her car"), or an adult or school `staff`
        word ("a chef", "a teacher")."""
        if self.lex.context_in("possessives", "letters").end_at(self.toks, index):
            return False
        return self._is(("persons", "relations"), index) or any(
            self.lex.context_in(name, "letters").end_at(self.toks, index)
            for name in ("adults", "staff")
        )

    def _counted_people(self, index: int) -> bool:
        """Whether the word at token `index` names the people a number before it counts:
        an `adults` word ("Paris, 3 men"), or a person word that is no stop word of another
        language (German "im" is no English "I'm")."""
        if index >= len(self.toks):
            return False
        if self.lex.context_in("adults", "letters").end_at(self.toks, index):
            return True
        person = self._is(("persons", "relations"), index)
        return person and self.toks[index] not in self.lex.age_words["stops"]

    def _span_word_before(self, index: int) -> bool:
        """A `durations` word just before token `index` ("for 12 years", "i 12 år"), not one
        that only ends another language's `under` phrase ("sotto i 14 anni": Swedish "i")."""
        during = self.ends_before("durations", index, gap=1)
        if during < 0:
            return False
        under = self.ends_before("under", index)
        return not 0 <= under < during

    def _span_around(self, aged: int, number: Number) -> bool:
        """Whether an `age_before` phrase at token `aged` that is also a unit of years
        (`bare_units`: Swahili "miaka", said before its number) counts a span of time: a
        `durations` word right before it ("kwa miaka 10") or an `ago` word right after the
        number ("miaka 10 iliyopita")."""
        if not self.end_of("bare_units", aged):
            return False
        return self._span_word_before(aged) or bool(self._is(("ago",), number.end))

    def _person_before_span(self, index: int) -> bool:
        """Whether a person or relative word ends right before the `durations` word that
        ends just before token `index`."""
        during = self.ends_before("durations", index, gap=1)
        return during > 0 and any(
            self.ends_before(name, during) >= 0 for name in ("persons", "relations")
        )

    def unspaced_thing_after_unit(self, index: int) -> bool:
        """Whether a Chinese/Japanese unit glued to its noun ("歳の猫") names a thing's age."""
        if index >= len(self.toks):
            return False
        token = self.toks[index]
        unit = self.phrase("age_units").unspaced_prefix(token)
        unit = unit or self.phrase("infant_units").unspaced_prefix(token)  # "个月大的小狗"
        if not unit:
            return False
        rest = token[len(unit) :].removeprefix("大")  # "个月大": months old
        for particle in _UNSPACED_PARTICLES:
            rest = rest.removeprefix(particle)
        rest = rest.removeprefix("小").removeprefix("子")  # "小狗", "子猫": a young animal
        objects = self.phrase("objects")
        return (
            bool(rest)
            and objects.starts_unspaced(rest)
            and not self.phrase("persons").starts_unspaced(rest)
        )

    def with_word_before(self, number: Number) -> str | None:
        """ "aged 12", "under 16", "looks about 12", "her cousin, 10", "she is 12"."""
        toks, start = self.toks, number.start
        aged = self.ends_before("age_before", start)
        if aged > 0 and (toks[aged - 1].isdecimal() or toks[aged - 1] in self.lex.numbers):
            aged = -1  # "мужчине 40 лет, он": the unit of the number before, no lead of this one
        if aged >= 0 and self._span_around(aged, number):
            aged = -1  # "kwa miaka 10", "miaka 10 iliyopita": a unit before its number, a span
        if aged >= 0 and number.value < ADULT_AGE:
            # "whisky aged 12 years", "cheese aged 12 months": the thing comes before; set
            # off after a person's clause ("a teacher marking papers, aged 14"), the person's.
            # A measure before it describes the person ("160 cm, age 12"), as after a unit.
            thing = self.head_is_thing(range(aged - 1, aged - 1 - WINDOW, -1), ("objects",))
            if not thing or self._person_clause_before(aged):
                return "minor_age"
        under = self.ends_before("under", start)
        if under >= 0 and number.value <= ADULT_AGE:
            if not self.not_an_age_after(number.end) and not self.counted_things(number.end):
                if not self._competition_named(under, number.end):
                    return "minor_age"
        if self.end_of("under_after", number.end) and number.value <= ADULT_AGE:
            if not number.ordinal:  # "a 16-and-under swimmer", "ages 12 or younger"
                return "minor_age"
        sexed = toks[number.end : number.end + 1] in (["f"], ["m"], ["w"])
        if number.start in self.bracketed and sexed and number.value < ADULT_AGE:
            return "minor_age"  # "me (15F)", "yo (15M)", "(15w)": an age and a sex, not "15th"
        if sexed and number.value < ADULT_AGE and self._sexed_noun(number):
            return "minor_age"  # "a selfie of a 14F with curly hair": the forums' "15F" as a noun
        if self._at_age(number):
            return "minor_age"  # "the heroine at 13,", "ich mit 13 am See": a past self's age
        if number.ordinal or number.value >= ADULT_AGE:
            return None
        if not number.digits and (
            number.value == 1 or toks[start] in self.lex.age_words["unit_only"]
        ):
            return None  # "un", "une", "ein": an article; "elle dort": "sleeps", not "four"
        bracketed = number.start in self.bracketed
        if not bracketed and self.not_an_age_after(number.end):
            return None  # "her cousin, 10 dollars"; "my nephew (9) building" is an age
        named_reach = _after_fillers(self.lex.age_words["fillers"], toks, start)
        if named_reach == 1 < start and self.subject_named and not self.counted_things(number.end):
            return "minor_age"  # "Emma, who is 12", "Emma is twelve": the name's age
        if start == 1 and self.subject_named and (bracketed or 1 in self.commas):
            # "Sophie, 12, at the pool", "Lily (13) on a swing", "小美（12）": the number
            # set off after the request's first word, its subject's name, is her age
            if not (self._counted_people(number.end) or self.counted_things(number.end)):
                return "minor_age"
        if self.end_of("grades", number.end) or self.ends_before("grades", start) >= 0:
            return None  # a school grade ("i 7. klasse"): `school_grade` judged it
        set_off = start in self.commas and (number.end >= len(toks) or number.end in self.commas)
        if set_off and not self.counted_things(number.end) and self._person_clause_before(start):
            return "minor_age"  # "a girl with a lollipop and pigtails, 12": set off, hers
        reach = _after_fillers(self.lex.age_words["fillers"], toks, start)
        counted = number.end not in self.commas and self.counted_things(number.end)
        if counted and self.toks[number.end] not in self.lex.age_words["stops"]:
            return None  # "una mujer con 12 globos", "a man with 3 dogs": a count of things
        adults = self.lex.context_in("adults", "letters")
        if (
            number.end < len(toks)
            and number.end not in self.commas
            and adults.end_at(toks, number.end)
        ):
            return None  # "my girls - three retired friends": a count of adults
        for name in ("apparent", "persons", "relations"):
            # a filler may end the phrase itself ("ser ut som 12": "som" is a filler too)
            if any(self.ends_before(name, at) >= 0 for at in range(start, reach - 1, -1)):
                return "minor_age"
        if self.end_of("apparent_after", number.end):  # "eine Person, die wie 13 aussieht"
            return "minor_age"
        return None

    def ends_before_list(self, name: str, index: int) -> int:
        """The start of a phrase of context list `name` ending right before token `index`,
        or -1."""
        words = self.lex.context_in(name, "letters")
        for start in range(max(0, index - words.max_words), index):
            if words.end_at(self.toks, start) == index:
                return start
        return -1

    def _phrase_ends(self, index: int) -> bool:
        """Whether the noun phrase ends at token `index`: the text ends, a comma stands
        there, or a stop word ("in", "with", "am") begins there."""
        if index >= len(self.toks) or index in self.commas:
            return True
        return self.toks[index] in self.lex.age_words["stops"]

    def _sexed_noun(self, number: Number) -> bool:
        """ "a 14F with curly hair", "selfie of a 15M": digits glued to a sex letter, an
        article right before them and the phrase ending after them (not "a 14m yacht")."""
        glued_letter = number.start in self.glued and number.digits
        article = number.start > 0 and self.toks[number.start - 1] in _ARTICLES
        return glued_letter and article and self._phrase_ends(number.end + 1)

    def _at_age(self, number: Number) -> bool:
        """A person, relative or possessive pronoun, an `at_ages` word ("at", "a los",
        "mit"), then a bare number ending its phrase: "the heroine at 13, in her room",
        "una foto mía a los 13 en bañador", "ich mit 13 am Baggersee"; not "a woman at 10
        Downing Street", "eine Frau mit 13 Katzen"."""
        at = self.ends_before("at_ages", number.start)
        if at < 1 or number.ordinal or not self._phrase_ends(number.end):
            return False
        pronouns = self.lex.context_in("possessives", "letters")
        if self.toks[at - 1] in _SELF_WORDS:  # "paint me at 14", "ich mit 13"; not "meet me at 8"
            return at == 1 or self.toks[at - 2] in _DEPICTING
        adult = self.ends_before_list("adults", at)
        if adult >= 1 and any(  # "my mother at 14", "mi madre a los 14": her past self
            pronouns.end_at(self.toks, start) == adult for start in range(max(0, adult - 2), adult)
        ):
            return True
        return any(self.ends_before(name, at) >= 0 for name in ("persons", "relations")) or any(
            pronouns.end_at(self.toks, start) == at for start in range(max(0, at - 2), at)
        )

    def bare_minor_after(self, index: int) -> bool:
        """Whether a bare number under 18 follows token `index` (after filler words): "Kid
        Rock, 10", "a big kid (9)". Not a measure, a count or a time ("Kid Rock, 10 pm")."""
        fillers = self.lex.age_words["fillers"]
        end = index
        while end < len(self.toks) and end - index < WINDOW and self.toks[end] in fillers:
            end += 1
        if end >= len(self.toks):
            return False
        glued = frozenset(i - end for i in self.glued if end <= i < end + 3)
        found = numbers_in(self.toks[end : end + 3], self.lex, glued)
        if not found or found[0].start != 0 or found[0].ordinal:
            return False
        number = found[0]
        after = end + number.end
        if number.value >= ADULT_AGE or self.not_an_age_after(after):
            return False
        if self.end_of("grades", after):
            return False  # "중학교 2학년 담임": a grade, judged by `school_grade`
        if self.end_of("unspaced_grades", after) and self._school_before(end):
            return False  # "中学2年生の担任": the school's grade, judged with its school word
        if self.end_of("age_units", after):
            return True
        # "Baby Mama, two women laughing", "Kid Rock, 3 guitars": a count of people or things.
        return not (self._is(("persons",), after) or self.counted_things(after))

    def counted_things(self, index: int) -> bool:
        """ "under 12 umbrellas": a plural word after the number counts things, not years."""
        if index >= len(self.toks):
            return False
        word = self.toks[index]
        if self._is(("persons", "relations", "age_units"), index):
            return False
        if self._is(("life_counts",), index) and (
            self._life_cue_near(index - 1, index) or (index > 1 and self.toks[index - 2] in _OF)
        ):
            return False  # "a boy of 12 summers", "14 velas en su tarta": years, not things
        plural = word.endswith("s") and not word.endswith("ss")  # "shirtless" counts nothing
        return len(word) > 3 and plural and word not in self.lex.age_words["fillers"]

    def school_grade(self, number: Number) -> str | None:
        """ "7th grade", "a 3rd grader", "grade 4", "klasse 7", "year 9 student", "10th
        birthday"."""
        if number.value not in SCHOOL_GRADES and not number.ordinal:
            return None
        after = number.end + (1 if number.digits and number.ordinal else 0)
        grade_after = self.end_of("grades", after)
        grade_before = self.ends_before("grades", number.start) >= 0
        if number.value in SCHOOL_GRADES and (grade_after or grade_before):
            end = grade_after or number.end
            # "a grade 8 bolt"; "a third-grade (math) teacher", "a teacher in 7th grade",
            # "juf van groep 7": the grade names where an adult works
            staff = self._staff_at(end) or self._staff_at(end + 1)
            first = number.start - (1 if grade_before else 0)
            # "ein Schulbuch der 8. Klasse": a thing of that grade, a link word between,
            # in a request naming no one ("a girl with a dog in 7th grade" is hers)
            owned = self._is(("objects",), self._before_links(first) - 1)
            owned = owned and not self.others_named(0, 0)
            if not self.head_is_thing(range(end, end + 1)) and not owned:
                # "9. klasses prøve", "Prüfung der 9. Klasse": the exam after or before it
                exam_before = self.ends_before("grade_exams", self._before_links(first))
                exam = self._adult_exam(end) or (exam_before >= 0 and self._adult_exam(exam_before))
                # "a third-grade teacher with a pupil": the grade may be the pupil's; the
                # staff member's own words (after or before the grade) are not someone else
                own = (first - 2, end + 2) if staff else (first - 3, end)
                staff = staff or self._staff_before(first)
                if not (staff and not self.others_named(*own)) and not exam:
                    return "minor_age"
        school_year = self.ends_before("school_years", number.start)
        if school_year >= 0 and self._staff_before(school_year):
            return None  # "guru kelas 8 SMP", "a teacher of year 9": the grade an adult teaches
        if school_year >= 0 and self._staff_owns(school_year, number.end):
            return (
                None  # "a teacher ... marking papers for her year 9 class": the class she teaches
            )
        if school_year >= 0 and (  # "year 9 student", "a pupil in year 8"
            self.near("grade_words", number.end, number.end + WINDOW + 1)
            or self.near("grade_words", school_year - WINDOW, school_year)
        ):
            return "minor_age" if number.value in SCHOOL_GRADES else None
        if number.ordinal and number.value < ADULT_AGE and self.end_of("birthdays", after):
            return None if self._thing_owns(number.start) else "minor_age"
        return None

    def _thing_owns(self, index: int) -> bool:
        """Whether an `objects` word (an animal, a thing) owns what starts at token `index`,
        in the possessive right before it ("a puppy's first birthday", "the dog's 10th")."""
        owner = index - 1
        if owner > 0 and self.toks[owner] == "s":
            owner -= 1
        return owner >= 0 and self._is(("objects",), owner)

    def until_adult(self, number: Number) -> str | None:
        """ "she will be 18 in three years", "two years away from being an adult", "can't
        vote for another 4 years", "za dwa lata będzie mogła głosować": a number of years
        still to go (an `until_before` word before it, or an `until_after` phrase after it)
        with a mark of adulthood (`adult_marks`, or the number 18) within `UNTIL_REACH`
        tokens: she is not yet 18."""
        if not 0 < number.value < ADULT_AGE or number.ordinal:
            return None
        before = self.ends_before("until_before", number.start) >= 0
        before = before and bool(
            self.end_of("until_years", number.end)
        )  # "in 3 years", not "in 3 states"
        if not before and not self.end_of("until_after", number.end):
            return None
        after = max(number.end, self.end_of("until_years", number.end))
        if self.head_is_thing(range(after, after + WINDOW), ("objects",)):
            return None  # "en 12 år gammal whisky": a thing's years
        start, stop = number.start - UNTIL_REACH, number.end + UNTIL_REACH
        marked = self.near("adult_marks", start, stop) or any(
            other.value == ADULT_AGE and start <= other.start < stop for other in self.all_numbers()
        )
        return "minor_age" if marked else None

    def life_count(self, number: Number) -> str | None:
        """ "seen fourteen summers", "13 candles on her birthday cake", "14 velas en su
        tarta": a count of years said by a `life_counts` word ("summers", "candles"), with a
        `life_cues` word ("seen", "birthday", "cake") within `LIFE_CUE_REACH` tokens; and a
        birthday after an ordinal written with a dot ("14. doğum gününde")."""
        if number.value >= ADULT_AGE:
            return None
        dotted = number.digits and number.start in self.dotted  # "14. doğum günü"
        if dotted and self.end_of("birthdays", number.end):
            return "minor_age"
        if not self.end_of("life_counts", number.end):
            return None
        return "minor_age" if self._life_cue_near(number.start, number.end) else None

    def _life_cue_near(self, start: int, end: int) -> bool:
        """Whether a `life_cues` word stands within `LIFE_CUE_REACH` tokens of [start, end)."""
        return self.near("life_cues", start - LIFE_CUE_REACH, end + LIFE_CUE_REACH)

    def small_units_age(self, number: Number) -> str | None:
        """An age counted in months, weeks or days after a person ("a girl of 170 months",
        "a boy aged 700 weeks"): under 18 years once divided out."""
        for name, per_year in _SMALL_UNITS:
            end = self.end_of(name, number.end)
            if not end or number.value >= ADULT_AGE * per_year or self._is(("ago",), end):
                continue
            reach = _after_fillers(self.lex.age_words["fillers"], self.toks, number.start)
            for at in range(number.start, reach - 1, -1):
                if any(self.ends_before(kind, at) >= 0 for kind in ("persons", "relations")):
                    return "minor_age"
            aged = self.ends_before("age_before", number.start)
            if aged >= 0 and not self.head_is_thing(range(aged - 1, aged - 1 - WINDOW, -1)):
                return "minor_age"  # not "parmesan aged 24 months"
        return None

    def _staff_at(self, index: int) -> bool:
        """Whether a school `staff` word ("teacher", "Lehrerin") starts at token `index`."""
        staff = self.lex.context_in("staff", "letters")
        return 0 <= index < len(self.toks) and bool(staff.end_at(self.toks, index))

    def _before_links(self, index: int) -> int:
        """Where the run of at most two link words (`staff_links`: "in", "van", "der") that
        ends right before token `index` starts (`index` if there is none)."""
        links = self.lex.context_in("staff_links", "letters")
        at = index
        while at > 0 and index - at < 2 and links.end_at(self.toks, at - 1):
            at -= 1
        return at

    def _staff_before(self, index: int) -> bool:
        """Whether a school `staff` word ends at most two link words ("in", "van") before
        token `index`: "a teacher in 7th grade", "een juf van groep 7"."""
        at = self._before_links(index)
        staff = self.lex.context_in("staff", "letters")
        return any(staff.end_at(self.toks, start) == at for start in range(max(0, at - 3), at))

    def _staff_owns(self, year_at: int, after: int) -> bool:
        """Whether the school year at token `year_at` (its number ending at `after`) is a
        teacher's own class ("a teacher in her forties marking papers for her year 9
        class"): a possessive right before it, a `staff` word at most `OWNER_REACH` tokens
        before that with no `apposition_stops` word or other person between ("a teacher
        with her year 9 class", "a teacher and a girl in her year 9 class"), a group word
        naming no person after the number ("class", not "pupils"), and no other person
        anywhere in the request ("... her year 9 class, a student beside her")."""
        possessives = self.lex.context_in("possessives", "letters")
        owner = next(
            (
                s
                for s in range(max(0, year_at - 2), year_at)
                if possessives.end_at(self.toks, s) == year_at
            ),
            -1,
        )
        if owner < 1 or not self._class_word_at(after):
            return False
        staff = self.lex.context_in("staff", "letters")
        stops = self.lex.context_in("apposition_stops", "letters")
        for start in range(owner - 1, max(-1, owner - 1 - OWNER_REACH), -1):
            staff_end = staff.end_at(self.toks, start)
            if staff_end and staff_end <= owner:
                return self._adults_only(start, staff_end)
            if stops.end_at(self.toks, start):
                return False
        return False

    def _competition_named(self, under: int, after: int) -> bool:
        """Whether the `under` word at token `under` and its number (ending at `after`) name
        a competition ("la final del campeonato sub-17", "the U-17 World Cup"): a
        `competitions` word right before the `under` word or right after the number, and
        no one in the request but adults ("un entrenador de 50 años"; not "the U-17
        championship, the players celebrating": no `competitors` word)."""
        named = self.ends_before("competitions", under) >= 0 or self.end_of("competitions", after)
        return bool(named) and self._adults_only(0, 0) and not self._said("competitors")

    def _adult_exam(self, index: int) -> bool:
        """Whether a grade's exam starts at token `index` and an adult sits it ("en mand på
        45 der tager 9. klasses prøve på VUC", "die Prüfung der 9. Klasse an der
        Volkshochschule"): a `grade_exams` word there, an
        `adult_schools` word in the request, an adult named (an `adults` word: not "en elev
        der tager ...", a pupil may be 16 there) and no one else."""
        if not self.end_of("grade_exams", index):
            return False
        adult = any(True for _ in self.lex.context_in("adults", "letters").matches(self.toks))
        return adult and self._said("adult_schools") and self._adults_only(0, 0)

    def _said(self, name: str) -> bool:
        """Whether a phrase of age list `name` is anywhere in the request (read once)."""
        key = (name, -1)
        if key not in self._ends:
            self._ends[key] = int(any(True for _ in self.phrase(name).matches(self.toks)))
        return bool(self._ends[key])

    def _class_word_at(self, index: int) -> bool:
        """Whether a `grade_words` word that names no person ("class", "classroom") starts at
        token `index` (not "pupils", "student", "girl")."""
        if not self.end_of("grade_words", index) or self._is(("persons", "relations"), index):
            return False
        youth = (self.lex.term(name) for name in ("youth", "youth_sexual"))
        return not any(term.end_at(self.toks, index) for term in youth)

    def _adults_only(self, start: int, end: int) -> bool:
        """Whether the request, outside tokens [start, end), names no one but adults and
        has no sexual words (with them, no reading of a grade or age class as a workplace
        or a competition holds)."""
        if self._people is None:
            self._people = self._people_named()
        return self._people[0] and not self.others_named(start, end)

    def others_named(self, start: int, end: int) -> bool:
        """Whether the request, outside tokens [start, end), names someone who is not stated
        to be an adult (see `_people_named`): a school word beside a teacher is her
        workplace only when no student, pupil or girl is named with her."""
        if self._people is None:
            self._people = self._people_named()
        return not all(start <= index < end for index in self._people[1])

    def _people_named(self) -> tuple[bool, tuple[int, ...]]:
        """Whether the request has no sexual words, and where it names someone other than
        an adult: a youth word, a `relations` word (always: "son" is also French "his"), or
        a `persons` word that is no adult or pronoun ("man", "her" are not; "girl",
        "student" are); in Chinese/Japanese text, such a word inside a token ("と生徒").
        Read once per request; stops at the `_PEOPLE_READ`th such word (the staff member's
        own words a caller skips hold fewer)."""
        no_sexual = not any(True for _ in self.lex.term("sexual").matches(self.toks))
        pronouns = self.lex.context_in("possessives", "letters")
        subjects = self.lex.context_in("call_subjects", "letters")
        adults = self.lex.context_in("adults", "letters")
        youth = [self.lex.term(name) for name in ("youth", "youth_sexual")]
        found: list[int] = []
        for index, token in enumerate(self.toks):
            if any(term.end_at(self.toks, index) for term in youth) or self._is(
                ("relations",), index
            ):
                found.append(index)
            elif (
                self._is(("persons",), index)
                and token not in self.lex.age_words["stops"]  # German "im" is no "I'm"
                and not any(
                    words.end_at(self.toks, index) for words in (pronouns, subjects, adults)
                )
            ):
                found.append(index)
            elif is_unspaced(token) and any(term.in_unspaced(token) for term in youth):
                found.append(index)
            if len(found) == _PEOPLE_READ:
                break
        return no_sexual, tuple(found)

    def _school_before(self, index: int) -> bool:
        """Whether the token before `index` ends with a Chinese/Japanese school word
        (`institutions`: "中学" of "中学2年生")."""
        institutions = self.lex.context_in("institutions", "letters")
        return index > 0 and institutions.ends_unspaced(self.toks[index - 1])

    def _thing_before(self, index: int) -> bool:
        """Whether an `objects` word (an animal, a thing) stands in the `THING_REACH` tokens
        before `index` with no person or relative between: "a calf in a barn, 2 weeks old"."""
        for at in range(index - 1, max(-1, index - 1 - THING_REACH), -1):
            if self._is(("persons", "relations"), at):
                return False
            if self._is(("objects",), at):
                return True
        return False

    def class_of(self, number: Number) -> str | None:
        """A class graduating `GRADUATION_LEAD` or more years after the Clock's year ("class
        of 2031" in 2026): even a university class that far ahead has not started yet; a
        secondary school's class (`school_class` near) any year ahead."""
        if not number.digits or number.value not in BIRTH_YEARS:
            return None
        if self.ends_before("class_of", number.start) < 0:
            return None
        # A secondary school's class ("promo bac 2030", "la promoción de 2030 del instituto")
        # graduates at 18: any class still to graduate is a minor's.
        school = self.near("school_class", number.start - WINDOW, number.end + WINDOW)
        lead = SCHOOL_GRADUATION_LEAD if school else GRADUATION_LEAD
        return "minor_age" if number.value - self.year >= lead else None

    def born_ago(self, number: Number) -> str | None:
        """ "born 13 years ago", "nacida hace 14 años", "nata 13 anni fa", "14 yıl önce
        doğmuş": a birth that many years back, a `born` word at most three words before the
        number (no other number between) or right after its `ago` word, is an age; "10 лет
        назад, улица в Москве" (a street ten years ago) names no birth."""
        if number.value >= ADULT_AGE:
            return None
        ago = next((at for at in range(number.end, number.end + 3) if self._is(("ago",), at)), -1)
        span = ago >= 0 or self.ends_before("durations", number.start) >= 0
        if not span:
            return None
        born = self.ends_before("born", number.start, gap=3)
        if born >= 0 and len(self.toks[born]) == 1:
            born = -1
        between = self.toks[born + 1 : number.start] if born >= 0 else ["0"]
        after_ago = self.end_of("ago", ago) if ago >= 0 else len(self.toks)
        # right after "önce" ("14 yıl önce doğmuş"); a one-letter "b" (born) is too often
        # another word folded ("в")
        born_after = self.end_of("born", after_ago) and len(self.toks[after_ago]) > 1
        # "13年前に生まれた", "十三年前出生的": the birth glued in the same run as its "ago"
        born_after = born_after or (ago >= 0 and self.phrase("born").in_unspaced(self.toks[ago]))
        if born_after or not any(token.isdecimal() for token in between):
            return "minor_birth_year"
        return None

    def year_of_life(self, number: Number) -> str | None:
        """ "in her fourteenth year", "dans sa quatorzième année", "w czternastym roku
        życia": the Nth year of one's life is age N-1; a bare year word only right after a
        possessive and ending its clause ("a nurse in her 15th year on the ward" is a
        career's)."""
        if not number.ordinal or number.value > ADULT_AGE:
            return None
        after = number.end + (1 if number.digits else 0)
        if self.end_of("life_years", after):
            return "minor_age"
        end = self.end_of("own_years", after)
        possessive = self.lex.context_in("possessives", "letters")
        owned = number.start > 0 and possessive.end_at(self.toks, number.start - 1)
        clause_ends = end == len(self.toks) or end in self.commas
        return "minor_age" if end and owned and clause_ends else None

    def birth_year(self, number: Number) -> str | None:
        """A year of birth that makes the person under 18 in the Clock's year."""
        if not number.digits or number.value not in BIRTH_YEARS:
            return None
        near_before = self.ends_before("born", number.start, gap=WINDOW + 2) >= 0
        near_after = self.near("born", number.end, number.end + 2) or (
            number.end < len(self.toks) and self.phrase("born").in_unspaced(self.toks[number.end])
        )
        if (near_before or near_after) and self.year - number.value < ADULT_AGE:
            return "minor_birth_year"
        return None


def kanji_value(numeral: str) -> int:
    """A kanji numeral up to 99 ("十四" = 14, "二十" = 20)."""
    if "十" not in numeral:
        return int("".join(str(_KANJI_DIGITS[ch]) for ch in numeral) or "0")
    tens, _, ones = numeral.partition("十")
    return (_KANJI_DIGITS.get(tens[-1], 1) if tens else 1) * 10 + (
        _KANJI_DIGITS.get(ones[:1], 0) if ones else 0
    )


# Digits inside a word are look-alike letters, a run of them too ("thirt33n", "f0urt33n").
_IN_WORD_DIGIT = re.compile(r"(?<=[a-z])[0-9]{1,3}(?=[a-z])")
_IN_WORD_LETTERS = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t"}
_KANJI_THING_PREFIXES = ("的", "の", "老", "小", "大")


def _digit_as_letter(found: re.Match[str]) -> str:
    return "".join(_IN_WORD_LETTERS.get(digit, digit) for digit in found.group(0))


# An age in digits before a Chinese/Japanese unit ("35岁的哥哥"), a difference's reference.
_DIGIT_AGE = re.compile(r"(\d{1,3}) ?(?=[歳岁歲])")


def _kanji_difference(text: str, found: re.Match[str]) -> int:
    """-1 or +1 if a kanji age is a difference ("比哥哥小两岁", "比他大三岁": younger, older
    than someone named after 比), else 0."""
    before = text[max(0, found.start() - 1) : found.start()]
    if before not in ("小", "大") or "比" not in text[: found.start()]:
        return 0
    return -1 if before == "小" else 1


def _kanji_thing(text: str, found: re.Match[str], objects: PhraseSet) -> bool:
    """Whether a kanji age names a thing's age ("十岁的老狗", "十年の猫"): after its unit, a
    particle or "old", then an `objects` word."""
    rest = text[found.end() + 1 : found.end() + 12]
    for prefix in _KANJI_THING_PREFIXES:
        rest = rest.removeprefix(prefix)
    return objects.starts_unspaced(rest)


# A year written with an apostrophe and two digits ("'11", "’09"), not a decade ("'90s").
_SHORT_YEAR = re.compile(r"(?<![\w'’‘])['’‘`ʼ](\d\d)(?![\w'’‘])")
# A Chinese generation named by its decade of birth ("10后", "05後": born 2010 or later).
_COHORT = re.compile(r"(?<!\d)(\d\d)[后後](?!\d)")
# Two single digits one space apart, no other digit on either side ("1 2 3" is a count):
# one number spaced out.
_SPACED_DIGITS = re.compile(r"(?<![\d.,:/])(?<!\d )\b(\d) (\d)\b(?! ?[.,:/]?\d)")
# Sex and age written as a forum or tag field: "14F here", "(15m)", "[M13]", "f12, beach":
# the age glued before the sex letter, opening the text or a bracketed or comma-set field
# and closing it; the letter first only in brackets ("F16 at dusk" is a jet).
_AGE_SEX_TAG = re.compile(r"(?:^|(?<=[(\[,;]))\s*(\d{1,2}) ?[fm](?=\s*(?:[)\],;:/]|$|here\b))")
# "(f14)", "(w, 13)" in brackets; a letter first outside them only in a self-report opening
# a clause ("F14 here, draw me"): "F16, airshow" and "F16 here at the airshow" stay a jet.
_SEX_AGE_TAG = re.compile(
    r"(?<=[(\[])\s*[fmwдж] ?,? ?(\d{1,2})\s*(?=[)\]])"
    r"|(?:^|(?<=[,;.!]))\s*[fmw] ?(\d{1,2})(?=\s+here\s*(?:[,;:.!]|$))"
)
# A sex symbol beside a number ("♀ 14", "15♂"), the forum's "asl" ("asl: 13/f/uk"); a
# letter first outside brackets stays a name ("F16, airshow" is a jet).
_SEX_AGE_FIELD = re.compile(
    r"[♀♂] ?(\d{1,2})(?!\d)|(?<!\d)(\d{1,2}) ?[♀♂]|\basl\W{0,3}(\d{1,2})(?!\d)"
)
# Vietnamese 10 to 19 in words: "mười" (ten) is told from "mươi" (the tens of 20 to 90) only
# by its accent, which the digits form drops: read as digits first ("mười một tuổi" is 11);
# not after "trăm" (a hundred: "một trăm mười" is 110); 15 is "mười lăm", "mười năm" ten years.
_VIETNAMESE_TEENS = re.compile(
    r"(?<!trăm )\bmười(?: (một|mốt|hai|ba|bốn|tư|lăm|sáu|bảy|tám|chín))?(?!\w)", re.IGNORECASE
)
_VIETNAMESE_UNITS = {
    "một": 1, "mốt": 1, "hai": 2, "ba": 3, "bốn": 4, "tư": 4, "lăm": 5, "sáu": 6, "bảy": 7,
    "tám": 8, "chín": 9,
}  # fmt: skip


def vietnamese_teens(text: str) -> str:
    """`text` with Vietnamese number words from 10 to 19 written as digits ("mười hai" -> "12"),
    told from the tens ("hai mươi", 20) by their accents, before the digits form drops them."""
    if "ư" not in text and "Ư" not in text:
        return text
    text = unicodedata.normalize("NFC", text)
    return _VIETNAMESE_TEENS.sub(
        lambda found: str(10 + _VIETNAMESE_UNITS.get((found[1] or "").lower(), 0)), text
    )


# "twelve and a half", "13 und einhalb", "douze et demi", "on üç buçuk", "ten and three
# quarters": the whole years are the age.
_AND_A_HALF = re.compile(
    r"\b(\w{1,20}) (?:and a half|and one half|und einhalb|und ein halb|et demie?|y medio|e mezzo"
    r"|e meio|en een half|en half|i pol|с половиной|bucuk|yarim"
    r"|and a quarter|and three quarters|and three-quarters)(?![\w-])"
)


# Turkish and Azerbaijani teens, "on" (ten) and a unit word ("on iki" = 12): read as digits,
# for "on" alone is also English and French.
# Irish puts the year word between the unit and its ten: "dhá bhliain déag" is 12 years,
# "seacht mbliana déag" 17, "trí bliana is fiche" 23 (not 3).
_IRISH_TEENS = re.compile(
    r"\b(aon|dha|tri|ceithre|cuig|se|seacht|ocht|naoi) (?:bhliain|bliana|mbliana) (deag|is fiche)\b"
)
_IRISH_TENS = {"deag": 10, "is fiche": 20}
_IRISH_UNITS = {
    "aon": 1, "dha": 2, "tri": 3, "ceithre": 4, "cuig": 5, "se": 6, "seacht": 7, "ocht": 8,
    "naoi": 9,
}  # fmt: skip
_TURKIC_TEENS = re.compile(
    r"\bon (bir|iki|uc|dort|dord|bes|alti|yedi|yeddi|sekiz|sekkiz|dokuz|doqquz)\b"
)
_TURKIC_UNITS = {
    "bir": 1, "iki": 2, "uc": 3, "dort": 4, "dord": 4, "bes": 5, "alti": 6, "yedi": 7,
    "yeddi": 7, "sekiz": 8, "sekkiz": 8, "dokuz": 9, "doqquz": 9,
}  # fmt: skip


# Years of other calendars, read as the Gregorian year they fall in (most of it): the
# Japanese eras (元 is an era's first year), the Republic of China's Minguo, the Buddhist
# Era, the Hijri (lunar) and Persian (solar) years and the Hebrew year.
_ERA_START = {
    "reiwa": 2018, "令和": 2018, "heisei": 1988, "平成": 1988, "showa": 1925, "昭和": 1925,
}  # fmt: skip
_ERA_YEAR = re.compile(r"(reiwa|heisei|showa|令和|平成|昭和) ?(\d{1,2}|元)(?!\d)")
_MINGUO_YEAR = re.compile(r"(?:minguo|民国|民國) ?(\d{1,3})(?!\d)")
_BUDDHIST_YEAR = re.compile(r"buddhist era (\d{4})\b|\b(\d{4}) (?:be|buddhist era)\b")
_HIJRI_YEAR = re.compile(r"\b(\d{4}) ?(?:ah|a h|hijri|هجري|هجرية|هجری|هجریة|هـ|ه)(?!\w)")
_PERSIAN_YEAR = re.compile(
    r"\b(\d{4}),? (?:in|by|of) the (?:persian|iranian|solar hijri|shamsi) calendar"
    r"|(?:persian|solar hijri|shamsi) year (\d{4})\b"
)
# A Persian year of birth after its born word ("متولد ۱۳۹۱"): years 1300-1420 are solar.
_PERSIAN_BORN = re.compile(r"((?:متولد|زاده) (?:سال )?)(\d{4})(?!\d)")
# The Bengali year (Bangabda, ~593 behind), Nepal's Vikram Samvat (~57 ahead) and the
# Ethiopian year ("ዓ.ም.", ~8 behind); a Hijri year said in French ("de l'hégire").
_BANGLA_YEAR = re.compile(r"(?<!\d)(\d{4}) ?(?:বঙ্গাব্দ|bangabda)")
_VIKRAM_YEAR = re.compile(r"(?:वि|बि|v) ?\W? ?(?:सं|s)\W{0,2} ?(\d{4})(?!\d)")
_ETHIOPIAN_YEAR = re.compile(r"(?<!\d)(\d{4}) ?ዓ\W{0,2} ?ም")
_HIJRI_FRENCH = re.compile(r"(?<!\d)(\d{4}),? de l\W?hegire")
_HEBREW_YEAR = re.compile(
    r"\b(\d{4}),? (?:in|by|of) the (?:hebrew|jewish) calendar|(?:hebrew|jewish) year (\d{4})\b"
)


def _solar_born(found: re.Match[str]) -> str:
    solar = int(found.group(2))
    return found.group(1) + str(solar + 621) if 1300 <= solar <= 1420 else found.group(0)


def _gregorian_years(digits_form: str) -> str:
    """The text with years of the other calendars written as Gregorian years."""

    def era(found: re.Match[str]) -> str:
        number = 1 if found.group(2) == "元" else int(found.group(2))
        return str(_ERA_START[found.group(1)] + number)

    def shifted(offset: int) -> Callable[[re.Match[str]], str]:
        return lambda found: str(int(found.group(1) or found.group(2)) + offset)

    def hijri(found: re.Match[str]) -> str:
        return str(round(int(found.group(1)) * 0.970229 + 621.5692))

    digits_form = _ERA_YEAR.sub(era, digits_form)
    digits_form = _MINGUO_YEAR.sub(shifted(1911), digits_form)
    digits_form = _BUDDHIST_YEAR.sub(shifted(-543), digits_form)
    digits_form = _PERSIAN_YEAR.sub(shifted(621), digits_form)
    digits_form = _PERSIAN_BORN.sub(_solar_born, digits_form)
    digits_form = _HEBREW_YEAR.sub(shifted(-3760), digits_form)
    digits_form = _BANGLA_YEAR.sub(shifted(593), digits_form)
    digits_form = _VIKRAM_YEAR.sub(shifted(-57), digits_form)
    digits_form = _ETHIOPIAN_YEAR.sub(shifted(8), digits_form)
    digits_form = _HIJRI_FRENCH.sub(lambda found: found[1] + " ah", digits_form)
    return _HIJRI_YEAR.sub(hijri, digits_form)


# "aged 10+4", "2x7 ans", "3 mal 5 Jahre", "20 minus 6": an age worked out is still an age
_SUM = re.compile(
    r"(?<!\d)(?<!\d[.,:/])(\d{1,3}) ?(\+|x|×|\*|plus|times|mal|fois|minus|moins) ?"
    r"(\d{1,3})(?!\d|[.,:/]\d)"
)
_OPERATIONS: dict[str, Callable[[int, int], int]] = {
    "+": int.__add__, "plus": int.__add__,
    "x": int.__mul__, "×": int.__mul__, "*": int.__mul__, "times": int.__mul__,
    "mal": int.__mul__, "fois": int.__mul__,
    "minus": int.__sub__, "moins": int.__sub__,
}  # fmt: skip


# Numbers written in another base: "0x0e", "0b1110", "1110 in binary", "16 in octal".
_BASE_PREFIXED = re.compile(r"(?<![\w.])0(x[0-9a-f]{1,4}|b[01]{1,8}|o[0-7]{1,4})(?!\w)")
_BASE_NAMED = re.compile(
    r"(?<![\w.])([0-9a-f]{1,8}) (?:in |en |im |em |w )?"
    r"(binary|binaire|binar|binär|binario|binarnie|hex|hexadecimal|hexadezimal|octal|oktal)(?!\w)"
)
_BASES = {"x": 16, "b": 2, "o": 8}
_NAMED_BASES = {"hex": 16, "hexadecimal": 16, "hexadezimal": 16, "octal": 8, "oktal": 8}


def _other_bases(digits_form: str) -> str:
    """The text with numbers of other bases written in base ten ("0x20" is 32)."""

    def prefixed(found: re.Match[str]) -> str:
        written = found.group(1)
        return str(int(written[1:], _BASES[written[0]]))

    def named(found: re.Match[str]) -> str:
        base = _NAMED_BASES.get(found.group(2), 2)
        try:
            return str(int(found.group(1), base))
        except ValueError:  # "12 in binary" is no binary number: left as written
            return found.group(0)

    if "0" in digits_form:
        digits_form = _BASE_PREFIXED.sub(prefixed, digits_form)
    return _BASE_NAMED.sub(named, digits_form)


def _worked_out(found: re.Match[str]) -> str:
    left, operation, right = int(found.group(1)), found.group(2), int(found.group(3))
    return str(_OPERATIONS[operation](left, right))


# Operations said in words between two numbers ("five times seven", "cincuenta menos seis",
# "50 минус 6"), in the digits form's folding; and halves ("half of thirty").
_WORD_OPERATIONS: dict[str, Callable[[int, int], int]] = {
    normalize(word, lookalikes=False): operation
    for words, operation in (
        ("plus più piu mas más artı arti плюс", int.__add__),
        ("minus moins menos meno eksi минус мінус", int.__sub__),
        ("times mal fois por razy krát krat kere çarpı carpi keer maal gange gånger", int.__mul__),
    )
    for word in words.split()
}
_HALVES = frozenset(
    normalize(word, lookalikes=False)
    for word in (
        "half",
        "halb",
        "halbe",
        "mitad",
        "moitie",
        "moitié",
        "hälfte",
        "halfte",
        "metà",
        "meta",
        "metade",
        "połowa",
        "polowa",
        "helft",
        "половина",
        "половину",
    )
)
_HALF_LINKS = frozenset({"of", "the", "de", "von", "di", "van", "la", "une", "die", "от"})


def worked_out_numbers(numbers: list[Number], toks: Sequence[str]) -> list[Number]:
    """`numbers` with a sum said in words read as its result ("five times seven" is 35,
    "medio" aside) and a half said before a number read as half of it ("half of thirty")."""
    merged: list[Number] = []
    for number in numbers:
        previous = merged[-1] if merged else None
        if (
            previous is not None
            and number.start == previous.end + 1
            and toks[previous.end] in _WORD_OPERATIONS
            and not previous.ordinal
            and not number.ordinal
        ):
            value = _WORD_OPERATIONS[toks[previous.end]](previous.value, number.value)
            merged[-1] = Number(previous.start, number.end, value, False, False)
            continue
        start = number.start
        while start > 0 and number.start - start < 3 and toks[start - 1] in _HALF_LINKS:
            start -= 1
        if start > 0 and toks[start - 1] in _HALVES and not number.ordinal:
            number = Number(start - 1, number.end, number.value // 2, False, False)
        merged.append(number)
    return merged


# Roman numerals from 2 to 39 ("aged XIII", "XIV years old"); one letter is read as a word.
_ROMAN = re.compile(r"^(x{0,3})(ix|iv|v?i{0,3})$")
_ROMAN_VALUES = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7, "viii": 8, "ix": 9}


def roman_ages(toks: list[str], lex: Lexicon) -> list[str]:
    """`toks` with a Roman numeral written as digits where an age stands: after an
    `age_before` word ("aged XIII") or before an age unit ("XIV years old"); elsewhere it
    is a name's ("Louis XIV") or a chapter's, and kept."""
    found = [i for i, token in enumerate(toks) if len(token) > 1 and _ROMAN.match(token)]
    if not found:
        return toks
    reader = Reader(toks, lex, year=0)
    changed = list(toks)
    for index in found:
        if reader.ends_before("age_before", index) >= 0 or reader.end_of("age_units", index + 1):
            tens, ones = _ROMAN.match(toks[index]).groups()  # type: ignore[union-attr]
            changed[index] = str(10 * len(tens) + _ROMAN_VALUES.get(ones, 0))
    return changed


# A number word alone in brackets ("Emma (twelve)"), written as digits like "Emma (12)".
_BRACKETED_WORD = re.compile(r"(?<=[(（\[])([^\W\d_]{3,15})(?=[)）\]])")


def _bracketed_number(found: re.Match[str], lex: Lexicon) -> str:
    value = lex.numbers.get(found.group(1))
    return str(value) if value is not None else found.group(0)


def _whole_years(found: re.Match[str], lex: Lexicon) -> str:
    number = found.group(1)
    return number if number.isdigit() or number in lex.numbers else found.group(0)


def _full_year(found: re.Match[str], year: int) -> str:
    short = int(found.group(1))
    century = year // 100 * 100
    return str(century + short if century + short <= year else century - 100 + short)


def named_first(text: str) -> bool:
    """Whether the request's first word may be a name: capitalised ("Sophie, 12"), or of a
    script without capitals ("小美（12）", "지민(14)"); "apples (9) in a bowl" is none."""
    first = _FIRST_LETTER.search(text)
    return first is not None and not first.group(0).islower()


_FIRST_LETTER = re.compile(r"[^\W\d_]")


def minor_age(
    digits_form: str, lex: Lexicon, *, year: int, subject_named: bool = False
) -> str | None:
    """The rule id ("minor_age", "minor_birth_year") of an age under 18 in the text, or None.

    `subject_named`: the original text's first word may be a name (`named_first`), so a
    number set off right after it is that person's age."""
    digits_form = _other_bases(digits_form)  # "0x0e", "1110 in binary": before "x1f" reads "xif"
    digits_form = _IN_WORD_DIGIT.sub(_digit_as_letter, digits_form)  # "tw3lve" is "twelve"
    # "born in '11": a year written short is the latest year it can be up to the Clock's
    digits_form = _SHORT_YEAR.sub(lambda found: _full_year(found, year), digits_form)
    if any(year - int(_full_year(c, year)) < ADULT_AGE for c in _COHORT.finditer(digits_form)):
        return "minor_birth_year"  # "10后": even its oldest is under 18 ("90后" are adults)
    digits_form = _SPACED_DIGITS.sub(r"\1\2", digits_form)  # "a girl of 1 3"
    digits_form = _AGE_SEX_TAG.sub(r" \1 years old", digits_form)
    digits_form = _SEX_AGE_TAG.sub(lambda found: f" {found[1] or found[2]} years old", digits_form)
    digits_form = _SEX_AGE_FIELD.sub(
        lambda found: f" {next(g for g in found.groups() if g)} years old ", digits_form
    )
    digits_form = _TURKIC_TEENS.sub(lambda found: str(10 + _TURKIC_UNITS[found[1]]), digits_form)
    digits_form = _IRISH_TEENS.sub(
        lambda found: f"{_IRISH_TENS[found[2]] + _IRISH_UNITS[found[1]]} bliain", digits_form
    )
    digits_form = _AND_A_HALF.sub(lambda found: _whole_years(found, lex), digits_form)
    digits_form = _BRACKETED_WORD.sub(lambda found: _bracketed_number(found, lex), digits_form)
    digits_form = _SUM.sub(_worked_out, digits_form)
    digits_form = _gregorian_years(digits_form)  # "born in Heisei 24", "1432 AH"
    digits_form = _FINANCIAL_AGE.sub(lambda found: found[0].translate(_FINANCIAL), digits_form)
    digits_form = _KANJI_MONTHS.sub(lambda found: str(kanji_value(found.group(1))), digits_form)
    objects = lex.phrase("objects")
    kanji_ages = list(KANJI_AGE.finditer(digits_form))
    for found in kanji_ages:
        value = kanji_value(found.group(1))
        difference = _kanji_difference(digits_form, found)
        if difference:  # "比她三十五岁的哥哥小两岁": younger by two than a stated age
            stated = [kanji_value(f.group(1)) for f in kanji_ages if f is not found]
            stated += [int(n) for n in _DIGIT_AGE.findall(digits_form)]
            if stated and 0 <= stated[0] + difference * value < ADULT_AGE:
                return "minor_age"
            continue
        if value < ADULT_AGE:
            if not _kanji_thing(digits_form, found, objects):
                return "minor_age"
    toks = roman_ages(digit_tokens(digits_form), lex)
    glued = glued_digits(digits_form)
    reader = Reader(
        toks,
        lex,
        year,
        glued,
        bracketed_digits(digits_form),
        after_commas(digits_form),
        subject_named,
        dotted_digits(digits_form),
    )
    halved = reader.halved_age() if reader.phrase("half_age") else None
    if halved is not None:
        return halved
    for compound in lex.compounds.matches(toks):  # "zwölfjährig", unless "ein zehnjähriger Golf"
        if not reader.head_is_thing(range(compound.end, compound.end + WINDOW), ("objects",)):
            return "minor_age"
    numbers = worked_out_numbers(numbers_in(toks, lex, glued), toks)
    if len(numbers) > MAX_NUMBERS:
        raise ValidationFailed(
            f"This text holds more than {MAX_NUMBERS} numbers, too many to screen; shorten it."
        )
    for number in numbers:
        adult = number.value > ADULT_AGE and number.value not in BIRTH_YEARS
        if adult and not reader.end_of("infant_units", number.end):
            if reader.small_units_age(number) or reader.younger_than_stated(number):
                return "minor_age"  # "a girl of 170 months", "her daughter, 25 years younger"
            continue  # "a 25 year old", "a 200-year-old tree": no rule can make it a minor
        # A number with its unit ("her 10-year-old cat") was judged by `with_unit`; a
        # person word before it does not make it a bare age again.
        bare = not (
            reader.end_of("age_units", number.end) or reader.end_of("infant_units", number.end)
        )
        rule = (
            reader.born_ago(number)
            or reader.year_of_life(number)
            or reader.birth_year(number)
            or reader.class_of(number)
            or reader.with_unit(number)
            or reader.school_grade(number)
            or reader.life_count(number)
            or reader.until_adult(number)
            or (
                reader.with_word_before(number)
                if bare and number.value not in BIRTH_YEARS
                else None
            )
        )
        if rule is not None:
            return rule
    return None
