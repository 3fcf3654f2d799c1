"""How the policy reads text: one normal form for requests and word lists alike.

Text is folded (NFKC, case, accents, zero-width and bidi controls, look-alike letters and
digits), punctuation inside a word and separators between single letters are dropped, and
runs of one letter are shortened. The word lists in `data/safety/` pass through the same
function when they are loaded, so a list entry and a request meet in the same form.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

_ZERO_WIDTH = dict.fromkeys(
    map(
        ord,
        "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
        # Arabic tatweel, a letter to `re` that only stretches the line ("طـفـلـة")
        "\u0640",
    ),
    None,
)
# Letters that look Latin (Cyrillic, Greek, IPA), and letters NFKD does not decompose.
_LETTER_FOLDS = str.maketrans(
    {
        "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i",
        "ј": "j", "ѕ": "s", "ԁ": "d", "ɡ": "g", "α": "a", "ε": "e", "ο": "o", "ρ": "p",
        "τ": "t", "υ": "u", "ν": "v", "κ": "k", "ι": "i", "т": "t", "к": "k", "м": "m",
        "в": "b", "н": "h", "ł": "l", "ø": "o", "đ": "d", "ı": "i", "æ": "ae", "œ": "oe",
        "þ": "th", "ð": "d",
        # Small capitals (NFKC keeps them): "ᴛᴇᴇɴ" reads "teen"
        "ᴀ": "a", "ʙ": "b", "ᴄ": "c", "ᴅ": "d", "ᴇ": "e", "ꜰ": "f", "ɢ": "g", "ʜ": "h",
        "ɪ": "i", "ᴊ": "j", "ᴋ": "k", "ʟ": "l", "ᴍ": "m", "ɴ": "n", "ᴏ": "o", "ᴘ": "p",
        "ǫ": "q", "ʀ": "r", "ꜱ": "s", "ᴛ": "t", "ᴜ": "u", "ᴠ": "v", "ᴡ": "w", "ʏ": "y",
        "ᴢ": "z",
        # Persian and Urdu write yeh and kaf with letters of their own: one form for both
        "ي": "ی", "ك": "ک",
        # Traditional Chinese characters of the youth, school and age words, read as the
        # simplified ones ("國小五年級", "三歲"): one form for both scripts
        "國": "国", "學": "学", "級": "级", "兒": "儿", "們": "们", "歲": "岁", "個": "个",
        "嬰": "婴", "齡": "龄", "園": "园", "孫": "孙", "細": "细",
    }
)  # fmt: skip
DIGIT_LOOKALIKES = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}
)
# Punctuation inside a word is noise ("t.e.e.n", "y/o"); between two digits it is not
# ("12.5"). Apostrophes separate words ("child's", "l'enfant", "she's").
_INWORD_PUNCTUATION = re.compile(
    r"(?<=[^\W\d_])[.*|~+/\\^:]+(?=\w)|(?<=\w)[.*|~+/\\^:]+(?=[^\W\d_])"
)
_BANG_IN_WORD = re.compile(r"(?<=[^\W\d_])!(?=[^\W\d_])")
# A bar ending a word of letters ("gir|") is the letter l it looks like.
_BAR_ENDING_WORD = re.compile(r"(?<=[a-z][a-z])\|(?![\w|])")
# A digit between two letters ("n1ña"): a look-alike letter even where accents are kept.
_DIGIT_IN_WORD = re.compile(r"(?<=[^\W\d_])\d(?=[^\W\d_])")
# Single letters apart ("t e e n"), Cyrillic and Greek ones too ("д е в о ч к а": after the
# look-alike folds a run mixes both scripts).
_SEPARATED = re.compile(
    r"(?<![a-z\u0370-\u04ff])(?:[a-z\u0370-\u04ff][ ._*\-+~|/\\'’]){2,}[a-z\u0370-\u04ff]"
    r"(?![a-z\u0370-\u04ff])"
)
# The same run of single letters, accented letters included ("n i ñ a"), for `accented`.
_SEPARATED_ACCENTED = re.compile(
    r"(?<![^\W\d_])(?:[^\W\d_][ ._*\-+~|/\\'’]){2,}[^\W\d_](?![^\W\d_])"
)
_REPEATED = re.compile(r"([a-z])\1{2,}")
_SEPARATORS = re.compile(r"[\s_\-]+")
# An apostrophe between Cyrillic letters is part of the word (Ukrainian "п'ятий", "дев'ять").
_CYRILLIC_APOSTROPHE = re.compile(r"(?<=[\u0400-\u04ff])['’ʼ](?=[\u0400-\u04ff])")
_SPACES = re.compile(r" {2,}")
# A space between two Chinese or Japanese characters ("小 学 生", "一个小 女 孩"): noise in
# scripts written without spaces.
_SPACE_IN_HAN_KANA = re.compile(
    r"(?<=[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]) (?=[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff])"
)
# Marks that change an Indic, Thai, Burmese or Khmer letter or a kana's sound (こども
# "child" is not ことも): kept.
_KEPT_MARKS = re.compile(r"[\u0900-\u0eff\u1000-\u109f\u1780-\u17ff\u3099\u309a]")
# Indic, Thai, Burmese and Khmer vowel signs and viramas are marks, not word characters to
# `re`: kept inside a word ("बारह" is one word, not "ब" and "रह"; "เด็ก" not "เด" and "ก"), so
# a word is one token like in other scripts.
INDIC_MARKS = "".join(
    chr(c)
    for c in (*range(0x0900, 0x0F00), *range(0x1000, 0x10A0), *range(0x1780, 0x1800))
    if unicodedata.category(chr(c)).startswith("M")
)
TOKEN = re.compile(r"(?:[^\W_]|[" + INDIC_MARKS + r"])+")
# Scripts written without spaces between words (Chinese, Japanese, Thai, Lao, Burmese,
# Khmer): their terms are found inside longer runs.
_UNSPACED = re.compile(
    r"[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f]"
)


def fold(text: str, *, lookalikes: bool = True) -> str:
    """Case, width and accents folded; look-alike letters (and digits, if asked) mapped."""
    text = unicodedata.normalize("NFKC", text).translate(_ZERO_WIDTH).casefold()
    text = _CYRILLIC_APOSTROPHE.sub("", text)
    if not text.isascii():  # ASCII has no accent to strip and no look-alike letter
        text = _without_accents(text).translate(_LETTER_FOLDS)
    return text.translate(DIGIT_LOOKALIKES) if lookalikes else text


def _without_accents(text: str) -> str:
    stripped = "".join(
        ch
        for ch in unicodedata.normalize("NFKD", text)
        if not unicodedata.combining(ch) or _KEPT_MARKS.match(ch)
    )
    # NFC recomposes what NFKD split with no accent to drop (Hangul, kana voicing).
    return unicodedata.normalize("NFC", stripped)


def _join_letters(match: re.Match[str]) -> str:
    run = match.group(0)
    # "a t e e n": the English word "a" (or "I") starts the run, it is not part of the word.
    keep = run[:2] if run[:2] in ("a ", "i ") else ""
    return keep + re.sub(r"[\W\d_]", "", run[len(keep) :])


def normalize(
    text: str, *, lookalikes: bool = True, join: Callable[[re.Match[str]], str] | None = None
) -> str:
    """The text as the policy reads it: folded, separators collapsed, single-spaced.

    "T.E.E.N", "t e e n" and "t33n" all read "teen"; runs of one letter are shortened to two
    ("teeeen" -> "teen"). With `lookalikes=False` digits stay digits (for reading ages).
    """
    folded = _SEPARATORS.sub(" ", fold(text, lookalikes=lookalikes))
    if lookalikes:  # "ch!ld": an exclamation mark inside a word reads as an "i"
        folded = _BANG_IN_WORD.sub("i", folded)
    folded = _BAR_ENDING_WORD.sub("l", folded)
    folded = _INWORD_PUNCTUATION.sub("", folded)
    folded = _SPACE_IN_HAN_KANA.sub("", folded)  # "小 学 生", "一个小 女 孩": spaces are noise
    folded = _SEPARATED.sub(join or _join_letters, folded)
    folded = _REPEATED.sub(r"\1\1", folded)
    return _SPACES.sub(" ", folded).strip()


def spelled_out(text: str) -> list[str]:
    """The words written as runs of spaced single letters ("K i n d im Garten": "kind"),
    read both ways `normalize` and `join_first_letter` read a run's first letter."""
    folded = _SEPARATORS.sub(" ", fold(text))
    words: list[str] = []
    for run in _SEPARATED.finditer(folded):
        for joined in (_join_letters(run), _join_first_apart(run)):
            words += [word for word in tokens(joined) if len(word) > 2 and word not in words]
    return words


