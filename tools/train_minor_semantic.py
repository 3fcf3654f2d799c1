"""Train and evaluate a learned second layer after the minor screen's rules (issue 17).

    .venv/bin/pip install scipy                                    # training only
    .venv/bin/python tools/train_minor_semantic.py                 # cross-validated table
    .venv/bin/python tools/train_minor_semantic.py --history       # and replay held-out sets
    .venv/bin/python tools/train_minor_semantic.py --target 1.0 0.5 0.25 --history --cost
    .venv/bin/python tools/train_minor_semantic.py --write /tmp/m  # a model file per target

The layer: hashed character 1-5-grams of the screen's normalised text
(`core.safety.normalization.normalize`), a logistic regression (numpy + scipy at training
time only; inference is a sum of weights), OR'ed after `core.safety.find_minor` and read only
for text of `MIN_WORDS` words or more. It is NOT wired into the screen: measured, its gain
did not pay for its false refusals (docs/safety_semantic.md has the figures and why).

Leave-one-set-out: for every set, a model is trained on all the other sets and scores the
left-out one. The threshold used on the left-out set is chosen without it: the lowest score
at which at most `--target` % of the other sets' benign rows that the rules pass (each
scored by the model that left its own set out) would be refused. Per left-out set the table
gives, in each mode, the minor rows the rules miss and the layer catches (gain) and the
benign rows the rules pass and the layer refuses (cost). `--history` replays the sets of
`HISTORY` as they were when held out: the rules of the commit that added the set (its core/
and data/safety/ from git), a layer trained only on the sets written before it, its
threshold by leave-one-set-out over those. `--write DIR` trains on every tuned set, the
threshold chosen the same way over all left-out scores. A held-out set
(bench.safety.HELD_OUT) is never learnt from and never chooses a threshold: it is scored
once by the layer trained on every tuned set. Several `--target`s share one set of fits.
`--cost` times the layer alone per prompt (CPU) and its model file's load.
`--features wordllama` puts WordLlama's packaged embeddings (`pip install wordllama`; not a
dependency) under the same linear head, for comparison.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import numpy as np
from scipy import optimize, sparse

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.safety import HELD_OUT, SETS, YEAR, _rows  # noqa: E402
from core.config import REPO_ROOT  # noqa: E402
from core.safety import find_minor  # noqa: E402
from core.safety.normalization import is_unspaced, normalize, tokens  # noqa: E402

FORMAT = 1
BITS = 18
NGRAMS = range(1, 6)
MIN_WORDS = 3  # shorter text (a name, "student", "red hair") is left to the rules
MIN_UNSPACED_CHARS = 6  # Chinese or Japanese: characters, not words
_PRIME = np.uint64(0x100000001B3)
_MIX = np.uint64(0x9E3779B97F4A7C15)


def features(text: str) -> np.ndarray:
    """The sorted, distinct hashed n-gram indices of `text` (as the policy normalises it):
    character 1- to 5-grams across word boundaries, each hashed into one of 2**BITS."""
    padded = " " + normalize(text) + " "
    codes = np.frombuffer(padded.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    found = []
    rolling = np.zeros(len(codes), dtype=np.uint64)
    for n in NGRAMS:
        if n > len(codes):
            break
        # rolling[i] hashes codes[i : i + n]; uint64 arithmetic wraps (a hash, not a count).
        rolling = rolling[: len(codes) - n + 1] * _PRIME + codes[n - 1 :]
        mixed = (rolling ^ np.uint64(n)) * _MIX
        found.append(mixed >> np.uint64(64 - BITS))
    return np.unique(np.concatenate(found)).astype(np.int64)


def applies(text: str) -> bool:
    """Whether the layer reads `text`: at least `MIN_WORDS` words (in Chinese or Japanese,
    `MIN_UNSPACED_CHARS` characters). Without this gate a name alone ("Sophie", "Elena")
    scored as its neighbours in the minor sets ("Sophie, 12") and was refused."""
    normal = normalize(text)
    if len(tokens(normal)) >= MIN_WORDS:
        return True
    return is_unspaced(text) and len(normal.replace(" ", "")) >= MIN_UNSPACED_CHARS


# The commit that added each set before the rules were tuned on it, and the sets before it.
HISTORY = {
    "fresh24": "91709c7",
    "fresh25": "7c4353c",
    "fresh26": "58b0d60",
    "fresh28": "3c70b5f",
}
MODES = (("default", False), ("explicit", True))
TUNED = [name for name in SETS if name not in HELD_OUT]
"""The sets the layer may learn from: a held-out set is only ever scored."""


def say(text: str, *, progress: bool = False) -> None:
    """One line to standard output, or progress to standard error."""
    stream = sys.stderr if progress else sys.stdout
    stream.write(text + "\n")
    stream.flush()


@dataclass
class Labelled:
    """One set's rows: texts, labels (1 minor), and the rules' verdicts in each mode."""

    texts: list[str]
    labels: np.ndarray
    rules: dict[str, np.ndarray]

    @property
    def read(self) -> np.ndarray:
        """The rows the layer reads at all (`core.safety.semantic.applies`)."""
        return np.array([applies(t) for t in self.texts])


def load(rules_of: dict[str, dict[str, list[bool]]] | None = None) -> dict[str, Labelled]:
    """Every set, with the current rules' verdicts (or those given)."""
    sets = {}
    for name in SETS:
        minor = [text for _, _, text in _rows(f"minor_{name}.tsv")]
        benign = [text for _, _, text in _rows(f"benign_{name}.tsv")]
        texts = minor + benign
        labels = np.array([1] * len(minor) + [0] * len(benign))
        rules = {
            mode: np.array([find_minor(t, explicit=explicit, year=YEAR) is not None for t in texts])
            for mode, explicit in MODES
        }
        sets[name] = Labelled(texts, labels, rules)
    return sets


