"""The content policy: no minor in any mode or language, no false alarms for adult requests.

The labelled sets live in tests/fixtures/safety/: `*_dev.tsv` are what the word lists were
tuned against; `*_holdout.tsv` were written and committed before the lists and are not used
for tuning (bench section S reports both). Timings are a bench figure, not a test.
"""

import re
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import safety
from core.errors import ConfigError, PolicyRefusal, ValidationFailed
from core.safety import ages, context, lexicon, normalize, prompts
from core.safety import normalization as normalize_module
from testing.safety import FIXTURES, YEAR, refused, rows

MINOR_CATEGORIES = {
    "youth_term", "plural", "diminutive", "glued", "obfuscated", "stated_age", "age_words",
    "apparent_age", "birth_year", "under_18", "relation_number", "school", "infant", "always",
}  # fmt: skip


def lines(name):
    text = (FIXTURES / name).read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


def test_the_labelled_sets_cover_every_category_in_at_least_ten_languages():
    minors = rows("minor_dev.tsv") + rows("minor_holdout.tsv")
    benign = rows("benign_dev.tsv") + rows("benign_holdout.tsv")
    assert len(minors) >= 300 and len(benign) >= 300
    assert {category for category, _, _ in minors} >= MINOR_CATEGORIES
    assert len({language for _, language, _ in minors}) >= 10
    assert len({language for _, language, _ in benign}) >= 10
    assert not {text for *_, text in minors} & {text for *_, text in benign}


@pytest.mark.parametrize("nsfw", [False, True])
@pytest.mark.parametrize("name", ["minor_dev.tsv", "minor_holdout.tsv"])
def test_every_minor_indicating_request_is_refused_in_either_mode(name, nsfw):
    missed = [text for _, _, text in rows(name) if not refused(text, nsfw=nsfw)]
    assert missed == []


@pytest.mark.parametrize("name", ["benign_dev.tsv", "benign_holdout.tsv"])
def test_false_refusals_on_benign_adult_requests_stay_under_two_percent(name):
    benign = [text for _, _, text in rows(name)]
    false = [text for text in benign if refused(text)]
    assert len(false) / len(benign) <= 0.02, false


def test_the_older_sets_still_hold():
    assert [p for p in lines("refuse.txt") if not refused(p)] == []
    allow = lines("allow.txt")
    assert sum(refused(p, nsfw=True) for p in allow) / len(allow) <= 0.02


@pytest.mark.parametrize(
    "prompt",
    [
        "a child reading a book",  # no sexual context and not explicit: still refused
        "a teenage girl at a bus stop",
        "a toddler in a sandbox",
        "a 7th grade classroom portrait",
        "une fillette au parc",
        "ein kleiner Junge",
        "子供が遊ぶ",
    ],
)
def test_the_studio_makes_no_picture_of_a_minor_in_non_explicit_mode_either(prompt):
    assert refused(prompt, nsfw=False) and refused(prompt, nsfw=True)


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("T.E.E.N", "teen"),
        ("t e e n", "teen"),
        ("t33n", "teen"),
        ("ТЕЕN", "teen"),  # Cyrillic look-alikes
        ("te\u200ben", "teen"),
        ("teeeeen", "teen"),
        ("Ｓｃｈｏｏｌ", "school"),
        ("niña", "nina"),
        ("T-E-E-N", "teen"),
        ("t_e_e_n", "teen"),
        ("t*e*e*n", "teen"),
        ("te\u202een", "teen"),  # RTL override
        ("te\u00aden", "teen"),  # soft hyphen
        ("τeen", "teen"),  # Greek tau
        ("tééñ", "teen"),  # accents
        ("5ch00lg1rl", "schoolgirl"),  # leetspeak
        ("Łódź", "lodz"),  # letters NFKD does not decompose
    ],
)
def test_normalization_defeats_obfuscation(text, normalized):
    assert normalize(text) == normalized


def test_apostrophes_separate_words():
    assert normalize_module.tokens(normalize("child's l'enfant")) == ["child", "s", "l", "enfant"]


def test_kana_voicing_and_hangul_survive_normalization():
    """Stripping accents must not merge words: こども (child) is not ことも."""
    assert normalize("こども") != normalize("ことも")
    assert normalize("소녀의") == "소녀의"


