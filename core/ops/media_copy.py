"""Copy a media store into another (the local disk into a bucket) and verify every hash.

Idempotent and resumable: a file already in the target is not sent again, only read back
and checked, so an interrupted copy is simply run again. Every file is hashed on both
sides; a file whose bytes do not match its name is reported, never copied or trusted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from core.errors import NotFound
from core.gallery.media import MediaStore


@dataclass
class CopyReport:
    """What a copy did: counts, and the hashes that failed verification."""

    copied: int = 0
    already_there: int = 0
    repaired: int = 0
    bad_source: list[str] = field(default_factory=list)
    """Local files whose bytes do not hash to their name (not copied)."""
    bad_target: list[str] = field(default_factory=list)
    """Objects in the target whose bytes do not hash to their name (or vanished)."""

    @property
    def ok(self) -> bool:
        """True when every file was verified on both sides."""
        return not self.bad_source and not self.bad_target

    def summary(self) -> str:
        """One line of counts, then one line per failed hash."""
        lines = [
            f"copied {self.copied}, already there {self.already_there}, repaired "
            f"{self.repaired}, bad source {len(self.bad_source)}, bad target "
            f"{len(self.bad_target)}"
        ]
        lines += [f"MISMATCH source {sha}" for sha in self.bad_source]
        lines += [f"MISMATCH target {sha}" for sha in self.bad_target]
        return "\n".join(lines) + "\n"


def _matches(sha256: str, data: bytes) -> bool:
    return hashlib.sha256(data).hexdigest() == sha256


def _target_matches(target: MediaStore, sha256: str) -> bool:
    try:
        return _matches(sha256, target.get(sha256))
    except NotFound:
        return False


def copy_store(
    source: MediaStore,
    target: MediaStore,
    *,
    repair: bool = False,
    progress: Callable[[int], None] | None = None,
) -> CopyReport:
    """Copy every file of `source` missing from `target`, then read each back from
    `target` and check its sha256. With `repair`, a target object that fails the check is
    replaced by the verified source bytes (and checked again); without, it is reported.
    `progress` is called with the number of files handled so far."""
    report = CopyReport()
    for handled, sha in enumerate(source.hashes(), start=1):
        data = source.get(sha)
        if not _matches(sha, data):
            report.bad_source.append(sha)
        elif not target.has(sha):
            target.put(sha, data)
            report.copied += 1
            if not _target_matches(target, sha):
                report.bad_target.append(sha)
        elif _target_matches(target, sha):
            report.already_there += 1
        elif repair:
            target.remove(sha)  # put() skips a key that exists: remove the bad one first
            target.put(sha, data)
            if _target_matches(target, sha):
                report.repaired += 1
            else:
                report.bad_target.append(sha)
        else:
            report.bad_target.append(sha)
        if progress is not None:
            progress(handled)
    return report
