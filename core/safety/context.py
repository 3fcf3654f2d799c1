"""Context rules: a youth word that, where it stands, describes no person under 18.

Each rule names the youth words it holds for (token indices, or character spans of
Chinese/Japanese text); `core.safety.prompts` treats them like the phrase exemptions, so
none holds in a child's world or beside a bare number under 18. The rules:

- a simile: the youth word is what an adult is compared to ("a man of 60 laughing like a
  child", "wie ein kleines Kind", "子供のように"); never after a look or dress word ("looks
  like a child", "dressed like a schoolgirl") and only when the request names an adult;
- an endearment: "baby" and its kin said to an adult, after a calling word ("calls his
  wife baby", "nennt seine Frau Baby") or quoted ("'my baby'"), with an adult named;
- a profession: a school or child-care word naming where an adult works ("a kindergarten
  teacher", "maestra de primaria", "Grundschullehrerin", "小学校の先生"), only when the
  request names no one else not stated to be an adult ("a kindergarten teacher with a
  boy", "中学の先生と生徒": then the school may be theirs; `ages.Reader.others_named`);
- an adult age attached: a relative or "the boys" given an adult age ("her daughter, 30",
  "mi hija de 27 años", "the boys, all in their forties", "四十岁的大男孩");
- an empty place: a school or child-care word beside an `empty_words` word ("an empty
  high school lab", "un jardin d'enfants vide", "誰もいない幼稚園"): the place, nobody in it;
- a milestone: a child's celebration an adult attends ("a guest of 30 at her niece's
  quinceañera"), only when the request names an adult and never "her own";
- a former youth: a `former` word right before the youth word ("a former child star, now
  45", "une ancienne enfant star de 40 ans"), only when the request names an adult.

Every look is a few tokens wide and made of list lookups, so the cost stays linear.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from core.safety import ages
from core.safety.lexicon import ADULT_AGE, Lexicon
from core.safety.normalization import normalize, tokens
from core.safety.phrases import Form, Match, PhraseSet, in_form

# Words that may stand between a simile word and the youth word ("like a little child").
_GAP = 2
# Tokens between a calling word and the endearment ("calls his wife baby").
_CALL_GAP = 5
# How far past a Chinese/Japanese youth word a place word may run ("幼儿" in "幼儿园").
_PLACE_REACH = 2
# How far an apposition may carry an adult age ("the boys from the pub, all in their 40s").
_APPOSITION = 6
# How far past a Chinese/Japanese endearment its partner may stand ("宝宝，其实是我的老公").
_PARTNER_CHARS = 16
# How far into the request a colon may end its caption ("mon bébé : un couple").
_CAPTION_CHARS = 40
OLDEST_AGE = 120
# Quotations read per request: a few say an endearment; more is no prompt (work stays bounded).
_MAX_QUOTATIONS = 20
_QUOTES = '"“”„«»「」『』'
_QUOTED = re.compile(
    "[" + _QUOTES + "]([^" + _QUOTES + "]{1,60})[" + _QUOTES + r"]|(?<!\w)'([^']{1,60})'(?!\w)"
)
# Ages in the letters form, where digits read as look-alike letters ("30歳" is "eo歳").
_UNSPACED_AGE = re.compile(
    r"([\doieast]{1,3}|[一二两兩三四五六七八九十]{1,4})[岁歳歲](?:的|の)?大?$"
)
_AS_DIGITS = str.maketrans("oieast", "013457")
# Every unspaced age of a text ("三十五岁", "35歳"), in the letters form.
_UNSPACED_AGE_ANY = re.compile(r"([\doieast]{1,3}|[一二两兩三四五六七八九十]{1,4})[岁歳歲]")
# A numeral right after a Chinese/Japanese school word, its grade glued after ("中学2年生").
_UNSPACED_NUMERAL = re.compile(r"\s?(?:[\doieastl]{1,2}|[一二三四五六七八九十]{1,3})\s?")


# A word of the original text, for its capitals.
_WORD = re.compile(r"[^\W\d_]+")


@dataclass(frozen=True)
class Held:
    """What the context rules hold in one form: token indices and unspaced spans."""

    tokens: frozenset[int]
    spans: tuple[tuple[int, int], ...]


def _youth_matches(lex: Lexicon, toks: list[str], form: str) -> list[Match]:
    names = ("youth_accented",) if form == "accents" else ("youth", "youth_sexual")
    return [m for name in names for m in lex.term(name).matches(toks)]


def _unspaced_youth(lex: Lexicon, letters: str, form: str) -> list[Match]:
    if form == "accents":
        return []
    names = ("youth", "youth_sexual")
    return [m for name in names for m in lex.term(name).unspaced_matches(letters)]


def _ends_before(phrases: PhraseSet, toks: list[str], index: int) -> int:
    """The start of a phrase of `phrases` ending right before token `index`, or -1."""
    for start in range(max(0, index - phrases.max_words), index):
        if phrases.end_at(toks, start) and any(
            m.end == index for m in phrases.matches_at(toks, start)
        ):
            return start
    return -1


class ContextRules:
    """The context rules over one request; `adult_named` is read once, when needed."""

    def __init__(self, text: str, lex: Lexicon) -> None:
        self.text, self.lex = text, lex
        self._adult: bool | None = None
        self._quotes: dict[str, list[tuple[int, list[str]]]] = {}
        self._reader: ages.Reader | None = None
        self._titled: dict[str, frozenset[tuple[str, str]]] = {}

    @cached_property
    def digits(self) -> list[str]:
        """The tokens of the digits form (numbers kept), read once per request."""
        return tokens(normalize(self.text, lookalikes=False))

    @cached_property
    def thing_named(self) -> bool:
        """Whether the request names a thing (an `objects` word of the age rules)."""
        found = ages.digit_tokens(normalize(self.text, lookalikes=False))
        objects = self.lex.phrase("objects")
        return any(objects.end_at(found, index) for index in range(len(found)))

    def quotations(self, form: str) -> list[tuple[int, list[str]]]:
        """The short quotations of the request: the index of their first token, and their
        tokens, in `form` (read once per form)."""
        if form not in self._quotes:
            as_form: Form = "accents" if form == "accents" else "letters"
            found: list[tuple[int, list[str]]] = []
            counted, position = 0, 0  # tokens before `position`, counted piece by piece
            for quoted in _QUOTED.finditer(self.text):
                if len(found) == _MAX_QUOTATIONS:
                    break
                group = 1 if quoted.group(1) is not None else 2
                counted += len(tokens(in_form(self.text[position : quoted.start(group)], as_form)))
                inner = tokens(in_form(quoted.group(group), as_form))
                found.append((counted, inner))
                counted, position = counted + len(inner), quoted.end(group)
            self._quotes[form] = found
        return self._quotes[form]

    def list_in(self, name: str, form: str) -> PhraseSet:
        """Context list `name` in `form` (see `Lexicon.context_in`)."""
        return self.lex.context_in(name, form)

    @property
    def adult_named(self) -> bool:
        """Whether the request names an adult: an `adults` word or an adult age."""
        if self._adult is None:
            self._adult = self._adult_word() or self._adult_number()
        return self._adult

    def _adult_word(self) -> bool:
        letters = normalize(self.text)
        adults = self.list_in("adults", "letters")
        return (
            adults.first(tokens(letters)) is not None
            or next(adults.unspaced_matches(letters), None) is not None
        )

    def _adult_number(self) -> bool:
        digits_form = normalize(self.text, lookalikes=False)
        toks = ages.digit_tokens(digits_form)
        reader = ages.Reader(toks, self.lex, year=0, glued=ages.glued_digits(digits_form))
        return any(
            ADULT_AGE <= n.value < OLDEST_AGE and not reader.not_an_age_after(n.end)
            for n in ages.numbers_in(toks, self.lex)
        ) or any(
            ages.kanji_value(found.group(1)) >= ADULT_AGE
            for found in ages.KANJI_AGE.finditer(digits_form)
        )

    def held(
        self, letters: str, toks: list[str], form: str, covered: frozenset[int] = frozenset()
    ) -> Held:
        """Every youth word of one form of the request that a context rule holds; words
        already `covered` by an exemption are not read again."""
        found = [
            m
            for m in _youth_matches(self.lex, toks, form)
            if not covered.issuperset(range(m.start, m.end))
        ]
        unspaced = _unspaced_youth(self.lex, letters, form)
        if not found and not unspaced:
            return Held(frozenset(), ())
        indices: set[int] = set()
        for match in found:
            if self._holds(match, toks, form):
                indices |= set(range(match.start, match.end))
        spans = tuple((m.start, m.end) for m in unspaced if self._holds_unspaced(m, letters))
        return Held(frozenset(indices), spans)

    def _holds(self, match: Match, toks: list[str], form: str) -> bool:
        return (
            self._profession(match, toks, form)
            or self._surname(match, toks, form)
            or self._empty_place(match, toks, form)
            or self._adult_age_attached(match, toks, form)
            or self._written(match, toks, form)
            or (
                self.adult_named  # read once per request: first, before four rules per match
                and (
                    self._simile(match, toks, form)
                    or self._endearment(match, toks, form)
                    or self._partner_endearment(match, toks, form)
                    or self._former(match, toks, form)
                    or self._milestone(match, toks, form)
                )
            )
        )

    # -- similes -------------------------------------------------------------------------
    def _simile(self, match: Match, toks: list[str], form: str) -> bool:
        """ "like a (little) child", "wie ein kleines Kind", "çocuk gibi", "बच्चे की तरह": the
        generic words of `simile_words`; a role ("like a schoolgirl", `simile_roles`) only
        after a behaviour ("giggling like a schoolgirl", "as giddy as a schoolboy") and
        without sexual words."""
        if self._listed("simile_glued", match, toks, form):  # Arabic "كالطفل": "like the child"
            later = range(match.end, min(len(toks), match.end + _GAP))
            appearance = self.list_in("appearance", form)
            return not any(appearance.end_at(toks, index) for index in later)
        role = self._listed("simile_roles", match, toks, form)
        if not role and not self._listed("simile_words", match, toks, form):
            return False
        if role and self.sexual:
            return False
        before, skip = self.list_in("simile_before", form), self.list_in("simile_skip", form)
        for gap in range(_GAP + 1):
            end = match.start - gap
            if end < 1 or any(not skip.end_at(toks, i) for i in range(end, match.start)):
                break
            start = _ends_before(before, toks, end)
            if start >= 0 and role and not self._behaviour_at(toks, start, form, match.end):
                return False  # "a woman, 30, like a schoolgirl": a role, not a behaviour
            if start >= 0:  # "looks like a child", "die wie ein Kind aussieht": a look
                appearance = self.list_in("appearance", form)
                later = range(match.end, min(len(toks), match.end + _GAP))
                return _ends_before(appearance, toks, start) < 0 and not any(
                    appearance.end_at(toks, index) for index in later
                )
        after = self.list_in("simile_after", form)
        end = after.end_at(toks, match.end) if match.end < len(toks) else 0
        if not end or role:
            return False
        # "çocuk gibi görünen", "बच्चे की तरह दिखती": a look word after it
        return end >= len(toks) or not self.list_in("appearance", form).end_at(toks, end)

    def _behaviour_at(self, toks: list[str], start: int, form: str, after: int) -> bool:
        """Whether a `simile_behaviours` word opens the simile phrase starting at `start`
        ("giddy as"), stands right before it ("giggling like") or right after its role at
        `after` (German puts the verb last: "der wie ein Schuljunge kichert")."""
        behaviours = self.list_in("simile_behaviours", form)
        places = (start - 1, start, after)
        return any(behaviours.end_at(toks, i) for i in places if 0 <= i < len(toks))

    @cached_property
    def sexual(self) -> bool:
        """Whether the request has words of sexual context."""
        letters = normalize(self.text)
        sexual = self.lex.term("sexual")
        return sexual.first(tokens(letters)) is not None or any(
            True for _ in sexual.unspaced_matches(letters)
        )

    # -- surnames -----------------------------------------------------------------------
    def _surname(self, match: Match, toks: list[str], form: str) -> bool:
        """ "el señor Niño", "il signor Bambini", "Mr. Kidd": a one-word youth word written
        capitalised right after an `honorifics` word is a surname (an honorific names an
        adult); "el señor niño" is not."""
        if match.end - match.start != 1 or match.start == 0:
            return False
        honorifics = self.list_in("honorifics", form)
        if honorifics.end_at(toks, match.start - 1) != match.start:
            return False
        as_form: Form = "accents" if form == "accents" else "letters"
        return (toks[match.start - 1], toks[match.start]) in self._titled_pairs(as_form)

    def _titled_pairs(self, form: Form) -> frozenset[tuple[str, str]]:
        """The pairs (word, next word), in `form`, of the request's words whose next word is
        written with a capital (read once per form)."""
        if form not in self._titled:
            words = _WORD.findall(self.text)
            self._titled[form] = frozenset(
                (in_form(word, form), in_form(after, form))
                for word, after in zip(words, words[1:], strict=False)
                if after[:1].isupper()
            )
        return self._titled[form]

    # -- empty places --------------------------------------------------------------------
    def _empty_place(self, match: Match, toks: list[str], form: str) -> bool:
        """ "an empty kindergarten", "un jardin d'enfants vide": a school or child-care word
        (`institutions`) with an `empty_words` word at most `_GAP` tokens before or after."""
        if not self.list_in("institutions", form).end_at(toks, match.start):
            return False
        empty = self.list_in("empty_words", form)
        before = range(max(0, match.start - _GAP - 1), match.start)
        after = range(match.end, min(len(toks), match.end + _GAP + 1))
        return any(empty.end_at(toks, index) for index in (*before, *after))

    # -- former youths -------------------------------------------------------------------
    def _former(self, match: Match, toks: list[str], form: str) -> bool:
        """ "a former child star", "an ex-child actor", "ein ehemaliger Kinderstar": a
        `former` word right before the youth word, and a word after it (the role); or "who
        was a" (`former_was`) with a `former_roles` word after ("a child star")."""
        if match.end >= len(toks):
            return False
        if _ends_before(self.list_in("former", form), toks, match.start) >= 0:
            return True
        # "an actress who was a child star": a past role, only with the role said after it
        was = _ends_before(self.list_in("former_was", form), toks, match.start) >= 0
        return was and bool(self.list_in("former_roles", form).end_at(toks, match.end))

    # -- milestones ----------------------------------------------------------------------
    def _milestone(self, match: Match, toks: list[str], form: str) -> bool:
        """ "a guest of 30 at her niece's quinceañera": a child's celebration (`milestones`)
        that an adult attends, held only when the request names an adult; never the
        celebrant's own ("at her own sweet sixteen", "en su propia fiesta")."""
        if not self.list_in("milestones", form).end_at(toks, match.start):
            return False
        own = self.list_in("own", form)
        return not any(own.end_at(toks, i) for i in range(max(0, match.start - 3), match.start))

    # -- endearments ---------------------------------------------------------------------
    def _endearment(self, match: Match, toks: list[str], form: str) -> bool:
        """ "calls his wife baby", "er nennt sie Baby", or the word quoted ("'my baby'"); the
        endearment may run past the youth word ("kaller kona 'jenta mi'": "jenta", my girl)."""
        endearments = self.list_in("endearments", form)
        phrase_end = endearments.end_at(toks, match.start)
        if phrase_end < match.end:
            return False
        tags = self.list_in("speech_tags", form)
        possessives = self.list_in("possessives", form)
        # "mon bébé, dit-elle à son mari", "..., mi niña le dice": said to someone, who is
        # named; the word opens the request or is the speaker's own ("mi", "my")
        spoken = match.start <= 1 or _ends_before(possessives, toks, match.start) >= 0
        if spoken and match.end < len(toks) and tags.end_at(toks, match.end):
            return True
        if match.start <= 1 and phrase_end == self._caption_words(form):
            return True  # "mein Baby: ein Paar in den Vierzigern": the caption of the scene
        calls = self.list_in("calls", form)
        # "calls her baby", "kaller jenta mi": the possessive before it or inside the phrase
        possessed = _ends_before(possessives, toks, match.start) >= 0 or any(
            possessives.end_at(toks, index) for index in range(match.end, phrase_end)
        )
        for index in range(max(0, match.start - _CALL_GAP - 1), match.start):
            end = calls.end_at(toks, index)
            if not end:
                continue
            if not possessed:
                return True  # "calls his wife baby": someone else is the one called
            if self._called_named(toks, end, match.start, form):
                return True  # "calls him her baby boy": he is the one called, hers
            # "calls (out to) her baby" may be a mother calling her child: only "the app
            # she calls her baby", a thing named and its owner the subject, holds.
            subject = _ends_before(self.list_in("call_subjects", form), toks, index) >= 0
            if subject and self.thing_named:
                return True
            break
        return self._quoted(match, toks, form)

    def _called_named(self, toks: list[str], start: int, end: int, form: str) -> bool:
        """Whether a `call_objects` word ("him", "her") stands in [start, end) before the
        possessive that ends there ("calls her his little girl"): the one called is named,
        the possessive the caller's, not a mother's word for her child."""
        owner = _ends_before(self.list_in("possessives", form), toks, end)
        objects = self.list_in("call_objects", form)
        return owner > start and any(objects.end_at(toks, i) for i in range(start, owner))

    def _partner_endearment(self, match: Match, toks: list[str], form: str) -> bool:
        """ "mi niña, mi esposa de 45 años", "my wife, my baby girl": an endearment, the
        speaker's own or opening the request, set beside a `partners` word (a spouse, a
        boyfriend) with no `apposition_stops` word between or just after ("my baby, my
        husband and me" may be three people); or with an adult age right after it ("my
        baby, 34, asleep"). Never "my baby, my son": only a partner is one's baby so."""
        phrase_end = self.list_in("endearments", form).end_at(toks, match.start)
        if phrase_end < match.end:
            return False
        possessives = self.list_in("possessives", form)
        owned = match.start <= 1 or _ends_before(possessives, toks, match.start) >= 0
        if not owned and not any(
            possessives.end_at(toks, i) for i in range(match.start, phrase_end)
        ):
            return False
        digits = self.digits
        if len(digits) == len(toks):
            reader = ages.Reader(digits, self.lex, year=0)
            if self._adult_number_at(reader, digits, phrase_end) is not None:
                return True
        partners, stops = self.list_in("partners", form), self.list_in("apposition_stops", form)
        after = range(phrase_end, min(len(toks), phrase_end + _APPOSITION))
        before = range(match.start - 1, max(-1, match.start - 1 - _APPOSITION), -1)
        for side in (after, before):
            for index in side:
                partner_end = partners.end_at(toks, index)
                if partner_end:
                    return side is before or not self._listed_on(toks, partner_end, form)
                if stops.end_at(toks, index) or self._person_at(toks, index):
                    break  # "my baby, my son, ...": the nearest person is the baby
        return False

    def _listed_on(self, toks: list[str], start: int, form: str) -> bool:
        """Whether an `apposition_stops` word ("and", "with") follows token `start` in its
        clause or opens the next one ("my husband of 40 and me", "my husband, and me"):
        then the words before it may be a list of people."""
        commas, digits = self.commas, self.digits
        reader = ages.Reader(digits, self.lex, year=0) if len(digits) == len(toks) else None
        for index in range(start, min(len(toks), start + _APPOSITION)):
            stop_end = self.list_in("apposition_stops", form).end_at(toks, index)
            if stop_end and (
                reader is None or self._adult_number_at(reader, digits, stop_end) is None
            ):
                return True  # not "of 40" (Dutch "of", or): a stop leading an age lists no one
            if index in commas and index > start:
                return False  # the next clause opened with another word
        return False

    @cached_property
    def commas(self) -> frozenset[int]:
        """The indices of the tokens a comma stands right before (see `ages.after_commas`)."""
        return ages.after_commas(normalize(self.text, lookalikes=False))

    def person_named(self, toks: list[str], match: Match) -> bool:
        """Whether `toks` name a person or a relative, or hold a youth word, outside the
        youth word at `match` (a possessive, "her", names no one of its own)."""
        possessives = self.list_in("possessives", "letters")
        return any(
            self._person_at(toks, index) and not possessives.end_at(toks, index)
            for index in range(len(toks))
            if not match.start <= index < match.end
        )

    def _person_at(self, toks: list[str], index: int) -> bool:
        """Whether a word naming a person or a relative, or a youth word, starts at `index`."""
        lists = [self.lex.phrase(name) for name in ("persons", "relations")]
        lists += [self.lex.term(name) for name in ("youth", "youth_sexual")]
        return any(words.end_at(toks, index) for words in lists)

    def _caption_words(self, form: str) -> int:
        """How many tokens stand before a colon that opens the request ("hey kiddo: a
        father on the phone"), or -1 without one."""
        head, colon, _ = self.text[:_CAPTION_CHARS].partition(":")
        as_form: Form = "accents" if form == "accents" else "letters"
        return len(tokens(in_form(head, as_form))) if colon else -1

    def _written(self, match: Match, toks: list[str], form: str) -> bool:
        """ "a neon sign saying Baby, I'm yours", "a love letter that begins my baby": an
        endearment written on a thing (`writing` lead after an `artifacts` word), not a
        person, in a request without sexual words; any youth word so, quoted, in a request
        naming no one ("a sign reading "Kids Eat Free" outside a diner")."""
        if self.sexual:
            return False
        if not self.list_in("endearments", form).end_at(toks, match.start) and not (
            self._quoted(match, toks, form) and not self.person_named(toks, match)
        ):
            return False
        writing, artifacts = self.list_in("writing", form), self.lex.term("artifacts")
        start = match.start
        if _ends_before(self.list_in("possessives", form), toks, start) >= 0:
            start -= 1
        lead = _ends_before(writing, toks, start)
        return lead > 0 and any(
            artifacts.end_at(toks, index) for index in range(max(0, lead - _GAP - 1), lead)
        )

    def _quoted(self, match: Match, toks: list[str], form: str) -> bool:
        """Whether the word at `match` lies inside a short quotation in the original text
        (its place found by counting tokens before the quotation; a miscount holds nothing)."""
        for first, inner in self.quotations(form):
            if first <= match.start and match.end <= first + len(inner):
                said = inner[match.start - first : match.end - first]
                return toks[match.start : match.end] == said
        return False

    # -- professions ---------------------------------------------------------------------
    def _profession(self, match: Match, toks: list[str], form: str) -> bool:
        """ "kindergarten (math) teacher", "maestra de primaria", "Grundschullehrerin": only
        for school and child-care words (`institutions`), never "a child chef"."""
        if not self.list_in("institutions", form).end_at(toks, match.start):
            return False
        staff = self.list_in("staff", form)
        youth = [self.lex.term(n) for n in ("youth", "youth_sexual")]
        stops = self.list_in("apposition_stops", form)
        for index in range(match.end, min(len(toks), match.end + 3)):
            staff_end = staff.end_at(toks, index)
            if staff_end:
                return not self.someone_else(toks, match.start, staff_end)
            if stops.end_at(toks, index) or any(y.end_at(toks, index) for y in youth):
                break  # "kahdeksannen luokan oppilas ja opettaja": a pupil and a teacher
        links = self.list_in("staff_links", form)
        index = match.start
        while index > 0 and match.start - index < 3 and links.end_at(toks, index - 1):
            index -= 1
        staff_start = _ends_before(staff, toks, index) if index > 0 else -1
        if staff_start >= 0:
            return not self.someone_else(toks, staff_start, match.end)
        glued = self.lex.context_words("staff_glued")
        token = toks[match.start] if match.end - match.start == 1 else ""
        return any(word in token[3:] for word in glued) and not self.someone_else(
            toks, match.start, match.end
        )

    def someone_else(self, toks: list[str], start: int, end: int) -> bool:
        """Whether `toks`, outside the staff member's words [start, end), name someone not
        stated to be an adult ("a kindergarten teacher with a boy"): then her school word
        may be theirs, and no staff rule holds it."""
        reader = self._reader
        if reader is None or reader.toks is not toks:  # one Reader per token list read
            reader = self._reader = ages.Reader(toks, self.lex, year=0)
        return reader.others_named(start, end)

    def _holds_unspaced(self, match: Match, letters: str) -> bool:
        """The Chinese/Japanese forms: "小学校の先生", "中学老师", "子供のように", "像孩子一样",
        "四十岁的大男孩"."""
        word = letters[match.start : match.end]
        place_end = self._place_end(letters, match)  # "幼儿" of "幼儿园": the staff follow 园
        rest = letters[max(match.end, place_end) : max(match.end, place_end) + 12].lstrip()
        while word and rest.startswith(word):  # "妹妹（30岁）": the word said twice is one word
            rest = rest[len(word) :]
        for particle in ("校", "の", "的"):
            rest = rest.removeprefix(particle)
        staff = self.list_in("staff", "letters")
        if (place_end or self._unspaced_in("institutions", word)) and any(
            m.start == 0 for m in staff.unspaced_matches(self._after_grade(letters, match, rest))
        ):  # "中学の先生と生徒": with a pupil named, the school may be the pupil's
            others = letters[: match.start] + " " + letters[max(match.end, place_end) :]
            return not self.someone_else(tokens(others), 0, 0)
        before = letters[max(0, match.start - 8) : match.start].rstrip()
        while word and before.endswith(word):  # "妹妹": the word said twice is one word
            before = before[: -len(word)]
        lead = letters[max(0, match.start - 16) : match.start].rstrip()
        if (place_end or self._unspaced_in("institutions", word)) and self._staff_ends(lead):
            # "ครูโรงเรียนมัธยม" (a teacher of a secondary school): Thai names the staff first
            others = letters[: match.start] + " " + letters[max(match.end, place_end) :]
            return not self.someone_else(tokens(others), 0, 0)
        if self._place_at(letters, match) and self._unspaced_in("empty_words", before):
            return True  # "誰もいない幼稚園", "空荡荡的幼儿园": the place, nobody in it
        aged = _UNSPACED_AGE.search(before)
        if aged is not None and self._adult_by_difference(letters, match.start, before, aged):
            return True  # "比她三十五岁的哥哥小两岁的妹妹": two years younger than 35
        if aged is not None and _kanji_or_digits(aged.group(1)) >= ADULT_AGE:
            if self._unspaced_in("adult_by_age", word) or self._unspaced_in("adult_groups", word):
                return True
        relative_word = self._unspaced_in("adult_by_age", word) or (
            self.lex.term("youth_sexual").in_unspaced(word)
        )
        if relative_word and _adult_unspaced_after(rest):
            return True  # "娘（30歳）", "我的女儿，三十岁": the age right after the relative
        if self._unspaced_in("endearments", word) and self._partner_unspaced(letters, match):
            return True  # "我家宝宝，其实是我三十岁的老公": the endearment is the husband's
        before_noun = before[:-1] if before.endswith(("の", "的")) else before
        young = self.lex.term("youth_modifiers").in_unspaced(word)
        if young and self.lex.term("young_things").ends_unspaced(before_noun):
            return True  # "パンダの赤ちゃん", "熊猫宝宝": the young of an animal
        if not self._unspaced_in("simile_words", word):
            return False
        simile = self.list_in("simile_after", "letters")
        tail = letters[match.end : match.end + 8]
        like = any(m.start == 0 for m in simile.unspaced_matches(tail)) or (
            before.endswith("像") and any(True for _ in simile.unspaced_matches(tail[:4]))
        )
        # "子供のように見える", "看起来像孩子一样": a look, not a simile
        appearance = self.list_in("appearance", "letters")
        looks = any(True for _ in appearance.unspaced_matches(before + tail))
        return like and not looks and self.adult_named

    def _partner_unspaced(self, letters: str, match: Match) -> bool:
        """`_partner_endearment` for Chinese/Japanese text: a `partners` word within
        `_PARTNER_CHARS` characters after the endearment, with no `apposition_stops` word
        ("和", "と") and no youth or relative word between."""
        tail = letters[match.end : match.end + _PARTNER_CHARS]
        partner = next(iter(self.list_in("partners", "letters").unspaced_matches(tail)), None)
        if partner is None:
            return False
        between = tail[: partner.start]
        blockers = [self.list_in(n, "letters") for n in ("apposition_stops", "adult_by_age")]
        blockers += [self.lex.term(n) for n in ("youth", "youth_sexual")]
        return not any(next(iter(words.unspaced_matches(between)), None) for words in blockers)

    def _staff_ends(self, before: str) -> bool:
        """Whether `before` (the text just before a school word) ends with a `staff` word,
        an `institutions` word ("โรงเรียน", a school) at most between them."""
        staff = self.list_in("staff", "letters")
        places = self.list_in("institutions", "letters")
        if staff.ends_unspaced(before):
            return True
        ends = [m.start for m in places.unspaced_matches(before) if m.end == len(before)]
        return any(staff.ends_unspaced(before[:start]) for start in ends)

    def _adult_by_difference(
        self, letters: str, start: int, before: str, aged: re.Match[str]
    ) -> bool:
        """Whether the unspaced age right before a relative is a difference ("小两岁", "大三岁"
        after "比") from another age the text states, and the two make an adult."""
        lead = before[max(0, aged.start() - 1) : aged.start()]
        if lead not in ("小", "大") or "比" not in letters[:start]:
            return False
        others = [
            _kanji_or_digits(found.group(1))
            for found in _UNSPACED_AGE_ANY.finditer(letters[: start - len(before) + aged.start()])
        ]
        if not others:
            return False
        value = others[-1] + (-1 if lead == "小" else 1) * _kanji_or_digits(aged.group(1))
        return ADULT_AGE <= value < OLDEST_AGE

    def _after_grade(self, letters: str, match: Match, rest: str) -> str:
        """`rest` past a school grade right after the school word ("中学2年生の担任の先生":
        "担任の先生"), so a teacher of that grade is read as at the school; `rest` if none."""
        start = max(match.end, self._place_end(letters, match))
        number = _UNSPACED_NUMERAL.match(letters, start)
        tail = letters[number.end() : number.end() + 12] if number is not None else ""
        grade = self.lex.phrase("unspaced_grades").unspaced_prefix(tail)
        if not grade:
            return rest
        after = tail[len(grade) : len(grade) + 8]
        for particle in ("の", "的"):
            after = after.removeprefix(particle)
        return after

    def _place_at(self, letters: str, match: Match) -> bool:
        """Whether a Chinese/Japanese school or child-care word (`institutions`) starts at
        the youth word and covers it, even running past it ("幼儿" of "幼儿园")."""
        return self._place_end(letters, match) > 0

    def _place_end(self, letters: str, match: Match) -> int:
        """Where in `letters` the longest such school or child-care word ends, or 0."""
        word = letters[match.start : match.end + _PLACE_REACH]
        places = self.list_in("institutions", "letters").unspaced_matches(word)
        ends = [m.end for m in places if m.start == 0 and m.end >= match.end - match.start]
        return match.start + max(ends) if ends else 0

    def _unspaced_in(self, name: str, word: str) -> bool:
        """Whether a Chinese/Japanese entry of context list `name` is in `word`."""
        return self.list_in(name, "letters").in_unspaced(word)

    # -- adult ages ----------------------------------------------------------------------
    def _adult_age_attached(self, match: Match, toks: list[str], form: str) -> bool:
        """A relative given an adult age right after it ("her daughter, 30", "mi hija de 27
        años") or an adulthood in words (an `adult_decades` word: "postala punoljetna"), or
        a group ("the boys", "as meninas") given one in its phrase as an age, not a count:
        "the boys, all in their forties", "as meninas do escritório, mulheres de 35 anos",
        "the pupils all over 70" (never "the kids, 30 of them")."""
        # The relative may run past the youth word: "my baby sister, 27" ("baby").
        relatives = self.list_in("adult_by_age", form).matches_at(toks, match.start)
        relative_end = max((m.end for m in relatives if m.end >= match.end), default=0)
        led = _ends_before(self.list_in("adult_by_age", form), toks, match.end)
        if not relative_end and 0 <= led < match.start:
            relative_end = match.end  # "their youngest kid, now 26": the phrase ends at it
        listed_group = not relative_end and self._listed("adult_groups", match, toks, form)
        if (
            not relative_end
            and not listed_group
            and form != "accents"
            and self._ambiguous(match, toks)
        ):
            relative_end = match.end  # "meisie van 25", "msichana wa miaka 25": a word that
            # names a girl or a young woman alike, an adult age attached to it
        relative = relative_end > 0
        group = not relative and self._listed("adult_groups", match, toks, form)
        if not relative and not group:
            return False
        digits = self.digits
        if len(digits) != len(toks):
            return False  # the forms do not line up: hold nothing
        reader = ages.Reader(digits, self.lex, year=0)
        if relative and self._adult_age_before(reader, digits, match.start):
            return True  # "पच्चीस साल की लड़की", "a 30-year-old daughter"
        stops, decades = (self.list_in(k, form) for k in ("apposition_stops", "adult_decades"))
        if relative:
            index = relative_end
            while index < len(digits) and index - relative_end < ages.WINDOW + 1:
                aged = reader.end_of("age_before", index)  # "budak perempuan berumur 25"
                if aged:
                    index = aged
                elif self._filler(digits[index]):
                    index += 1
                else:
                    break
            # "djevojka koja je upravo postala punoljetna": an adulthood said in words
            return (
                self._adult_number_at(reader, digits, index) is not None
                or (index < len(toks) and bool(decades.end_at(toks, index)))
                or self._adult_difference_at(reader, digits, index)
            )
        leads = self.list_in("adult_age_leads", form)
        for index in range(match.end, min(len(toks), match.end + _APPOSITION)):
            # a stop closing a lead is none ("todas com 30 anos": all of them aged 30)
            if stops.end_at(toks, index) and _ends_before(leads, toks, index + 1) < 0:
                return False
            if decades.end_at(toks, index):
                return True
            after = self._adult_number_at(reader, digits, index)
            if after is not None:
                led = any(
                    _ends_before(leads, toks, i) >= 0 for i in range(max(0, index - 1), index + 1)
                )
                return led or bool(reader.end_of("age_units", after))
        return False

    def _ambiguous(self, match: Match, toks: list[str]) -> bool:
        """Whether the youth word at `match` is a `youth_sexual` one (a word naming a girl or
        a young woman alike: "meisie", "msichana", "tüdruk"), which an adult age attached
        makes an adult's."""
        found = self.lex.term("youth_sexual").matches_at(toks, match.start)
        return any(m.end == match.end for m in found)

    def _adult_difference_at(self, reader: ages.Reader, digits: list[str], index: int) -> bool:
        """Whether a difference of ages starting at `index` ("25 years younger") makes an
        adult of the age the request states elsewhere ("a woman of 60 and her daughter, 25
        years younger": 35)."""
        numbers = ages.numbers_in(digits[index : index + 3], self.lex)
        if not numbers or numbers[0].start != 0:
            return False
        found = numbers[0]
        number = ages.Number(index, index + found.end, found.value, found.digits, found.ordinal)
        sign = reader.difference_sign(number)
        value = reader.relative_value(number, sign) if sign else None
        return value is not None and ADULT_AGE <= value < OLDEST_AGE

    def _adult_age_before(self, reader: ages.Reader, digits: list[str], start: int) -> bool:
        """Whether an adult age with its unit ends just before token `start`, one filler
        word ("की", "of") apart at most."""
        window = max(0, start - 6)
        for number in ages.numbers_in(digits[window:start], self.lex):
            found = ages.Number(
                window + number.start, window + number.end, number.value, number.digits, False
            )
            sign = reader.difference_sign(found)
            if sign and found.end + 2 >= start:  # "35살 오빠보다 두 살 어린 여동생": 33
                value = reader.relative_value(found, sign)
                if value is not None and ADULT_AGE <= value < OLDEST_AGE:
                    return True
            if not ADULT_AGE <= number.value < OLDEST_AGE:
                continue
            unit_end = reader.end_of("age_units", window + number.end)
            gap = digits[unit_end:start] if unit_end else ["-"] * 9
            if unit_end and len(gap) <= 1 and all(self._filler(t) for t in gap):
                return True
        return False

    def _listed(self, name: str, match: Match, toks: list[str], form: str) -> bool:
        listed = self.list_in(name, form).matches_at(toks, match.start)
        return any(m.end == match.end for m in listed)

    def _filler(self, token: str) -> bool:
        return token in self.lex.age_words["fillers"]

    def _adult_number_at(self, reader: ages.Reader, digits: list[str], index: int) -> int | None:
        """Where an adult age (18-119, no measure after it) starting at `index` ends."""
        numbers = ages.numbers_in(digits[index : index + 3], self.lex)
        if not numbers or numbers[0].start != 0:
            glued = _GLUED_AGE.match(digits[index]) if index < len(digits) else None
            if glued is None or not ADULT_AGE <= int(glued.group(1)) < OLDEST_AGE:
                return None
            return index + 1  # "제 딸, 30살": Korean writes the unit glued to the number
        value, after = numbers[0].value, index + numbers[0].end
        if ADULT_AGE <= value < OLDEST_AGE and not reader.not_an_age_after(after):
            return after
        return None


# An age written glued to its unit in one token ("30살", "30세"): the digits, then letters.
_GLUED_AGE = re.compile(r"^(\d{1,3})[^\W\d_]")
_UNSPACED_AGE_AFTER = re.compile(
    r"^[\s(（,，、:：]{0,3}([\doieast]{1,3}|[一二三四五六七八九十]{1,4})[岁歳歲]"
    r"|^\s?[(（]([\doieast]{1,3})[)）]"  # "娘（34）": an age in brackets, its unit unsaid
    r"|^\s?อายุ\s?([\doieast]{1,3})\s?(?:ปี|ขวบ)"  # Thai "ลูกสาวอายุ 25 ปี"
)


def _adult_unspaced_after(rest: str) -> bool:
    """Whether `rest` opens with an adult age ("（30歳）", "，三十岁")."""
    found = _UNSPACED_AGE_AFTER.match(rest)
    if found is None:
        return False
    numeral = found.group(1) or found.group(2) or found.group(3)
    return ADULT_AGE <= _kanji_or_digits(numeral) < OLDEST_AGE


def _kanji_or_digits(numeral: str) -> int:
    as_digits = numeral.translate(_AS_DIGITS)
    return int(as_digits) if as_digits.isdecimal() else ages.kanji_value(numeral)
