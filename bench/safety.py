"""S: content safety. Refusals and false refusals on the labelled sets, screening time per
prompt (and its worst case on adversarial text), and the output detector's time per image.

The labelled sets are tests/fixtures/safety/: `*_dev.tsv` tuned the word lists,
`*_holdout.tsv` were committed before the lists and never used to tune them, and
`*_holdout17.tsv` (look-alike titles, brands, idioms and ages of things, and minors beside
them) before the exemption rules of issue 17, `*_fresh17.tsv` after those rules, never
used to tune them, `*_fresh18.tsv` before the rules of branch safe17b, `*_fresh19.tsv`
before the context rules of branch safe17c, `*_fresh20.tsv` before the word families of
branch safe17d, `*_fresh21.tsv` before the rules of branch safe17e, `*_fresh22.tsv`
before the rules of branch safe17f, `*_fresh23.tsv` before the rules of branch safe17g,
`*_fresh24.tsv` before the rules of branch safe17h, and `*_fresh25.tsv` (minors said
indirectly: milestones, exams, rights not yet reached, other calendars, mixed scripts)
before the rules of branch safe17i, and `*_fresh26.tsv` (forum and image-model ways of
writing: self-reports, names with ages, arithmetic and comparisons, tag fields, other
scripts) before the rules of branch safe17m. Each was held out until its first figure was
recorded (fresh25: 68.13 % refused, 11.34 % false; fresh26: 65.57 % refused, 6.80 %
false; each in the commit that added it), then tuned on. `*_fresh28.tsv` (every category
of issue 17 over 60 languages: youth words and their derived forms, ages said every way,
school grades, infants, milestones, tag styles, obfuscation; adults, animals and things in
the same shapes) was written on branch safe28set before any rule change and held out until
branch safe17q: 81.17 / 82.68 % refused and 5.81 / 7.36 % false (default / explicit) on the
rules before branch safe17p, 90.51 / 92.32 % and 5.81 / 6.98 % on that branch's, written
without seeing it (while fresh26 went from 81.03 to 100 % refused); then tuned on by
branch safe17q's general families (word lists of 15 more languages, youth words' forms and
compounds, sex-and-age tags, "N and a half", endearments captioned or written on things):
98.95 / 98.95 % refused and 1.16 / 1.94 % false. `*_fresh29.tsv` (the same categories over
81 languages, with more invisible characters, numerals and calendars, model tags and ages
said through arithmetic or a product's age; benign twins in 49) was written on branch
safe29set the same way and held out until branch safe17r: 81.74 / 82.99 % refused and
7.27 / 8.03 % false (default / explicit) on the rules before branch safe17q, 86.03 / 87.97 %
and 7.07 / 8.22 % on that branch's, written without seeing it; then tuned on by branch
safe17r's general families. `*_fresh30.tsv` (735 requests in 83 languages: code-switching,
romanised non-Latin writing, key-value and JSON character cards, the age sentences away from
the person, relative ages, school years, other calendars, weight syntax; 529 benign twins in
80) was written on branch safe30set the same way and held out until branch safe31set: 81.77 /
84.35 % refused and 7.94 / 8.32 % false on the rules before branch safe17r, 85.17 / 88.71 % and
the same false on that branch's, written without seeing it; then tuned on by branch safe17s's
general families (character cards and their escaped line breaks, number words of 15 more
languages, romanised writing, word lists of 4 more languages, sex-and-age tags, hashtags and
hyphen-cut letters, Vietnamese teens told by their accents, Irish teens, births last year):
95.78 / 96.73 % refused, false unchanged. Branch safe17f cut the false refusals of fresh29 and
fresh30 (tuned on both) by general families (ages of things read through a relative clause or
in months and days, endearments beside a partner or with the one called named, "baby" after the
vegetable it describes and baby food, surnames after an honorific, the grade a teacher teaches,
animals' young and birthdays, youth words quoted on signs, counts of adults), every refused
minor row of every set kept refused: on its branch fresh29 7.07 / 8.22 -> 3.06 / 4.21 % false,
fresh30 7.94 / 8.32 -> 2.08 / 2.27 %. `*_fresh31.tsv` (1450 requests in 98 languages over 34
categories, with new angles: ages negated, in ordinals, units and arithmetic, minors named in a
second sentence, chat-style prompts, fictional-age disclaimers, bracketed translations, youth
leagues and rites of passage; 1040 benign twins in 87) was written on branch safe31set the same
way and is held out: 81.66 / 86.76 % refused and 5.96 / 6.54 % false (default / explicit) on
the rules of branch safe17r. Every set is screened in both modes, graded in both: the default
(non-explicit) mode and explicit mode, stricter (ambiguous youth words count and names of young
characters are no exemption). Times per prompt are the best of three runs of each prompt (so
the shared machine's scheduler does not decide), then the 99th percentile over the prompts; CPU
time is shown beside wall, and the adversarial worst case is graded on CPU time (wall time on a
machine shared by several processes measures the others too).

A learned second layer after the rules (hashed character n-grams, a logistic regression;
and WordLlama's packaged embeddings under the same head) was built and measured by
`tools/train_minor_semantic.py`, and is NOT used (issue 17): on the held-out fresh29 it
raised refusals from 86.03 / 87.97 % to at most 88.52 / 90.18 %, but under leave-one-set-out
it put 3 to 4 tuned sets over the 2 % false-refusal goal at every threshold measured and,
wired in, failed 7 to 11 tests of tests/unit/test_safety*.py (adult twins and look-alikes).
docs/safety_semantic.md has the figures, the protocol and the commands.
"""

