"""The CLIP token estimate behind the studio's prompt counter."""

import pytest

from core.comfy.tokens import CLIP_WINDOW, estimate_clip_tokens, prompt_chunks


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("", 0),
        ("a cat", 2),
        ("a cat, sleeping.", 5),
        ("photorealistic", 2),
        ("1024", 4),
    ],
)
def test_estimate(text, tokens):
    assert estimate_clip_tokens(text) == tokens


def test_a_prompt_past_one_window_falls_into_chunks():
    assert len(prompt_chunks("a lighthouse at dusk, oil painting")) == 1
    assert len(prompt_chunks("word " * (CLIP_WINDOW + 1))) == 2