def test_digits_stay_digits_in_the_form_ages_are_read_from():
    assert normalize("a 12-year-old, 12.5 y/o", lookalikes=False) == "a 12 year old, 12.5 yo"


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("a 17 year old", "minor_age"),
        ("a 17-year-old", "minor_age"),
        ("aged 16", "minor_age"),
        ("age: 15", "minor_age"),
        ("sixteen years old", "minor_age"),
        ("dix-sept ans", "minor_age"),  # number words summed: 10 + 7
        ("12 y/o", "minor_age"),
        ("a 6 month old", "minor_age"),  # an infant, whatever the number
        ("十四歳の少年", "minor_age"),
        ("12-летняя", "minor_age"),
        ("zwölfjährig", "minor_age"),
        ("looks about 12", "minor_age"),
        ("under 18", "minor_age"),
        ("18歳未満", "minor_age"),
        ("her cousin, 10", "minor_age"),
        ("she is 12", "minor_age"),
        ("a 3rd grader", "minor_age"),
        ("grade 4 pupils", "minor_age"),
        ("her 10th birthday", "minor_age"),
        ("born in 2014", "minor_birth_year"),
        ("a 25 year old", None),
        ("twenty-one years old", None),
        ("their 5 year anniversary", None),
        ("3 years ago", None),
        ("a 10-year-old car", None),
        ("whisky aged 12 years", None),
        ("married for 12 years", None),
        ("a man 6 feet tall", None),
        ("looks 10 years younger", None),
        ("under 5 minutes", None),
        ("a grade 8 bolt", None),
        ("the 9th century", None),
        ("born in 1990", None),
    ],
)
def test_ages_said_every_way(text, rule):
    found = ages.minor_age(normalize(text, lookalikes=False), lexicon.lexicon(), year=YEAR)
    assert found == rule


def test_a_prompt_weight_is_no_age():
    assert not refused("(woman:1), red hair, (masterpiece:1.2)")
    assert refused("(a 12 year old:1.2)")


def test_a_year_of_birth_is_judged_against_the_clocks_year():
    assert refused("a woman born in 2010", year=2026)
    assert not refused("a woman born in 2010", year=2030)


def test_exemptions_cover_their_own_words_only():
    assert not refused("a pair of kid gloves")
    assert refused("a kid wearing kid gloves")
    assert not refused("a teenage mutant ninja turtles poster")
    assert refused("a teenage boy with a ninja turtles poster")
    assert not refused("Sweet Child o' Mine, a rock star on stage")
    assert refused("my sweet child o' mine asleep")


def test_names_with_youth_words_are_exempt_only_without_sexual_words():
    assert not refused("a Teen Titans logo on a t-shirt")
    assert not refused("a Teen Titans logo on a t-shirt", nsfw=True)  # a thing: see issue 17
    assert refused("Teen Titans fan art, Raven and Starfire", nsfw=True)
    assert refused("Teen Titans, lingerie")


def test_ambiguous_words_need_sexual_context_or_explicit_mode():
    assert not refused("ein Mann und seine Tochter wandern")
    assert refused("eine Tochter, nackt")
    assert refused("ein Mann und seine Tochter wandern", nsfw=True)


def test_an_accent_tells_a_girl_from_a_name():
    assert refused("una niña en el parque")
    assert not refused("Nina en el parque")


def test_refusal_is_clear_and_carries_a_rule():
    with pytest.raises(PolicyRefusal) as info:
        safety.screen_prompt("a 15 yo", nsfw=False, year=YEAR)
    assert info.value.rule == "minor_age"
    assert str(info.value) == safety.MINOR_MESSAGE
    assert "under 18" in str(info.value) and "18 or older" in str(info.value)


def test_real_people_in_explicit_requests_are_refused():
    with pytest.raises(PolicyRefusal) as info:
        safety.screen_prompt("Taylor Swift, nude", nsfw=False, year=YEAR)
    assert info.value.rule == "real_person"
    assert not refused("a portrait in the style of a 1950s poster")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x" * (safety.MAX_PROMPT_CHARS + 1), "limit is 4,000"),
        ("bad\x00byte", "control"),
        ("1 " * 400, "more than 300 numbers"),
    ],
)
def test_oversized_or_odd_prompts_get_a_clear_message(text, message):
    with pytest.raises(ValidationFailed, match=message) as info:
        safety.screen_prompt(text, year=YEAR)
    assert not isinstance(info.value, PolicyRefusal)


def test_a_10k_char_prompt_is_refused_by_length_with_a_clear_message():
    with pytest.raises(ValidationFailed, match="10,000 characters long; the limit is 4,000"):
        safety.screen_prompt("teen " * 2000, year=YEAR)


def test_emoji_and_rtl_text_are_fine():
    assert not refused("sunset 🌅 over the sea, مرحبا, שלום")