def wordllama_matrix(texts: list[str]) -> sparse.csr_matrix:
    """The survey's alternative: WordLlama's 256-d embeddings (its wheel's own weights and
    tokenizer, loaded by path: `WordLlama.load` looks in the wrong folder and downloads)."""
    import wordllama  # not a dependency: `pip install wordllama` to compare
    from safetensors import safe_open
    from tokenizers import Tokenizer
    from wordllama.inference import WordLlamaInference

    root = Path(wordllama.__file__).parent
    tok = Tokenizer.from_file(str(root / "tokenizers" / "l2_supercat_tokenizer_config.json"))
    weights = root / "weights" / "l2_supercat_256.safetensors"
    with safe_open(str(weights), framework="np", device="cpu") as f:
        model = WordLlamaInference(f.get_tensor("embedding.weight"), tok, binary=False)
    return sparse.csr_matrix(np.asarray(model.embed(texts, norm=True), dtype=np.float64))


FEATURES = "ngrams"  # or "wordllama" (--features)


def matrix(texts: list[str]) -> sparse.csr_matrix:
    """Rows of hashed n-gram presence, each scaled by 1/sqrt(its count), as `score` does."""
    if FEATURES == "wordllama":
        return wordllama_matrix(texts)
    indices, indptr, data = [], [0], []
    for text in texts:
        found = features(text)
        indices.append(found)
        data.append(np.full(len(found), 1.0 / max(1.0, len(found)) ** 0.5))
        indptr.append(indptr[-1] + len(found))
    return sparse.csr_matrix(
        (np.concatenate(data), np.concatenate(indices), np.array(indptr)),
        shape=(len(texts), 2**BITS),
    )


