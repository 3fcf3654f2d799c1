"""Finding listed words and phrases in a tokenised request, in time linear in its length.

A list entry is written the way a person reads it and normalised like the request:

- `little girl`  the words in a row; each may take a plural ending (`little girls`);
- `bambin*`      the last word is a stem: any ending (`bambina`, `bambini`, `bambinetto`);
- `*teen*`       found inside a longer word too (`sexyteen`, `teengirl`); words that merely
                 contain it (`canteen`, `fifteen`) are listed as exemptions;
- Chinese and Japanese entries are always found inside runs of text (no spaces there).

No regular expression here has a quantifier: words and pairs of words are looked up in
dicts, stems and inside-word entries by a trie of literals compiled into one pattern, so
each token costs a few lookups and nothing can backtrack.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from core.safety.normalization import accented, is_unspaced, normalize, tokens

Form = Literal["letters", "digits", "accents"]

PLURAL_ENDINGS = ("s", "es")


@dataclass(frozen=True)
class Term:
    """One list entry, normalised: its words, and how its last word may continue."""

    words: tuple[str, ...]
    stem: bool = False
    inside: bool = False
    source: str = ""

    def matches_at(self, toks: Sequence[str], start: int) -> int:
        """The end (exclusive) of this term's match starting at token `start`, or 0."""
        end = start + len(self.words)
        if end > len(toks):
            return 0
        for offset, word in enumerate(self.words):
            token = toks[start + offset]
            last = offset == len(self.words) - 1
            if last and self.stem:
                if not token.startswith(word):
                    return 0
            elif not word_matches(token, word):
                return 0
        return end


def word_matches(token: str, word: str) -> bool:
    """`token` is `word` or `word` with a plural ending."""
    if token == word:
        return True
    return any(token == word + ending for ending in PLURAL_ENDINGS)


def in_form(text: str, form: Form) -> str:
    """`text` normalised for one of the three forms the policy reads."""
    if form == "accents":
        return accented(text)
    return normalize(text, lookalikes=form == "letters")


def parse_term(entry: str, *, form: Form = "letters") -> Term | None:
    """A list entry as a Term (None for an entry that normalises to nothing)."""
    inside = entry.startswith("*") and entry.endswith("*") and len(entry) > 2
    stem = entry.endswith("*") and not inside
    normalized = in_form(entry.strip("*"), form)
    if is_unspaced(normalized):
        return Term((normalized.replace(" ", ""),), inside=True, source=entry)
    words = tuple(tokens(normalized))
    if not words:
        return None
    return Term(words, stem=stem, inside=inside and len(words) == 1, source=entry)


@dataclass(frozen=True)
class Match:
    """Where a term was found: tokens [start, end) or, for unspaced text, characters."""

    term: Term
    start: int
    end: int


