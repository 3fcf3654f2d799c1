"""The content policy: refusals for minors, no false alarms for adult requests, bounded cost."""

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core import safety
from core.config import REPO_ROOT
from core.errors import PolicyRefusal, ValidationFailed

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "safety"


def lines(name):
    text = (FIXTURES / name).read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


def refused(prompt, *, nsfw=False):
    try:
        safety.screen_prompt(prompt, nsfw=nsfw)
    except PolicyRefusal:
        return True
    return False


def test_every_held_out_minor_request_is_refused():
    missed = [p for p in lines("refuse.txt") if not refused(p)]
    assert len(lines("refuse.txt")) >= 60
    assert missed == []


def test_false_refusals_on_benign_adult_requests_stay_under_two_percent():
    allow = lines("allow.txt")
    false = [p for p in allow if refused(p)]
    rate = len(false) / len(allow)
    print(f"false refusals: {len(false)}/{len(allow)} = {rate:.1%}: {false}")
    assert len(allow) >= 100
    assert rate <= 0.02


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
    ],
)
def test_normalization_defeats_obfuscation(text, normalized):
    assert safety.normalize(text) == normalized


@pytest.mark.parametrize(
    ("text", "age"),
    [
        ("a 17 year old", 17),
        ("a 17-year-old", 17),
        ("aged 16", 16),
        ("age: 15", 15),
        ("sixteen years old", 16),
        ("12 y/o", 12),
        ("a 25 year old", None),
        ("their 5 year anniversary", None),
        ("3 years ago", None),
    ],
)
def test_stated_minor_age(text, age):
    assert safety.stated_minor_age(safety.normalize(text, lookalikes=False)) == age


def test_youth_terms_need_sexual_context_unless_explicit():
    assert not refused("a teenage mutant ninja turtles poster")
    assert refused("a teenage mutant ninja turtles poster", nsfw=True)
    assert refused("teen, lingerie")


def test_refusal_is_clear_and_carries_a_rule():
    with pytest.raises(PolicyRefusal) as info:
        safety.screen_prompt("a 15 yo", nsfw=False)
    assert info.value.rule == "minor_age"
    assert "under 18" in str(info.value)


def test_real_people_in_explicit_requests_are_refused():
    with pytest.raises(PolicyRefusal) as info:
        safety.screen_prompt("Taylor Swift, nude", nsfw=False)
    assert info.value.rule == "real_person"
    assert not refused("a portrait in the style of a 1950s poster")


@pytest.mark.parametrize(
    ("text", "message"),
    [("x" * (safety.MAX_PROMPT_CHARS + 1), "limit is 4,000"), ("bad\x00byte", "control")],
)
def test_oversized_or_odd_prompts_get_a_clear_message(text, message):
    with pytest.raises(ValidationFailed, match=message):
        safety.screen_prompt(text)


def test_emoji_and_rtl_text_are_fine():
    assert not refused("sunset 🌅 over the sea, مرحبا, שלום")


def test_muse_screening_names_the_field_and_checks_age():
    with pytest.raises(PolicyRefusal, match="18 or older"):
        safety.screen_muse({}, age=17, nsfw=False)
    with pytest.raises(PolicyRefusal, match="^body type: "):
        safety.screen_muse({"body_type": "childlike"}, age=25, nsfw=True)
    safety.screen_muse({"body_type": "athletic", "notes": "loves jazz"}, age=25, nsfw=True)


def test_reference_images_need_consent_and_no_explicit_mode():
    with pytest.raises(PolicyRefusal, match="consent") as info:
        safety.screen_reference_use(consent_given=False, explicit=False)
    assert info.value.rule == "reference_consent"
    with pytest.raises(PolicyRefusal) as info:
        safety.screen_reference_use(consent_given=True, explicit=True)
    assert info.value.rule == "reference_explicit"
    safety.screen_reference_use(consent_given=True, explicit=False)


def test_default_screener_keeps_outputs_pending():
    assert safety.PendingReviewScreener().screen(b"png", "image/png").verdict == "pending"


@given(st.text(max_size=300))
def test_screening_never_crashes_on_arbitrary_text(text):
    try:
        safety.screen_prompt(text)
    except (PolicyRefusal, ValidationFailed):
        pass


PRINTABLE = st.characters(blacklist_categories=("Cc", "Cs"))


@given(prefix=st.text(PRINTABLE, max_size=40), suffix=st.text(PRINTABLE, max_size=40))
def test_stated_minor_age_is_found_whatever_surrounds_it(prefix, suffix):
    assert refused(f"{prefix} a 16 year old {suffix}")


def test_adversarial_inputs_are_screened_in_linear_time():
    """Not a timing assertion: the worst case must stay within a generous bound (see bench)."""
    attacks = ["a." * 1999, "t e " * 999, "1" * 3999, "teen" * 999, "y/o " * 999, "a-" * 1999]
    for attack in attacks:
        started = time.perf_counter()
        try:
            safety.screen_prompt(attack)
        except (PolicyRefusal, ValidationFailed):
            pass
        assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("T-E-E-N", "teen"),
        ("t_e_e_n", "teen"),
        ("t*e*e*n", "teen"),
        ("te\u202een", "teen"),  # RTL override
        ("te\u00aden", "teen"),  # soft hyphen
        ("τeen", "teen"),  # Greek tau
        ("tééñ", "teen"),  # accents
        ("SCHOOLGIRL", "schoolgirl"),
        ("5ch00lg1rl", "schoolgirl"),  # leetspeak
    ],
)
def test_normalization_folds_punctuation_controls_homoglyphs_and_leetspeak(text, normalized):
    assert safety.normalize(text) == normalized


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


def _adversarial_inputs(size):
    units = ["a.", "t e ", "1", "teen", "y/o ", "a-", "aged ", "17 ", "x" * 7 + " ", "\u200b"]
    return [(unit * size)[:size] for unit in units] + ["a" * size, " " * size]


def _worst_seconds(function, text, repeats=3):
    """The best of a few runs (so a busy machine does not decide), in seconds."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        function(text)
        best = min(best, time.perf_counter() - started)
    return best


def test_every_pattern_stays_under_50_ms_on_10k_char_adversarial_input():
    """SECURITY.md ReDoS row: each compiled pattern and the normaliser, on 10,000 characters.

    Inputs are built to make backtracking patterns blow up (long runs of near-matches); the
    patterns are alternations of literals with bounded quantifiers, so the time is linear.
    """
    patterns = [
        safety.YOUTH,
        safety.ALWAYS,
        safety.SEXUAL,
        safety._AGE_DIGITS,
        safety._AGE_WORDS,
        safety._SEPARATED,
        safety._ACCENTED_YOUTH,
        safety.public_figures(),
    ]
    timings = {}
    for index, text in enumerate(_adversarial_inputs(10_000)):
        folded = safety.normalize(text)
        timings[f"normalize#{index}"] = _worst_seconds(safety.normalize, text)
        for pattern in patterns:
            key = f"{pattern.pattern[:20]}#{index}"
            timings[key] = _worst_seconds(lambda t, p=pattern: list(p.finditer(t)), folded)
    slowest = max(timings, key=timings.get)
    print(f"slowest: {slowest} {timings[slowest] * 1000:.2f} ms")
    assert timings[slowest] < 0.050, (slowest, timings[slowest])


def test_a_10k_char_prompt_is_refused_by_length_with_a_clear_message():
    with pytest.raises(ValidationFailed, match="10,000 characters long; the limit is 4,000"):
        safety.screen_prompt("teen " * 2000)
