"""New-password rules: long enough, and hard to guess by zxcvbn's estimate."""

import pytest

from core.accounts.passwords import check_new_password, hash_password, verify_password
from core.errors import ValidationFailed


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "at least 12"),
        ("x" * 257, "at most 256"),
        ("aaaaaaaaaaaa", "Repeats"),
        ("password1234", "very common"),
        ("qwertyuiop12", "too easy"),
        ("123456789012", "too easy"),
        ("ava@example.test", "too easy"),  # the account's own email
        ("avaava123456", "too easy"),  # its name, repeated
        ("aikings12345", "too easy"),  # the studio's name
        ("   aaaaaaaaaaaa   ", "Repeats"),  # surrounding spaces do not count
    ],
)
def test_weak_new_passwords_are_refused_with_a_reason(password, message):
    with pytest.raises(ValidationFailed, match=message):
        check_new_password(password, username="ava", email="ava@example.test")


@pytest.mark.parametrize(
    "password",
    ["correct horse battery", "velvet lantern orbit", "Tr0ub4dor&3xyz", "é" * 30 + " lantern"],
)
def test_strong_passwords_are_accepted_and_verify(password):
    check_new_password(password, username="ava", email="ava@example.test")
    assert verify_password(hash_password(password), password)


def test_a_long_password_is_judged_by_its_checked_prefix_without_failing():
    check_new_password("velvet lantern orbit " * 12, username="ava", email="ava@example.test")
