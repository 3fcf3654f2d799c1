"""The CLIP token estimate behind the studio's prompt counter."""

import pytest

from core.comfy.tokens import CLIP_WINDOW, estimate_clip_tokens, over_window


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


def test_window_warning():
    assert not over_window("a lighthouse at dusk, oil painting")
    assert over_window("word " * (CLIP_WINDOW + 1))