def join_first_letter(text: str) -> str | None:
    """`normalize` with each run of spaced single letters read with its first letter the
    other way: apart if the run is joined whole ("o f e t i t a": the article "o", then
    "fetita"), joined if "a" or "i" is kept apart ("a d o l e s c e n t"); None if the text
    holds no such run."""
    folded = _SEPARATORS.sub(" ", fold(text))
    if _SEPARATED.search(folded) is None:
        return None
    return normalize(text, join=_join_first_apart)


def _join_first_apart(match: re.Match[str]) -> str:
    run = match.group(0)
    keep = run[:2] if run[1] == " " and run[:2] not in ("a ", "i ") else ""
    return keep + re.sub(r"[\W\d_]", "", run[len(keep) :])


# Two single Latin letters, spaced ("j c"), read as one word beside Chinese or Japanese
# text, where such a pair is an abbreviation ("JC"), not initials.
_LETTER_PAIR = re.compile(r"(?<![^\W\d_])([a-z]) ([a-z])(?![^\W\d_])")
_SCRIPT_EDGE = re.compile(
    r"(?<=[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff])(?=[a-z0-9])"
    r"|(?<=[a-z0-9])(?=[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff])"
)


def join_letter_pairs(text: str) -> str | None:
    """`normalize` for text holding Chinese or Japanese, Latin letters and digits read apart
    from those scripts ("jkが": "jk", "が") and spaced pairs of single Latin letters joined
    ("j c"); None for other text or if nothing changes."""
    if _UNSPACED.search(text) is None:
        return None
    normal = normalize(text)
    joined = _LETTER_PAIR.sub(r"\1\2", _SCRIPT_EDGE.sub(" ", normal))
    return joined if joined != normal else None