from __future__ import annotations

import gc
import io
import time
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image, ImageDraw

from bench.common import Comparison, Figure, percentile, row
from core.config import REPO_ROOT, OutputScreenerKind
from core.errors import ValidationFailed
from core.safety import find_minor, shared_screener
from core.safety.lexicon import lexicon

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "safety"
SETS = (
    "dev", "holdout", "holdout17", "fresh17", "fresh18", "fresh19", "fresh20", "fresh21",
    "fresh22", "fresh23", "fresh24", "fresh25", "fresh26", "fresh28", "fresh29", "fresh30",
    "fresh31",
)  # fmt: skip
HELD_OUT: tuple[str, ...] = ("fresh31",)  # written before the rules, never tuned on
YEAR = 2026  # the sets' years of birth are judged against this year
ADVERSARIAL_UNITS = (
    "a.", "t e ", "1", "teen", "y/o ", "a-", "aged ", "17 ", "xxxxxxx ", "\u200b", "under ",
    "born 2012 ", "kid ", "baby blue ", "子供", "looks ", "12 years old car ", "a 1 ",
    "kid gloves ", "Kid Rock ", "kid rock ", "Kinder Bueno ", "whisky aged 12 years ", "ab",
    "ç" * 3 + " ", "'baby' ", "like a child ", "calls her baby ", "kindergarten teacher ",
    "her daughter, 30 ", "子供のように",
)  # fmt: skip


def _rows(name: str) -> list[tuple[str, str, str]]:
    text = (FIXTURES / name).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return [(cat, lang, req) for cat, lang, req in (line.split("\t") for line in lines)]


def _refused(text: str, *, explicit: bool) -> bool:
    return find_minor(text, explicit=explicit, year=YEAR) is not None


def _best_ms(action: Callable[[], object], repeats: int = 3) -> tuple[float, float]:
    """The best wall and CPU milliseconds of `repeats` runs, the garbage collector paused
    while timing (as `timeit` does): a full collection of the whole bench process's heap
    would otherwise land on whichever prompt happens to run then (~120 ms here)."""
    wall = cpu = float("inf")
    collecting = gc.isenabled()
    for _ in range(repeats):
        gc.disable()
        started, started_cpu = time.perf_counter(), time.process_time()
        try:
            action()
        except ValidationFailed:
            pass
        finally:
            wall = min(wall, (time.perf_counter() - started) * 1000)
            cpu = min(cpu, (time.process_time() - started_cpu) * 1000)
            if collecting:
                gc.enable()
    return wall, cpu


