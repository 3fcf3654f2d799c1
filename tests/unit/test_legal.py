"""The legal texts: versions read from their files, and who must accept them again."""

import pytest

from core.accounts import legal
from core.errors import ConfigError
from core.models import User


def test_the_shipped_texts_have_versions_and_bodies():
    texts = legal.load()
    assert texts.terms.version and texts.privacy.version
    assert texts.terms.body.startswith("# Terms of service")
    assert texts.privacy.body.startswith("# Privacy notice")


@pytest.mark.parametrize(
    "first_line", ["# Terms", "Version:", "Version: " + "x" * 33, "version: 2026-12-01"]
)
def test_a_text_without_a_version_line_stops_with_a_message_naming_it(tmp_path, first_line):
    (tmp_path / "terms.md").write_text(f"{first_line}\n\n# Terms\n")
    (tmp_path / "privacy.md").write_text("Version: 1\n\n# Privacy\n")
    with pytest.raises(ConfigError, match="terms.md"):
        legal.load(tmp_path)


def test_a_missing_text_stops_with_a_message_naming_it(tmp_path):
    (tmp_path / "terms.md").write_text("Version: 1\n\n# Terms\n")
    with pytest.raises(ConfigError, match="privacy.md"):
        legal.load(tmp_path)


@pytest.mark.parametrize(
    ("terms", "privacy", "needed"),
    [("2", "7", False), ("1", "7", True), ("2", "6", True), (None, None, True)],
)
def test_only_a_user_who_accepted_both_versions_in_force_goes_on(tmp_path, terms, privacy, needed):
    (tmp_path / "terms.md").write_text("Version: 2\n\n# Terms\n")
    (tmp_path / "privacy.md").write_text("Version: 7\n\n# Privacy\n")
    user = User(username="ava", email="a@example.test", display_name="Ava", password_hash="x")
    user.terms_version, user.privacy_version = terms, privacy
    assert legal.needs_acceptance(user, legal.load(tmp_path)) is needed