class PhraseSet:
    """A list of terms, indexed for matching against a token sequence."""

    def __init__(self, entries: Iterable[str], *, form: Form = "letters") -> None:
        self.single: dict[str, list[Term]] = {}
        self.pairs: dict[tuple[str, str], list[Term]] = {}
        self.stem_pairs: dict[str, dict[str, Term]] = {}
        self.stems: dict[str, Term] = {}
        self.inside_words: dict[str, Term] = {}
        self.unspaced_terms: dict[str, Term] = {}
        for entry in entries:
            term = parse_term(entry, form=form)
            if term is not None:
                self._add(term)
        self._stem = _trie(self.stems)
        self._inside = _trie(self.inside_words)
        self._unspaced = _trie(self.unspaced_terms)
        self._unspaced_lengths = sorted({len(term) for term in self.unspaced_terms})
        self._second_stems = {first: _trie(seconds) for first, seconds in self.stem_pairs.items()}
        self._first_words = frozenset(
            [*self.single, *self.stem_pairs, *(first for first, _ in self.pairs)]
        )
        every = [t for terms in (*self.single.values(), *self.pairs.values()) for t in terms]
        self._last_words = frozenset(t.words[-1] for t in every if not t.stem)
        self._last_stem = _trie(
            [t.words[-1] for t in every if t.stem]
            + [stem for seconds in self.stem_pairs.values() for stem in seconds]
            + list(self.stems)
        )
        self.max_words = max([len(t.words) for t in every] + [2])

    def _add(self, term: Term) -> None:
        first = term.words[0]
        if term.inside and is_unspaced(first):
            self.unspaced_terms[first] = term
        elif term.inside:
            self.inside_words[first] = term
        elif len(term.words) == 1:
            if term.stem:
                self.stems[first] = term
            else:
                self.single.setdefault(first, []).append(term)
        elif len(term.words) == 2 and term.stem:
            self.stem_pairs.setdefault(first, {})[term.words[1]] = term
        else:
            self.pairs.setdefault((first, term.words[1]), []).append(term)

    def __bool__(self) -> bool:
        return bool(
            self.single or self.pairs or self.stem_pairs or self.stems or self.inside_words
        ) or bool(self.unspaced_terms)

    def matches(self, toks: Sequence[str]) -> Iterator[Match]:
        """Every term found in `toks` (token spans), in order of their first token."""
        first_words, stem, inside = self._first_words, self._stem, self._inside
        for index, token in enumerate(toks):
            if (
                first_words.isdisjoint(_keys(token))
                and (stem is None or stem.match(token) is None)
                and (inside is None or inside.search(token) is None)
            ):
                continue  # the common case, kept free of calls
            yield from self.matches_at(toks, index)

    def _hit(self, token: str) -> bool:
        """A stem or an inside-word entry in `token`."""
        return (self._stem is not None and self._stem.match(token) is not None) or (
            self._inside is not None and self._inside.search(token) is not None
        )

    def end_at(self, toks: Sequence[str], index: int) -> int:
        """The end of the longest term starting at token `index` (0 if none starts there).

        The common case (no listed word begins here) costs two set lookups and one or two
        trie matches, without building any Match."""
        token = toks[index]
        if self._first_words.isdisjoint(_keys(token)):
            return index + 1 if self._hit(token) else 0
        return max((match.end for match in self.matches_at(toks, index)), default=0)

    def matches_at(self, toks: Sequence[str], index: int) -> Iterator[Match]:
        """Terms whose match starts at token `index`."""
        token = toks[index]
        keys = _keys(token)
        for key in keys:
            for term in self.single.get(key, ()):
                yield Match(term, index, index + 1)
            follower = self._second_stems.get(key)
            if follower is not None and index + 1 < len(toks):
                found = follower.match(toks[index + 1])
                if found is not None:
                    yield Match(self.stem_pairs[key][found.group(0)], index, index + 2)
        if self.pairs and index + 1 < len(toks):
            for key in keys:
                for second in _keys(toks[index + 1]):
                    for term in self.pairs.get((key, second), ()):
                        end = term.matches_at(toks, index)
                        if end:
                            yield Match(term, index, end)
        if self._stem is not None:
            found = self._stem.match(token)
            if found is not None:
                yield Match(self.stems[found.group(0)], index, index + 1)
        if self._inside is not None:
            found = self._inside.search(token)
            if found is not None:
                yield Match(self.inside_words[found.group(0)], index, index + 1)

    def could_end_with(self, token: str) -> bool:
        """Whether some term may end with `token` (a cheap test before a backward look)."""
        if not self._last_words.isdisjoint(_keys(token)):
            return True
        if self._last_stem is not None and self._last_stem.match(token) is not None:
            return True
        return self._inside is not None and self._inside.search(token) is not None

    def first(self, toks: Sequence[str], skip: frozenset[int] = frozenset()) -> Match | None:
        """The first match with a token outside `skip` (the exempt tokens)."""
        for match in self.matches(toks):
            if not skip.issuperset(range(match.start, match.end)):
                return match
        return None

    def unspaced_matches(self, text: str) -> Iterator[Match]:
        """Chinese and Japanese terms found in `text` (character spans)."""
        if self._unspaced is None:
            return
        for found in self._unspaced.finditer(text):
            yield Match(self.unspaced_terms[found.group(0)], found.start(), found.end())

    def starts_unspaced(self, token: str) -> bool:
        """Whether a Chinese/Japanese term begins `token` ("歳の女の子" begins with "歳")."""
        return self._unspaced is not None and self._unspaced.match(token) is not None

    def unspaced_prefix(self, token: str) -> str:
        """The Chinese/Japanese term that begins `token` ("歳" of "歳の猫"), or ""."""
        found = self._unspaced.match(token) if self._unspaced is not None else None
        return found.group(0) if found is not None else ""

    def in_unspaced(self, token: str) -> bool:
        """Whether a Chinese/Japanese term occurs anywhere in `token`."""
        return self._unspaced is not None and self._unspaced.search(token) is not None

    def ends_unspaced(self, token: str) -> bool:
        """Whether `token` ends with a Chinese/Japanese term."""
        return any(token[-length:] in self.unspaced_terms for length in self._unspaced_lengths)


@lru_cache(maxsize=8192)
def _keys(token: str) -> tuple[str, ...]:
    """The token and the token without a plural ending: the dict keys it may be listed under."""
    keys = [token]
    keys += [token[: -len(end)] for end in PLURAL_ENDINGS if token.endswith(end) and len(token) > 3]
    return tuple(keys)


def _trie(words: Iterable[str]) -> re.Pattern[str] | None:
    """A pattern matching the shortest listed word at a position, built as a trie of
    literals: no quantifier, no backtracking beyond one character per step."""
    root: dict[str, dict[str, Any]] = {}
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}
    return re.compile(_branches(root)) if root else None


def _branches(node: dict[str, dict[str, Any]]) -> str:
    if "" in node:  # a listed word ends here: the shortest match is enough
        return ""
    parts = [re.escape(char) + _branches(child) for char, child in sorted(node.items())]
    return parts[0] if len(parts) == 1 else "(?:" + "|".join(parts) + ")"
