"""Password hashing (argon2id, OWASP parameters) and the rules a new password must meet.

bcrypt refuses passwords over 72 bytes (SECURITY.md decision 7); argon2id takes any length.
Surrounding whitespace is ignored on every path: the streamlit-authenticator change-password
widget trims what it passes on, so the rule has to be the same everywhere or a password set
there would not match the one typed at sign-in.

Strength is zxcvbn's estimate (common passwords, names, keyboard walks, repeats, dates,
l33t substitutions, the user's own name and email), not a character-class rule: twelve
"a"s are long enough and still guessed at once.
"""

from __future__ import annotations

import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

from core.accounts.inputs import has_control_characters
from core.errors import ValidationFailed

MIN_LENGTH = 12
MAX_LENGTH = 256
MIN_STRENGTH = 3
"""zxcvbn's score 0-4; 3 is "safely unguessable" for an online attack and slow offline hashes."""
STRENGTH_CHECKED_CHARS = 72
"""zxcvbn's own input cap (its matching grows fast with length); the rest only adds strength."""
# zxcvbn keeps the user inputs of a call in a module-global dictionary: one call at a time.
_strength_lock = threading.Lock()

_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
DUMMY_HASH = _hasher.hash("not a real password, used to equalise timing")


def hash_password(password: str) -> str:
    """An argon2id hash of `password` (surrounding whitespace ignored)."""
    return _hasher.hash(password.strip())


def verify_password(password_hash: str, password: str) -> bool:
    """Whether `password` matches; False (never an exception) for a malformed hash."""
    try:
        return _hasher.verify(password_hash, password.strip())
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash uses older parameters and should be replaced at the next login."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def check_new_password(password: str, *, username: str, email: str) -> None:
    """Refuse a weak new password with a message fit to show."""
    password = password.strip()
    if len(password) < MIN_LENGTH:
        raise ValidationFailed(f"Use at least {MIN_LENGTH} characters for your password.")
    if len(password) > MAX_LENGTH:
        raise ValidationFailed(f"Use at most {MAX_LENGTH} characters for your password.")
    if has_control_characters(password):
        raise ValidationFailed("Passwords cannot contain control characters (tab, NUL...).")
    personal = [username, email, email.partition("@")[0], "aikings", "ai kings"]
    with _strength_lock:
        estimate = zxcvbn(password[:STRENGTH_CHECKED_CHARS], user_inputs=personal)
    if estimate["score"] < MIN_STRENGTH:
        warning = estimate["feedback"]["warning"]
        advice = " ".join(filter(None, [warning, *estimate["feedback"]["suggestions"][:1]]))
        raise ValidationFailed(
            "That password is too easy to guess; choose another."
            + (f" {advice}" if advice else " A few uncommon words together work well.")
        )
