"""The policy's word lists: one editable TOML file per language under `data/safety/lexicon/`.

Every file may carry any of the keys below; the lexicon is their union, normalised the way
requests are (see `core.safety.normalization`), so an entry written with accents, capitals or
look-alike letters matches the same way a request does. Entry syntax: `core.safety.phrases`.

Terms (matched on the letters form, digits read as look-alike letters):
  youth          describe or imply a person under 18; refused in any request
  youth_sexual   youth words that are also common words elsewhere ("kind", "barn"); refused
                 only with sexual context or in explicit mode
  youth_accented youth words an accent tells apart from a name ("niña"); matched with accents
  youth_unspaced youth words refused only beside Chinese or Japanese text, where they can
                 only be the Japanese abbreviations ("JC" beside "公園" is a schoolgirl)
  always         refused in any request; nothing exempts them
  exempt         phrases with a youth word that describe no person ("kid gloves", "canteen")
  exempt_brands  proper nouns exempt in every mode, explicit included: products and adults'
                 stage names whose other word has no ordinary meaning, so the phrase can only
                 be the name and never describes a young person ("kinder bueno", "kid cudi")
  exempt_names   names with a youth word (brands, titles) whose words could also describe a
                 young person ("kid rock", "karate kid") or whose characters are young ("teen
                 titans"): exempt only without sexual context, and only written as a name
                 (capitalised: "Kid Rock", never "a kid rock climbing")
  exempt_young_titles  like exempt_names, but works whose characters are young ("teen
                 titans", "karate kid"): in every mode exempt only as a thing, next to
                 an `artifacts` word ("a Teen Titans logo", "a poster for Karate Kid")
  exempt_titles  titles whose words describe no person at all ("teenage mutant ninja
                 turtles"), their characters young: any casing without sexual context, and
                 in explicit mode only as a thing, like exempt_young_titles
  sexual         words of sexual context
  youth_context  a child's world ("playground", "cradle", "lunchbox"): with one in the
                 request no name, title or phrase exemption holds ("a big kid in a cradle")
  artifacts      things a title names ("poster", "logo", "t-shirt", "concert", "magazine")
  youth_modifiers  youth words that also name the young or small of a thing ("baby", "bébé")
  young_things   what such a word may describe, placed right after it: animals, plants and
                 foods, and the "boom" of a generation ("a baby koala", "baby spinach", "the
                 Baby Boom"); the pair describes no person, unless a `worn` or `persons` word
                 follows ("a baby bear costume", "a baby fox girl"), a child's world is
                 named, or a bare number under 18 is in the request
  worn           what a person wears or plays as ("costume", "onesie", "outfit")

Context rules (`core.safety.context`; matched in the letters and the accents form):
  simile_before / simile_skip / simile_after   "like a", "wie ein" (then "little",
                 "kleines") before a youth word; "gibi", "のように" after it
  simile_words   the generic youth words a simile may hold ("child", "Kind", "子供")
  simile_roles / simile_behaviours   roles ("schoolgirl") a simile holds only after a
                 behaviour ("giggling like a schoolgirl", "as giddy as a schoolboy"), never
                 bare ("like a schoolgirl") or with sexual words
  simile_glued   a simile and its youth word in one word (Arabic "كالطفل", "like the child")
  appearance     words that make a simile a look ("looks", "dressed"): then none holds
  adults         words naming an adult ("man", "wife", "retired"), which similes and
                 endearments need somewhere in the request
  endearments / calls   "baby" said to an adult, after a calling word ("calls", "nennt");
                 right after a `possessives` word ("calls her baby") only when a
                 `call_subjects` word comes before the calling word ("the app she calls her
                 baby") and the request names a thing
  speech_tags    said after an endearment that opens the request or follows a possessive
                 ("mon bébé, dit-elle", "..., mi niña le dice"): the word is said to
                 someone, held if an adult is named; so is an endearment that is the
                 caption opening the request before a colon ("mein Baby: ein Paar, 40")
  writing        "saying", "that reads" after an `artifacts` word ("a neon sign saying
                 baby"): the endearment is written on the thing, held without sexual words
  institutions   the school and child-care words the `staff` rule reads (Chinese and
                 Japanese: the words a staff word may follow, "小学校の先生")
  staff / staff_links / staff_glued   "teacher" after a school word, or before it with
                 "of", "de"; glued inside one word ("grundschullehrerin"); like an
                 `exempt` phrase holding a staff word ("high school teacher"), it holds
                 only when no one else not stated to be an adult is named ("with a girl")
  adult_by_age   relatives an adult age right after makes adults ("her daughter, 30");
                 Chinese/Japanese ones (and groups) an adult age before ("三十岁的女儿")
  adult_groups / adult_age_leads / apposition_stops / adult_decades   groups ("the boys")
                 an adult age in the same phrase makes adults: a number with its unit or
                 after a lead ("all over 70", "um die 60"), or a decade ("in their forties");
                 "with", "and" end that phrase
  former         "former", "ex", "ehemalig", "ancienne" right before a youth word ("a former
                 child star", "une ancienne enfant star"): someone who was young once, held
                 only when the request names an adult ("now 45", "in her thirties");
                 `former_was` ("who was a") only with a `former_roles` word after the
                 youth word ("an actress who was a child star, now 40")
  milestones / own   a child's celebration ("quinceañera", "first communion") an adult
                 attends, held when an adult is named, never after `own` ("her own")
  empty_words    "empty", "vide", "誰もいない" beside a school or child-care word
                 (`institutions`): the place, with nobody in it ("an empty kindergarten")

No exemption holds for a phrase followed by a bare number under 18 ("Kid Rock, 10", "a big
kid, 9"): then the number is the age of whoever the phrase describes.

Ages (matched on the digits form):
  numbers, ordinals   number words (tens too: "twenty one" is summed) and ordinal words
  age_units / infant_units   after a number: "years old" / "months old"
  bare_units          units that alone may also count a span of time ("anni", "lat"): only
                      with these do `durations` and `ago` words make it no age
  age_before          before a number: "aged", "age of"
  under               before a number: "under", "younger than"; under_after: after ("未満")
  apparent            before a number: "looks", "appears to be"; apparent_after: after a
                      bare number ("die wie 13 aussieht")
  born                near a year: "born", "geboren"
  class_of            before a graduation year: "class of" (five or more years ahead: a minor)
  school_class        a secondary school named beside a class year ("bac", "high school"): a
                      class still to graduate from it is a minor's
  persons, relations  a person ("girl", "she") or a relative ("cousin") before a bare number
  fillers             words allowed between those and the number ("is", "only", "about")
  stops               words that end the noun an age describes ("with", "at", "and")
  unit_only           number words that are common words of another language (Turkish
                      "dört" is French "dort", "sleeps"): an age only with a unit after them
  grades              "grade"/"klasse" next to a number ("7th grade", "klasse 7")
  school_years, grade_words   "year" before and "student" after a number ("year 9 student")
  competitions        before "sub"/"U" and its number or right after them ("campeonato sub-17",
                      "U-17 World Cup"): the competition's age class, no person's age when
                      no one but adults is named
  competitors         who takes part in one ("players", "equipo"): with one named the age
                      class is theirs, a minor's
  grade_exams / adult_schools   an exam right after a grade ("9. klasses prøve") or before
                      it, `staff_links` words between ("Prüfung der 9. Klasse"), taken
                      at an adult-education school named in the request ("på VUC"): the
                      grade's exam an adult sits, no one else named
  unspaced_grades     a Chinese/Japanese grade glued after its number ("2年生"): right after
                      a school word ("中学2年生"), the number is that school's grade, no bare
                      age, and the school word is judged by the context rules
  birthdays           after an ordinal: "birthday"
  objects             things whose age is no person's ("whisky", "car", "dog")
  agents              after such a thing, a person again ("a 16 year old whisky drinker")
  durations, ago      before / after a number of years, make it a span of time ("for" /
                      "ago", "later")
  comparatives        after a number and its unit, make it a difference between two ages
                      ("dos años menor que", "zwei Jahre jünger als"), no one's age
  younger / older     after a number and its unit, a difference of ages ("25 years
                      younger", "두 살 어린", "iki yaş küçük"): read against the nearest other
                      age the request states ("a woman of 40 and her daughter, 25 years
                      younger" is 15); with none stated, no one's age
  half_age            "half the age of", "halb so alt wie": the next age stated, halved
  until_before / until_after / adult_marks   years still to go before adulthood: a number
                      after "in", "for another", "za", "dans" or before "years away from",
                      "years shy of", with a mark of adulthood near ("18", "an adult",
                      "vote", "volljährig"): "she will be 18 in three years" is a minor;
                      after an `until_before` word the number needs an `until_years` word
                      ("in 3 years", not "voting in 3 states")
  at_ages             "at", "a los", "mit" between a person and a bare number ending its
                      phrase: a past self's age ("the heroine at 13,", "una foto mía a los
                      13", "ich mit 13 am See"; not "a woman at 10 Downing Street")
  life_counts / life_cues   after a number under 18, a count of years said another way
                      ("summers", "candles", "velas"), read as an age with a cue nearby
                      ("seen", "birthday", "cake", "tarta"); "12 candles on the table" passes
  month_counts, week_counts, day_counts   after a number, an age in months, weeks or days
                      when a person word or `age_before` stands before it ("a girl of 170
                      months"): an age under 18 once divided out
  life_years / own_years   after an ordinal up to 18: a year of one's life ("im vierzehnten
                      Lebensjahr", "year of her life"), or a bare year word after a
                      possessive ending its clause ("in her fourteenth year,"; not "in
                      her 15th year on the ward"): the age one less
  measures            units that make a number no age ("feet", "minutes", "dollars")
  frequencies         after a number of days or weeks, make it a rate, no infant's age
                      ("3 days a week", "2 dni w tygodniu", "4 Tage die Woche")
  [compounds]         numbers = {stem = value}, units = ["jährig*"]: glued ages ("zwölfjährig")

Glued words (German, Dutch, Swedish and English run nouns together):
  [glued]             firsts = ["kinder"], seconds = ["portrat*", "model*"]: every first
                      glued to every second is a youth entry ("Kinderporträt", "barnmodell"):
                      a child-word first names who the picture, model or photo is of
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from core.config import REPO_ROOT
from core.errors import ConfigError
from core.safety.normalization import normalize, tokens
from core.safety.phrases import PhraseSet

LEXICON_DIR = REPO_ROOT / "data" / "safety" / "lexicon"
ADULT_AGE = 18

TERM_KEYS = (
    "youth",
    "youth_sexual",
    "youth_accented",
    "youth_unspaced",
    "always",
    "exempt",
    "exempt_brands",
    "exempt_names",
    "exempt_young_titles",
    "exempt_titles",
    "sexual",
    "youth_context",
    "artifacts",
    "youth_modifiers",
    "young_things",
    "worn",
)
MODIFIER_KEYS = ("youth_modifiers", "young_things", "worn")
CONTEXT_KEYS = (
    "simile_before",
    "simile_skip",
    "simile_after",
    "simile_words",
    "simile_glued",
    "appearance",
    "adults",
    "endearments",
    "partners",
    "calls",
    "speech_tags",
    "writing",
    "call_subjects",
    "call_objects",
    "possessives",
    "institutions",
    "staff",
    "staff_links",
    "adult_by_age",
    "adult_groups",
    "adult_age_leads",
    "apposition_stops",
    "adult_decades",
    "former",
    "former_was",
    "former_roles",
    "empty_words",
    "honorifics",
    "milestones",
    "own",
    "simile_roles",
    "simile_behaviours",
)
CONTEXT_WORD_KEYS = ("staff_glued",)
EXEMPT_KEYS = ("exempt", "exempt_brands", "exempt_names", "exempt_young_titles", "exempt_titles")
AGE_PHRASE_KEYS = (
    "age_units",
    "bare_units",
    "infant_units",
    "age_before",
    "under",
    "under_after",
    "apparent",
    "apparent_after",
    "born",
    "class_of",
    "school_class",
    "persons",
    "relations",
    "grades",
    "school_years",
    "grade_words",
    "unspaced_grades",
    "competitions",
    "competitors",
    "grade_exams",
    "adult_schools",
    "birthdays",
    "objects",
    "relative_clauses",
    "agents",
    "durations",
    "ago",
    "comparatives",
    "at_ages",
    "younger",
    "older",
    "half_age",
    "until_before",
    "until_after",
    "until_years",
    "adult_marks",
    "life_counts",
    "life_cues",
    "month_counts",
    "week_counts",
    "day_counts",
    "life_years",
    "own_years",
    "measures",
    "frequencies",
)
AGE_WORD_KEYS = ("fillers", "stops", "unit_only", *CONTEXT_WORD_KEYS)
TABLE_KEYS = ("numbers", "ordinals")


@dataclass(frozen=True)
class Lexicon:
    """Every language's lists, merged and indexed."""

    languages: tuple[str, ...]
    terms: Mapping[str, PhraseSet]
    age_phrases: Mapping[str, PhraseSet]
    age_words: Mapping[str, frozenset[str]]
    numbers: Mapping[str, int]
    ordinals: Mapping[str, int]
    compounds: PhraseSet
    exempt_digits: Mapping[str, PhraseSet]
    exempt_accents: Mapping[str, PhraseSet]
    modifiers_accents: Mapping[str, PhraseSet]
    context_letters: Mapping[str, PhraseSet]
    context_accents: Mapping[str, PhraseSet]

    def term(self, name: str) -> PhraseSet:
        """The merged list `name` (one of TERM_KEYS)."""
        return self.terms[name]

    def exempt_in(self, name: str, form: str) -> PhraseSet:
        """Exemption list `name` (one of EXEMPT_KEYS) normalised for `form`: "letters" (the
        terms), "digits" (read beside the age rules) or "accents" (beside youth_accented)."""
        if form == "digits":
            return self.exempt_digits[name]
        return self.exempt_accents[name] if form == "accents" else self.terms[name]

    def modifier_in(self, name: str, form: str) -> PhraseSet:
        """Modifier list `name` (one of MODIFIER_KEYS) normalised for `form`: "letters" or
        "accents"."""
        return self.modifiers_accents[name] if form == "accents" else self.terms[name]

    def context_in(self, name: str, form: str) -> PhraseSet:
        """Context list `name` (one of CONTEXT_KEYS) normalised for `form`: "letters" or
        "accents"."""
        return (self.context_accents if form == "accents" else self.context_letters)[name]

    def context_words(self, name: str) -> frozenset[str]:
        """A plain word list of the context rules (one of CONTEXT_WORD_KEYS)."""
        return self.age_words[name]

    def phrase(self, name: str) -> PhraseSet:
        """The merged age list `name` (one of AGE_PHRASE_KEYS)."""
        return self.age_phrases[name]


