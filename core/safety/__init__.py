"""Content policy: refuse any request that describes or implies a minor, screen every output.

- `prompts`: the text screen every entry point calls (studio, muses, cards, variations, CLI);
- `lexicon`: the per-language word lists in `data/safety/lexicon/`, normalised like requests;
- `ages`: ages said any way ("12yo", "born in 2014", "her cousin, 10", "7th grade");
- `context`: youth words that describe no minor where they stand (similes, endearments,
  professions, relatives with an adult age);
- `outputs`: the `OutputScreener` protocol and the NudeNet detector behind it.

Stated age >= 18 is necessary, not sufficient (SECURITY.md decision 9): outputs also pass an
`OutputScreener`, and a moderator approves anything before it is public.
"""

from core.safety.normalization import normalize
from core.safety.outputs import (
    OutputScreener,
    PendingReviewScreener,
    ScreeningResult,
    shared_screener,
)
from core.safety.prompts import (
    CONSENT_STATEMENT,
    MAX_PROMPT_CHARS,
    MINOR_MESSAGE,
    REAL_PERSON_MESSAGE,
    Finding,
    find_minor,
    public_figures,
    screen_muse,
    screen_prompt,
    screen_reference_use,
)

__all__ = [
    "CONSENT_STATEMENT",
    "MAX_PROMPT_CHARS",
    "MINOR_MESSAGE",
    "REAL_PERSON_MESSAGE",
    "Finding",
    "OutputScreener",
    "PendingReviewScreener",
    "ScreeningResult",
    "find_minor",
    "normalize",
    "public_figures",
    "screen_muse",
    "screen_prompt",
    "screen_reference_use",
    "shared_screener",
]
