"""The content policy's labelled prompt sets and a yes/no view of the prompt screen, for the
tests that grade the policy."""

from __future__ import annotations

from core import safety
from core.config import REPO_ROOT
from core.errors import PolicyRefusal

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "safety"
YEAR = 2026  # the fixture sets' birth years are judged against this year


def rows(name: str) -> list[tuple[str, ...]]:
    """The tab-separated rows of the labelled set `name` (blank and `#` lines skipped)."""
    text = (FIXTURES / name).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return [tuple(line.split("\t")) for line in lines]


def refused(prompt: str, *, nsfw: bool = False, year: int = YEAR) -> bool:
    """Whether the prompt screen refuses `prompt` (`PolicyRefusal`) in the given mode and year."""
    try:
        safety.screen_prompt(prompt, nsfw=nsfw, year=year)
    except PolicyRefusal:
        return True
    return False


def modes_refused(prompt: str) -> set[bool]:
    """Whether `prompt` is refused, in the default mode and in explicit mode (one value if
    both agree)."""
    return {refused(prompt, nsfw=False), refused(prompt, nsfw=True)}


def assert_pair(minor: str, adult: str) -> None:
    """A minor's request refused in both modes, and its adult twin passed in both."""
    assert modes_refused(minor) == {True}, minor
    assert modes_refused(adult) == {False}, adult