def _strings(raw: Mapping[str, Any], key: str, path: Path) -> list[str]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{path.name}: {key} must be a list of strings")
    return value


def _table(raw: Mapping[str, Any], key: str, path: Path) -> dict[str, int]:
    value = raw.get(key, {})
    if not isinstance(value, dict) or not all(isinstance(v, int) for v in value.values()):
        raise ConfigError(f"{path.name}: {key} must be a table of whole numbers")
    return {" ".join(tokens(normalize(str(k), lookalikes=False))): int(v) for k, v in value.items()}


def _compound_stems(raw: Mapping[str, Any], path: Path) -> list[str]:
    """Glued ages under 18 ("zwölfjährig*") from [compounds] numbers x units."""
    section = raw.get("compounds", {})
    if not isinstance(section, dict):
        raise ConfigError(f"{path.name}: [compounds] must be a table")
    numbers = _table(section, "numbers", path)
    units = _strings(section, "units", path)
    return [
        stem.replace(" ", "") + unit
        for stem, value in numbers.items()
        if value < ADULT_AGE
        for unit in units
    ]


def _glued_youth(raw: Mapping[str, Any], path: Path) -> list[str]:
    """Youth entries from [glued] firsts x seconds ("kinder" + "portrat*")."""
    section = raw.get("glued", {})
    if not isinstance(section, dict):
        raise ConfigError(f"{path.name}: [glued] must be a table")
    firsts, seconds = _strings(section, "firsts", path), _strings(section, "seconds", path)
    return [first + second for first in firsts for second in seconds]