# Combining marks left after NFKC on a Latin letter: they compose with nothing.
_STRAY_MARKS = re.compile(r"(?<=[a-z\u00c0-\u024f])[\u0300-\u036f]+")


def accented(text: str) -> str:
    """Folded like `normalize` but keeping accents, for words an accent tells apart
    ("niña" is a girl, "Nina" a name); a digit inside a word reads as its look-alike letter
    ("n1ña") and a run of single letters is one word ("n i ñ a")."""
    text = unicodedata.normalize("NFKC", text).translate(_ZERO_WIDTH).casefold()
    text = _STRAY_MARKS.sub("", text)  # "ni̇ña": a dot NFKC cannot compose onto its letter
    text = _DIGIT_IN_WORD.sub(lambda found: found.group(0).translate(DIGIT_LOOKALIKES), text)
    text = _INWORD_PUNCTUATION.sub("", _SEPARATORS.sub(" ", text))
    return _SPACES.sub(" ", _SEPARATED_ACCENTED.sub(_join_letters, text)).strip()


def cased(text: str) -> str:
    """Folded like `fold` but keeping capitals (and digits), for telling a name ("Kid Rock")
    from the same words in a description ("a kid rock climbing")."""
    text = unicodedata.normalize("NFKC", text).translate(_ZERO_WIDTH)
    return text if text.isascii() else _without_accents(text)


def tokens(normalized: str) -> list[str]:
    """The words of a normalised text (letters and digits; punctuation dropped)."""
    return TOKEN.findall(normalized)


def is_unspaced(text: str) -> bool:
    """Whether `text` holds Chinese or Japanese characters (words not separated by spaces)."""
    return _UNSPACED.search(text) is not None