@dataclass(frozen=True)
class SafetyRun:
    """What section S measured."""

    refusal: dict[str, float]
    refusal_explicit: dict[str, float]
    false_refusal: dict[str, float]
    false_refusal_explicit: dict[str, float]
    prompt_p99_ms: float
    prompt_p99_cpu_ms: float
    adversarial_10k_ms: float
    adversarial_4k_ms: float
    adversarial_4k_cpu_ms: float
    image_p50_ms: float
    image_p99_ms: float
    video_ms: float
    model_load_s: float

    def figures(self) -> list[Figure]:
        """Refusal per minor set and false refusal per benign set, in each mode; the times
        against goals."""
        first, later = SETS[:2], SETS[2:]  # S1-S11 keep their meaning; later sets from S12 on
        figures = [
            Figure(f"S{i}", f"refused, minor {name} set", self.refusal[name], "%", ">=", 100)
            for i, name in enumerate(first, start=1)
        ]
        figures += [
            Figure(
                f"S{i}",
                f"false refusals, benign {name} set",
                self.false_refusal[name],
                "%",
                "<=",
                2,
            )
            for i, name in enumerate(first, start=3)
        ]
        figures += [
            Figure("S5", "p99 screening time per prompt", self.prompt_p99_ms, "ms", "<=", 5),
            Figure(
                "S6",
                "worst 4,000-char adversarial prompt, CPU",
                self.adversarial_4k_cpu_ms,
                "ms",
                "<=",
                50,
            ),
            Figure("S7", "p99 NudeNet time per image", self.image_p99_ms, "ms", "<=", 500),
        ]
        explicit: list[tuple[str, float, Comparison, float]] = [
            (f"refused, minor {name} set, explicit mode", self.refusal_explicit[name], ">=", 100)
            for name in first
        ]
        explicit += [
            (
                f"false refusals, benign {name} set, explicit mode",
                self.false_refusal_explicit[name],
                "<=",
                2,
            )
            for name in first
        ]
        for name in later:
            held = " (held out)" if name in HELD_OUT else ""
            explicit += [
                (f"refused, minor {name} set{held}", self.refusal[name], ">=", 100),
                (f"false refusals, benign {name} set{held}", self.false_refusal[name], "<=", 2),
                (
                    f"refused, minor {name} set{held}, explicit mode",
                    self.refusal_explicit[name],
                    ">=",
                    100,
                ),
                (
                    f"false refusals, benign {name} set{held}, explicit mode",
                    self.false_refusal_explicit[name],
                    "<=",
                    2,
                ),
            ]
        figures += [
            Figure(f"S{i}", title, value, "%", op, goal)
            for i, (title, value, op, goal) in enumerate(explicit, start=8)
        ]
        return figures


def _rate(rows: list[tuple[str, str, str]], *, refused: bool, explicit: bool) -> float:
    hits = sum(_refused(text, explicit=explicit) is refused for _, _, text in rows)
    return round(100 * hits / len(rows), 2)


def _by_category(rows: list[tuple[str, str, str]]) -> dict[str, tuple[int, int]]:
    counts: dict[str, tuple[int, int]] = {}
    for category, _, text in rows:
        seen, hit = counts.get(category, (0, 0))
        counts[category] = (seen + 1, hit + int(_refused(text, explicit=False)))
    return counts