def load(directory: Path = LEXICON_DIR) -> Lexicon:
    """Read and merge every `*.toml` in `directory`; ConfigError names a broken file."""
    files = sorted(directory.glob("*.toml"))
    if not files:
        raise ConfigError(f"no word lists in {directory}")
    lists: dict[str, list[str]] = {key: [] for key in (*TERM_KEYS, *AGE_PHRASE_KEYS, *CONTEXT_KEYS)}
    words: dict[str, set[str]] = {key: set() for key in AGE_WORD_KEYS}
    tables: dict[str, dict[str, int]] = {key: {} for key in TABLE_KEYS}
    compounds: list[str] = []
    languages = []
    for path in files:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path} is invalid: {exc}") from exc
        languages.append(str(raw.get("language", path.stem)))
        for key in lists:
            lists[key] += _strings(raw, key, path)
        for key in words:
            words[key] |= {normalize(w, lookalikes=False) for w in _strings(raw, key, path)}
        for key in tables:
            tables[key] |= _table(raw, key, path)
        compounds += _compound_stems(raw, path)
        lists["youth"] += _glued_youth(raw, path)
    return Lexicon(
        languages=tuple(languages),
        terms={
            key: PhraseSet(lists[key], form="accents" if key == "youth_accented" else "letters")
            for key in TERM_KEYS
        },
        age_phrases={key: PhraseSet(lists[key], form="digits") for key in AGE_PHRASE_KEYS},
        age_words={key: frozenset(values) for key, values in words.items()},
        numbers=tables["numbers"],
        ordinals=tables["ordinals"],
        compounds=PhraseSet(compounds, form="digits"),
        exempt_digits={key: PhraseSet(lists[key], form="digits") for key in EXEMPT_KEYS},
        exempt_accents={key: PhraseSet(lists[key], form="accents") for key in EXEMPT_KEYS},
        modifiers_accents={key: PhraseSet(lists[key], form="accents") for key in MODIFIER_KEYS},
        context_letters={key: PhraseSet(lists[key]) for key in CONTEXT_KEYS},
        context_accents={key: PhraseSet(lists[key], form="accents") for key in CONTEXT_KEYS},
    )


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    """The shipped lists, loaded once per process."""
    return load()
