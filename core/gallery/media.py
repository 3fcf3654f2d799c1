"""Where media bytes live: the `MediaStore` protocol, this host's disk, and the factory.

Files are named by their sha256 and laid out `ab/cd/<sha256>` on disk and in a bucket alike
(`core.gallery.s3media`), so a local store copied with any tool keeps its names. Only
validated hashes ever become paths or keys.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from core.config import MediaStoreKind, Settings
from core.errors import NotFound, ValidationFailed

SHA256 = re.compile(r"^[0-9a-f]{64}$")


def checked(sha256: str) -> str:
    """`sha256` itself when it is a lower-case sha256 hex digest; ValidationFailed otherwise."""
    if not SHA256.match(sha256):
        raise ValidationFailed("Not a media reference.")
    return sha256


def key_of(sha256: str) -> str:
    """The relative name of a file: `ab/cd/<sha256>` (checked)."""
    sha = checked(sha256)
    return f"{sha[:2]}/{sha[2:4]}/{sha}"


class MediaStore(Protocol):
    """Content-addressed bytes. Every method takes a sha256 and refuses anything else
    (ValidationFailed); a backend that cannot be reached raises MediaUnavailable."""

    def put(self, sha256: str, data: bytes) -> None:
        """Store `data` under `sha256` (the caller hashed it); nothing when already there."""
        ...

    def get(self, sha256: str) -> bytes:
        """The stored bytes; NotFound if absent."""
        ...

    def has(self, sha256: str) -> bool:
        """Whether a file is stored under `sha256`."""
        ...

    def remove(self, sha256: str) -> None:
        """Delete the file (nothing when absent)."""
        ...

    def url(self, sha256: str, *, mime: str, filename: str | None = None) -> str | None:
        """A short-lived URL a browser fetches the file from directly (served as `mime`, as
        a download named `filename` when given), or None when only this process can read
        it (the page then sends the bytes)."""
        ...

    def hashes(self) -> Iterator[str]:
        """Every stored file's sha256 (names that are not one are skipped)."""
        ...


class LocalMediaStore:
    """Files under one folder of this host's disk; writes are atomic (temp file + rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        """Where the file with this hash lives (checked)."""
        return self.root / key_of(sha256)

    def put(self, sha256: str, data: bytes) -> None:
        """See `MediaStore.put`."""
        target = self.path(sha256)
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=target.parent, suffix=".part")
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temp, target)

    def get(self, sha256: str) -> bytes:
        """See `MediaStore.get`."""
        try:
            return self.path(sha256).read_bytes()
        except FileNotFoundError as exc:
            raise NotFound("That file is not in the media store.") from exc

    def has(self, sha256: str) -> bool:
        """See `MediaStore.has`."""
        return self.path(sha256).is_file()

    def remove(self, sha256: str) -> None:
        """See `MediaStore.remove`."""
        self.path(sha256).unlink(missing_ok=True)

    def url(self, sha256: str, *, mime: str, filename: str | None = None) -> str | None:
        """See `MediaStore.url`: None, a local file is sent by the page."""
        checked(sha256)
        return None

    def hashes(self) -> Iterator[str]:
        """See `MediaStore.hashes`, in name order."""
        for path in sorted(self.root.glob("??/??/*")):
            name = path.name
            if SHA256.match(name) and path.parent.parent.name == name[:2] and path.is_file():
                yield name


def open_media_store(settings: Settings) -> MediaStore:
    """The store `MEDIA_STORE` names: the local folder `MEDIA_ROOT`, or the S3 bucket."""
    if settings.media_store is MediaStoreKind.S3:
        from core.gallery import s3media  # boto3 loads only where a bucket is used

        return s3media.from_settings(settings)
    return LocalMediaStore(settings.media_root)