def test_muse_screening_names_the_field_and_checks_age():
    with pytest.raises(PolicyRefusal, match="18 or older") as info:
        safety.screen_muse({}, age=17, nsfw=False, year=YEAR)
    assert safety.MINOR_MESSAGE in str(info.value)
    with pytest.raises(PolicyRefusal, match="^body type: ") as info:
        safety.screen_muse({"body_type": "childlike"}, age=25, nsfw=False, year=YEAR)
    assert safety.MINOR_MESSAGE in str(info.value)
    safety.screen_muse(
        {"body_type": "athletic", "notes": "loves jazz"}, age=25, nsfw=True, year=YEAR
    )


def test_reference_images_need_consent_and_no_explicit_mode():
    with pytest.raises(PolicyRefusal, match="consent") as info:
        safety.screen_reference_use(consent_given=False, explicit=False)
    assert info.value.rule == "reference_consent"
    with pytest.raises(PolicyRefusal) as info:
        safety.screen_reference_use(consent_given=True, explicit=True)
    assert info.value.rule == "reference_explicit"
    safety.screen_reference_use(consent_given=True, explicit=False)


def test_word_lists_are_read_in_the_requests_normal_form(tmp_path):
    (tmp_path / "xx.toml").write_text(
        'language = "Test"\nyouth = ["ÇHÏLD*", "petit ange"]\n', encoding="utf-8"
    )
    lex = lexicon.load(tmp_path)
    assert prompts.find_minor("a chíldishness study", explicit=False, year=YEAR, lex=lex)
    assert prompts.find_minor("PETITS ANGES", explicit=False, year=YEAR, lex=lex)
    assert prompts.find_minor("a cat", explicit=False, year=YEAR, lex=lex) is None


@pytest.mark.parametrize(
    "content", ['youth = "not a list"\n', "youth = [\n", "[numbers]\nten = 'x'\n"]
)
def test_a_broken_word_list_names_its_file(tmp_path, content):
    (tmp_path / "broken.toml").write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match="broken.toml"):
        lexicon.load(tmp_path)


def test_the_shipped_lists_cover_at_least_ten_languages_of_several_families():
    languages = set(lexicon.lexicon().languages)
    assert len(languages) >= 10
    assert {"Spanish", "German", "Russian", "Japanese", "Chinese", "Korean"} <= languages


def _patterns_of(phrase_set):
    return [p for p in (phrase_set._stem, phrase_set._inside, phrase_set._unspaced) if p]


def test_list_patterns_are_tries_of_literals_with_nothing_to_backtrack():
    """ReDoS by construction: strip escaped characters and the trie's own syntax; no
    quantifier may remain (10k-char adversarial timings are bench section S)."""
    lex = lexicon.lexicon()
    sets = [
        *lex.terms.values(),
        *lex.age_phrases.values(),
        lex.compounds,
        *lex.context_letters.values(),
        *lex.context_accents.values(),
    ]
    compiled = [pattern for phrase_set in sets for pattern in _patterns_of(phrase_set)]
    assert compiled
    for pattern in compiled:
        bare = re.sub(r"\\.", "", pattern.pattern).replace("(?:", "")
        assert not set(bare) & set("*+?{}"), pattern.pattern[:80]


def test_the_hand_written_patterns_have_no_nested_quantifier():
    """A quantified group must not hold a quantifier itself (the shape behind ReDoS)."""
    hand_written = [
        prompts._WEIGHT,
        ages.KANJI_AGE,
        ages._DIGIT_TOKENS,
        ages._IN_WORD_DIGIT,
        context._QUOTED,
        context._UNSPACED_AGE,
        normalize_module._SEPARATED,
        normalize_module._INWORD_PUNCTUATION,
        normalize_module._REPEATED,
        normalize_module._SEPARATORS,
        *(prompts._as_name(entry) for entry in ("kid rock", "billy the kid", "kinder bueno*")),
    ]
    quantified_group = re.compile(r"\(([^()]*)\)(?:[*+]|\{\d*,?\d*\})")
    for pattern in hand_written:
        bare = re.sub(r"\[[^\]]*\]", "x", re.sub(r"\\.", "", pattern.pattern))
        for body in quantified_group.findall(bare):
            assert not re.search(r"[*+]|\{\d*,?\d*\}", body), pattern.pattern