def train(x: sparse.csr_matrix, y: np.ndarray, l2: float) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression, classes weighted to equal total (L-BFGS)."""
    weight = np.where(y == 1, 0.5 / y.mean(), 0.5 / (1 - y.mean())) / len(y)
    sign = 2.0 * y - 1.0

    def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = params[:-1], params[-1]
        margin = sign * (x @ w + b)
        value = float(weight @ np.logaddexp(0, -margin)) + 0.5 * l2 * float(w @ w)
        slope = -weight * sign / (1 + np.exp(margin))
        grad = np.append(x.T @ slope + l2 * w, slope.sum())
        return value, grad

    start = np.zeros(x.shape[1] + 1)  # n-gram columns or embedding dimensions
    found = optimize.minimize(loss, start, jac=True, method="L-BFGS-B", options={"maxiter": 400})
    return found.x[:-1], float(found.x[-1])


_MATRICES: dict[tuple[str, str], sparse.csr_matrix] = {}
_FITS: dict[tuple[tuple[str, ...], float, str], tuple[np.ndarray, float]] = {}


def set_matrix(sets: dict[str, Labelled], name: str) -> sparse.csr_matrix:
    """The feature rows of set `name`, computed once (a set's texts never change)."""
    key = (name, FEATURES)
    if key not in _MATRICES:
        _MATRICES[key] = matrix(sets[name].texts)
    return _MATRICES[key]


def fit(sets: dict[str, Labelled], names: list[str], l2: float) -> tuple[np.ndarray, float]:
    """The layer trained on sets `names`, trained once per process (labels and texts never
    change; the rules' verdicts play no part in training), so several targets share fits."""
    key = (tuple(names), l2, FEATURES)
    if key not in _FITS:
        x = sparse.vstack([set_matrix(sets, n) for n in names]).tocsr()
        _FITS[key] = train(x, np.concatenate([sets[n].labels for n in names]), l2)
    return _FITS[key]


def scores(x: sparse.csr_matrix, w: np.ndarray, b: float) -> np.ndarray:
    """The layer's scores of rows `x`, float32 weights as shipped."""
    return 1 / (1 + np.exp(-(x @ w.astype(np.float32).astype(np.float64) + b)))


def threshold(benign_scores: np.ndarray, target_pct: float) -> float:
    """The lowest threshold refusing at most `target_pct` % of `benign_scores`."""
    ordered = np.sort(benign_scores)[::-1]
    allowed = int(np.floor(len(ordered) * target_pct / 100))
    return float(np.nextafter(ordered[allowed], 1.0)) if allowed < len(ordered) else 0.0


def loso(sets: dict[str, Labelled], names: list[str], l2: float) -> dict[str, np.ndarray]:
    """Each set's scores by the model trained on the other sets of `names`."""
    out = {}
    for left in names:
        w, b = fit(sets, [n for n in names if n != left], l2)
        out[left] = scores(set_matrix(sets, left), w, b)
        say(f"  left out {left}", progress=True)
    return out


def passed_benign(sets: dict[str, Labelled], name: str, s: np.ndarray) -> np.ndarray:
    """Scores of the benign rows of set `name` the rules pass in default mode."""
    data = sets[name]
    return s[(data.labels == 0) & ~data.rules["default"] & data.read]


def effect(data: Labelled, s: np.ndarray, t: float, mode: str) -> dict[str, float | int]:
    """The layer's gain and cost over the rules on one set in one mode."""
    layer = (s >= t) & data.read
    minor, benign = data.labels == 1, data.labels == 0
    missed = minor & ~data.rules[mode]
    return {
        "minor": int(minor.sum()),
        "missed": int(missed.sum()),
        "caught": int((missed & layer).sum()),
        "benign": int(benign.sum()),
        "added_false": int((benign & ~data.rules[mode] & layer).sum()),
        "rules_refused_pct": round(100 * float(data.rules[mode][minor].mean()), 2),
        "both_refused_pct": round(100 * float((data.rules[mode] | layer)[minor].mean()), 2),
        "rules_false_pct": round(100 * float(data.rules[mode][benign].mean()), 2),
        "both_false_pct": round(100 * float((data.rules[mode] | layer)[benign].mean()), 2),
        "layer_alone_pct": round(100 * float(layer[minor].mean()), 2),
    }


def table(rows: list[tuple[str, float, dict[str, dict]]]) -> str:
    """A markdown table of per-set effects in both modes."""
    lines = [
        "| left out | thr | mode | rules refused | +layer | caught/missed | rules false "
        "| +layer | added false | layer alone |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, t, by_mode in rows:
        for mode, e in by_mode.items():
            lines.append(
                f"| {name} | {t:.3f} | {mode} | {e['rules_refused_pct']} % | "
                f"{e['both_refused_pct']} % | {e['caught']}/{e['missed']} | "
                f"{e['rules_false_pct']} % | {e['both_false_pct']} % | "
                f"{e['added_false']}/{e['benign']} | {e['layer_alone_pct']} % |"
            )
    return "\n".join(lines)


def totals(rows: list[tuple[str, float, dict[str, dict]]]) -> str:
    """Gain and cost summed over the left-out sets, per mode."""
    out = []
    for mode, _ in MODES:
        caught = sum(e[mode]["caught"] for _, _, e in rows)
        missed = sum(e[mode]["missed"] for _, _, e in rows)
        added = sum(e[mode]["added_false"] for _, _, e in rows)
        benign = sum(e[mode]["benign"] for _, _, e in rows)
        out.append(
            f"{mode}: caught {caught}/{missed} rows the rules miss; "
            f"added {added}/{benign} false refusals ({100 * added / benign:.2f} %)"
        )
    return "\n".join(out)


def cross_validate(sets: dict[str, Labelled], names: list[str], l2: float, target: float):
    """Leave-one-set-out rows for `table`, and all left-out scores."""
    left_out = loso(sets, names, l2)
    rows = []
    for name in names:
        others = np.concatenate([passed_benign(sets, n, left_out[n]) for n in names if n != name])
        t = threshold(others, target)
        rows.append((name, t, {m: effect(sets[name], left_out[name], t, m) for m, _ in MODES}))
    return rows, left_out


_OLD_RULES = """
import json, sys
sys.path.insert(0, sys.argv[1])
from core.safety import find_minor
texts = json.load(sys.stdin)
sys.stdout.write(json.dumps({m: [find_minor(t, explicit=e, year=2026) is not None for t in texts]
                             for m, e in (("default", False), ("explicit", True))}))
"""


def old_rules(commit: str, texts: list[str]) -> dict[str, np.ndarray]:
    """The verdicts of the rules as they were at `commit` (its core/ and data/safety/)."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", commit, "core", "data/safety"],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
    ).stdout
    with tempfile.TemporaryDirectory() as root:
        with tarfile.open(fileobj=BytesIO(archive)) as tar:
            tar.extractall(root, filter="data")
        done = subprocess.run(
            [sys.executable, "-c", _OLD_RULES, root],
            input=json.dumps(texts),
            capture_output=True,
            text=True,
            check=True,
            cwd=root,
        )
    return {mode: np.array(v) for mode, v in json.loads(done.stdout).items()}


def history(sets: dict[str, Labelled], names: list[str], l2: float, target: float) -> list:
    """Sets of `HISTORY` replayed as held out: old rules, a layer trained on the earlier sets."""
    rows = []
    for name in names:
        commit = HISTORY[name]
        earlier = list(SETS[: SETS.index(name)])
        say(f"history {name}: rules of {commit}, {len(earlier)} sets before", progress=True)
        then = {n: sets[n] for n in earlier}
        then[name] = Labelled(
            sets[name].texts, sets[name].labels, old_rules(commit, sets[name].texts)
        )
        inner = loso(then, earlier, l2)
        t = threshold(np.concatenate([passed_benign(then, n, inner[n]) for n in earlier]), target)
        w, b = fit(sets, earlier, l2)
        s = scores(set_matrix(sets, name), w, b)
        rows.append((name, t, {m: effect(then[name], s, t, m) for m, _ in MODES}))
    return rows


def held_out(
    sets: dict[str, Labelled], left_out: dict[str, np.ndarray], l2: float, target: float
) -> list:
    """The held-out sets (bench.safety.HELD_OUT) under the current rules, scored by a layer
    trained on every tuned set, its threshold by leave-one-set-out over those."""
    t = threshold(np.concatenate([passed_benign(sets, n, left_out[n]) for n in TUNED]), target)
    w, b = fit(sets, TUNED, l2)
    rows = []
    for name in HELD_OUT:
        s = scores(set_matrix(sets, name), w, b)
        rows.append((name, t, {m: effect(sets[name], s, t, m) for m, _ in MODES}))
    return rows


def write(sets: dict[str, Labelled], l2: float, t: float, version: str, path: Path) -> None:
    """Train on every tuned set and save the model to `path` (no model is shipped)."""
    w, b = fit(sets, TUNED, l2)
    np.savez_compressed(
        path,
        weights=w.astype(np.float32),
        bias=np.float64(b),
        threshold=np.float64(t),
        format=np.int64(FORMAT),
        bits=np.int64(BITS),
        version=np.str_(version),
    )
    say(f"wrote {path} ({path.stat().st_size:,} bytes)")


def score_one(text: str, weights: np.ndarray, bias: float) -> float:
    """One text's score as a screen would compute it: the weights of its n-grams summed,
    scaled by 1/sqrt(their count) (as `matrix` does), through the logistic function."""
    found = features(text)
    z = float(weights[found].sum()) / max(1.0, len(found)) ** 0.5 + bias
    return 1.0 / (1.0 + float(np.exp(-z)))


def cost(sets: dict[str, Labelled], l2: float) -> None:
    """The layer's cost: model file size, load time, CPU time per prompt (gate + score)."""
    w, b = fit(sets, TUNED, l2)
    texts = [t for data in sets.values() for t in data.texts]
    with tempfile.TemporaryDirectory() as root:
        path = Path(root) / "minor_semantic.npz"
        np.savez_compressed(path, weights=w.astype(np.float32), bias=np.float64(b))
        started = time.process_time()
        with np.load(path) as model:
            weights, bias = model["weights"], float(model["bias"])
        load_ms = (time.process_time() - started) * 1000
        size = path.stat().st_size
    worst = []
    for text in texts:
        best = float("inf")
        for _ in range(3):
            started = time.process_time()
            if applies(text):
                score_one(text, weights, bias)
            best = min(best, (time.process_time() - started) * 1000)
        worst.append(best)
    say(
        f"model file {size:,} bytes ({weights.nbytes:,} in memory), loaded in {load_ms:.1f} ms "
        f"CPU; per prompt ({len(texts)}, gate + score, best of 3): p50 "
        f"{np.percentile(worst, 50):.3f} ms, p99 {np.percentile(worst, 99):.3f} ms, "
        f"max {max(worst):.3f} ms CPU"
    )


def main() -> None:
    """Cross-validate, optionally replay history and write the shipped model."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--l2", type=float, default=1e-4)
    parser.add_argument(
        "--target", type=float, nargs="+", default=[1.0], help="added false refusals, %%"
    )
    parser.add_argument(
        "--history", nargs="*", choices=list(HISTORY), help="replay these sets (none: all)"
    )
    parser.add_argument("--cost", action="store_true", help="time the layer per prompt")
    parser.add_argument("--no-cv", action="store_true", help="with --history: only replay")
    parser.add_argument("--write", type=Path, metavar="DIR", help="write a model per target")
    parser.add_argument("--features", choices=("ngrams", "wordllama"), default="ngrams")
    args = parser.parse_args()
    global FEATURES
    FEATURES = args.features
    sets = load()
    for target in args.target:
        if not args.no_cv:
            rows, left_out = cross_validate(sets, TUNED, args.l2, target)
            say(f"leave-one-set-out, l2 {args.l2}, target {target} % added false refusals")
            say(table(rows))
            say(totals(rows))
            if HELD_OUT:
                say("held-out sets, current rules, the layer trained on every tuned set")
                say(table(held_out(sets, left_out, args.l2, target)))
        if args.history is not None:
            past = history(sets, args.history or list(HISTORY), args.l2, target)
            say(f"past held-out sets replayed (rules of the commit that added each), {target} %")
            say(table(past))
            say(totals(past))
        if args.write:
            pooled = np.concatenate([passed_benign(sets, n, left_out[n]) for n in TUNED])
            t = threshold(pooled, target)
            version = f"f{FORMAT}-b{BITS}-l2{args.l2}-t{t:.4f}"
            write(sets, args.l2, t, version, args.write / f"minor_semantic_{target}.npz")
    if args.cost:
        cost(sets, args.l2)


if __name__ == "__main__":
    main()