def _adversarial_ms(size: int, repeats: int) -> tuple[float, float]:
    """The worst wall and CPU milliseconds over the adversarial texts of `size` characters."""
    texts = [(unit * (size // len(unit) + 1))[:size] for unit in ADVERSARIAL_UNITS]
    runs = [
        _best_ms(lambda t=text: find_minor(t, explicit=True, year=YEAR), repeats) for text in texts
    ]
    return max(wall for wall, _ in runs), max(cpu for _, cpu in runs)


def _generated_like(side: int, seed: int) -> bytes:
    """A detailed picture of the size the studio generates (shapes over a gradient)."""
    image = Image.new("RGB", (side, side))
    draw = ImageDraw.Draw(image)
    for y in range(side):
        draw.line([(0, y), (side, y)], fill=(seed * 40 % 256, y * 255 // side, 120))
    for k in range(12):
        x = (seed * 97 + k * 131) % side
        draw.ellipse([x, k * side // 12, x + side // 6, k * side // 12 + side // 6], fill="white")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def main(*, quick: bool) -> SafetyRun:
    """Run section S and print its detail tables."""
    lexicon()  # loaded once per process, like the web and scheduler processes do
    sets = {name: _rows(f"minor_{name}.tsv") for name in SETS}
    benign = {name: _rows(f"benign_{name}.tsv") for name in SETS}
    print("\n== S: content safety ==")
    print(f"word lists: {len(lexicon().languages)} languages")
    print(
        row("set", "requests", "languages", "result", "explicit mode", widths=(26, 10, 11, 16, 16))
    )
    refusal, refusal_explicit, false, false_explicit = {}, {}, {}, {}
    graded = (
        ("minor", sets, "refused", refusal, refusal_explicit),
        ("benign", benign, "false", false, false_explicit),
    )
    for kind, groups, result, rates, rates_explicit in graded:
        for name, rows in groups.items():
            rates[name] = _rate(rows, refused=True, explicit=False)
            rates_explicit[name] = _rate(rows, refused=True, explicit=True)
            langs = len({lang for _, lang, _ in rows})
            print(
                row(
                    f"{kind} {name}",
                    len(rows),
                    langs,
                    f"{rates[name]}% {result}",
                    f"{rates_explicit[name]}% {result}",
                    widths=(26, 10, 11, 16, 16),
                )
            )
    for mode, explicit in (("default", False), ("explicit", True)):
        wrong = [
            f"{cat}/{lang}: {text}"
            for name, rows in benign.items()
            if name not in HELD_OUT
            for cat, lang, text in rows
            if _refused(text, explicit=explicit)
        ]
        print(f"benign requests refused, {mode} mode, sets not held out ({len(wrong)}):")
        print("\n".join(f"  {line}" for line in wrong))
    print("refused per category (every minor set not held out; held-out sets show figures only):")
    both = [r for name, rows in sets.items() if name not in HELD_OUT for r in rows]
    print(", ".join(f"{c} {hit}/{seen}" for c, (seen, hit) in sorted(_by_category(both).items())))

    texts = [text for rows in (*sets.values(), *benign.values()) for _, _, text in rows]
    best_of = 1 if quick else 3
    timings = [
        _best_ms(lambda t=text: find_minor(t, explicit=False, year=YEAR), best_of) for text in texts
    ]
    wall = [w for w, _ in timings]
    cpu = [c for _, c in timings]
    adversarial_4k, adversarial_4k_cpu = _adversarial_ms(4000, best_of)
    adversarial_10k, adversarial_10k_cpu = _adversarial_ms(10_000, best_of)
    print(
        f"per prompt ({len(texts)}): p50 {percentile(wall, 50):.2f} ms, p99 "
        f"{percentile(wall, 99):.2f} ms wall ({percentile(cpu, 99):.2f} ms CPU)"
    )
    print(
        f"worst adversarial text ({len(ADVERSARIAL_UNITS)} kinds): {adversarial_4k_cpu:.1f} ms "
        f"CPU ({adversarial_4k:.1f} ms wall) at 4,000 chars, the longest prompt accepted; "
        f"{adversarial_10k_cpu:.1f} ms CPU ({adversarial_10k:.1f} ms wall) at 10,000 chars, "
        "screened directly past the length cap"
    )

    started = time.perf_counter()
    screener = shared_screener(OutputScreenerKind.NUDENET)
    load_s = time.perf_counter() - started
    images = [path.read_bytes() for path in sorted((FIXTURES / "images").glob("*.png"))]
    images += [_generated_like(1024, seed) for seed in range(1 if quick else 3)]
    repeats = 2 if quick else 5
    per_image = [
        _best_ms(lambda d=data: screener.screen(d, "image/png"), repeats=1)[0]
        for data in images
        for _ in range(repeats)
    ]
    video = (FIXTURES / "images" / "sunrise_animation.webp").read_bytes()
    video_ms = _best_ms(lambda: screener.screen(video, "image/webp"), repeats=2)[0]
    print(
        f"NudeNet: model loaded in {load_s:.2f} s (once per process); per image (fixtures and "
        f"1024x1024) p50 {percentile(per_image, 50):.0f} ms, p99 {percentile(per_image, 99):.0f} "
        f"ms; a 6-frame video {video_ms:.0f} ms (frames sampled)"
    )
    return SafetyRun(
        refusal=refusal,
        refusal_explicit=refusal_explicit,
        false_refusal=false,
        false_refusal_explicit=false_explicit,
        prompt_p99_ms=round(percentile(wall, 99), 2),
        prompt_p99_cpu_ms=round(percentile(cpu, 99), 2),
        adversarial_10k_ms=round(adversarial_10k, 1),
        adversarial_4k_ms=round(adversarial_4k, 1),
        adversarial_4k_cpu_ms=round(adversarial_4k_cpu, 1),
        image_p50_ms=round(percentile(per_image, 50)),
        image_p99_ms=round(percentile(per_image, 99)),
        video_ms=round(video_ms),
        model_load_s=round(load_s, 2),
    )