# No deadline: the first example loads the word lists (about a second on a loaded machine),
# and a timed assertion would fail on the machine's load, not on the screen.
@settings(deadline=None)
@given(st.text(max_size=300))
def test_screening_never_crashes_on_arbitrary_text(text):
    try:
        safety.screen_prompt(text, year=YEAR)
    except (PolicyRefusal, ValidationFailed):
        pass


PRINTABLE = st.characters(blacklist_categories=("Cc", "Cs"))


@settings(deadline=None)
@given(prefix=st.text(PRINTABLE, max_size=40), suffix=st.text(PRINTABLE, max_size=40))
def test_stated_minor_age_is_found_whatever_surrounds_it(prefix, suffix):
    # "with" ends the noun the age describes: a suffix right after the age could name a
    # thing whose age it is ("a 16 year old EV", NFKC of "㋎"), which is by design no person.
    assert refused(f"{prefix} a 16 year old with {suffix}")


@pytest.mark.parametrize(
    "payload",
    [
        "'; DROP TABLE muse; --",
        '<script>alert("x")</script>',
        "<img src=x onerror=alert(1)>",
        "{{7*7}} ${jndi:ldap://x}",
    ],
)
def test_injection_strings_are_not_policy_matters(payload):
    """They pass screening untouched; storing them literally is the database's job."""
    assert not refused(f"a portrait, {payload}")


def test_every_language_file_is_clinical_and_named():
    for path in sorted(lexicon.LEXICON_DIR.glob("*.toml")):
        text = path.read_text(encoding="utf-8")
        assert text.startswith("#") and 'language = "' in text, path.name


def test_categories_are_balanced_enough_to_measure_each():
    counts = Counter(category for category, _, _ in rows("minor_dev.tsv"))
    assert all(counts[category] >= 3 for category in MINOR_CATEGORIES - {"always"})


def test_a_negative_prompt_may_name_what_to_keep_out_but_not_the_always_terms():
    safety.screen_prompt("child, teen, minor, school uniform", negative=True, year=YEAR)
    with pytest.raises(PolicyRefusal) as info:
        safety.screen_prompt("l0li", negative=True, year=YEAR)
    assert info.value.rule == "minor_term"


def test_a_brand_that_can_only_be_its_name_is_exempt_in_every_mode():
    assert not refused("a Kinder Bueno wrapper on the nightstand, lingerie", nsfw=True)
    assert not refused("ein Kinder Bueno auf dem Nachttisch", nsfw=True)
    assert not refused("a Kid Cudi poster in a boudoir", nsfw=True)
    assert refused("a kinder bueno and a kid in lingerie", nsfw=True)


def test_a_name_whose_words_could_describe_a_kid_must_be_written_as_a_name():
    assert not refused("a Kid Rock concert poster")
    assert not refused("Billy the Kid, an outlaw in a saloon")
    assert refused("a kid rock climbing at a summer camp")
    assert refused("a Kid Rock poster and a kid rock climbing")
    assert refused("a Kid Rock concert poster, lingerie", nsfw=True)


def test_a_title_whose_words_describe_no_person_is_exempt_in_any_casing_without_sexual_context():
    assert not refused("a teenage mutant ninja turtles poster")
    assert not refused("a teenage mutant ninja turtles poster", nsfw=True)  # as a thing
    assert refused("teenage mutant ninja turtles cosplay on a beach", nsfw=True)
    assert refused("a teenage mutant ninja turtles poster, lingerie", nsfw=True)


def test_an_ambiguous_relative_said_to_be_adult_is_no_minor():
    assert not refused("a mother and her adult daughter, 30, hiking", nsfw=True)
    assert refused("a mother and her daughter hiking", nsfw=True)
    assert refused("her adult daughter and her niece in lingerie")


def test_an_age_given_with_its_unit_to_a_thing_stays_the_things_age():
    assert not refused("a nude adult woman reading, her 10-year-old cat asleep")
    assert refused("a woman reading, her 10-year-old asleep")
    assert refused("her 10-year-old cat and her son, 10")
    assert not refused("란제리를 입은 성인 여성과 12년산 위스키")


def test_glued_italian_ages_are_ages_but_decades_are_not():
    assert refused("una dodicenne con lo zaino")
    assert refused("due quattordicenni al parco")
    assert not refused("i decenni passati, una piazza a Roma")
    assert not refused("una donna, 30, festeggia il quindicennale del suo negozio")


def test_a_french_gamine_is_a_kid_but_the_english_style_needs_sexual_context():
    assert refused("une gamine sur un vélo")
    assert not refused("an adult woman with a gamine pixie cut")
    assert refused("an adult woman with a gamine look in lingerie")
