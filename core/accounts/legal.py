"""The terms of service and privacy notice in force, and which version each user accepted.

The texts are the editable files `data/legal/terms.md` and `data/legal/privacy.md`; the first
line of each is `Version: <version>`. Changing a version asks every user to accept the new
text at their next sign-in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlmodel import Session

from core import audit
from core.config import REPO_ROOT
from core.errors import ConfigError, NotFound
from core.models import User

LEGAL_DIR = REPO_ROOT / "data" / "legal"
_VERSION_PREFIX = "Version:"


@dataclass(frozen=True)
class Document:
    """One legal text: its version and its Markdown body."""

    version: str
    body: str


@dataclass(frozen=True)
class LegalTexts:
    """The terms of service and the privacy notice in force."""

    terms: Document
    privacy: Document


def load(folder: Path = LEGAL_DIR) -> LegalTexts:
    """Read both texts; ConfigError naming the file if one is missing or has no version."""
    return LegalTexts(
        terms=_document(folder / "terms.md"), privacy=_document(folder / "privacy.md")
    )


def _document(path: Path) -> Document:
    try:
        first, _, body = path.read_text(encoding="utf-8").partition("\n")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    version = first.removeprefix(_VERSION_PREFIX).strip()
    if not first.startswith(_VERSION_PREFIX) or not version or len(version) > 32:
        raise ConfigError(f"{path}: the first line must be 'Version: <up to 32 characters>'")
    return Document(version=version, body=body.strip())


def needs_acceptance(user: User, texts: LegalTexts) -> bool:
    """Whether the user has yet to accept the texts in force (never, or an older version)."""
    return (user.terms_version, user.privacy_version) != (
        texts.terms.version,
        texts.privacy.version,
    )


def record_acceptance(
    session: Session, *, user: User, texts: LegalTexts, now: datetime, ip: str | None = None
) -> None:
    """Note that `user` accepted these versions (audited); joins the caller's unit of work."""
    user.terms_version = texts.terms.version
    user.privacy_version = texts.privacy.version
    user.legal_accepted_at = now
    session.add(user)
    audit.by_user(
        session,
        user.username,
        "legal.accepted",
        f"user:{user.id}",
        at=now,
        details={"terms": texts.terms.version, "privacy": texts.privacy.version},
        ip=ip,
    )


def accept(
    session: Session, *, user_id: int, texts: LegalTexts, now: datetime, ip: str | None = None
) -> User:
    """A signed-in user accepts the texts in force (after they changed)."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    record_acceptance(session, user=user, texts=texts, now=now, ip=ip)
    return user
