"""The media store on an S3-compatible bucket (AWS S3, MinIO, R2, B2) through boto3.

Keys are `ab/cd/<sha256>` like the local layout. Browsers get presigned GET URLs (valid
`S3_PRESIGN_SECONDS`), so pictures go from the bucket, or a CDN in front of it, straight to
the browser. Transport failures and refusals become MediaUnavailable; a missing key is
NotFound.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from core.config import Settings
from core.errors import MediaUnavailable, NotFound
from core.gallery.media import SHA256, checked, key_of

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})
TIMEOUT_S = 20


def _unavailable(exc: Exception, doing: str) -> MediaUnavailable:
    """Our error for a failed S3 call, keeping the status and request id S3 sent."""
    if isinstance(exc, ClientError):
        meta = exc.response.get("ResponseMetadata", {})
        code = exc.response.get("Error", {}).get("Code", "?")
        return MediaUnavailable(
            f"The media bucket refused to {doing} ({code}).",
            status=meta.get("HTTPStatusCode"),
            request_id=meta.get("RequestId"),
        )
    return MediaUnavailable(f"The media bucket could not be reached to {doing}.")


def _is_missing(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code")) in _MISSING


class S3MediaStore:
    """Files as objects of one bucket. See `MediaStore` for what each method promises."""

    def __init__(self, client: S3Client, bucket: str, *, presign_s: int) -> None:
        self.client = client
        self.bucket = bucket
        self.presign_s = presign_s

    def put(self, sha256: str, data: bytes) -> None:
        """See `MediaStore.put`; objects are immutable, so browsers may cache them."""
        if self.has(sha256):
            return
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=key_of(sha256),
                Body=data,
                CacheControl="private, max-age=31536000, immutable",
            )
        except (BotoCoreError, ClientError) as exc:
            raise _unavailable(exc, "store a file") from exc

    def get(self, sha256: str) -> bytes:
        """See `MediaStore.get`."""
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=key_of(sha256))
            return answer["Body"].read()
        except ClientError as exc:
            if _is_missing(exc):
                raise NotFound("That file is not in the media store.") from exc
            raise _unavailable(exc, "read a file") from exc
        except BotoCoreError as exc:
            raise _unavailable(exc, "read a file") from exc

    def has(self, sha256: str) -> bool:
        """See `MediaStore.has`."""
        try:
            self.client.head_object(Bucket=self.bucket, Key=key_of(sha256))
        except ClientError as exc:
            if _is_missing(exc):
                return False
            raise _unavailable(exc, "look a file up") from exc
        except BotoCoreError as exc:
            raise _unavailable(exc, "look a file up") from exc
        return True

    def remove(self, sha256: str) -> None:
        """See `MediaStore.remove`."""
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key_of(sha256))
        except (BotoCoreError, ClientError) as exc:
            raise _unavailable(exc, "delete a file") from exc

    def url(self, sha256: str, *, mime: str, filename: str | None = None) -> str | None:
        """See `MediaStore.url`: a presigned GET valid `presign_s` seconds; signing is
        local (no request), so it never fails for a bucket that is down."""
        params = {"Bucket": self.bucket, "Key": key_of(sha256), "ResponseContentType": mime}
        if filename is not None:
            params["ResponseContentDisposition"] = f'attachment; filename="{filename}"'
        return self.client.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=self.presign_s
        )

    def hashes(self) -> Iterator[str]:
        """See `MediaStore.hashes`, in key order."""
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
        try:
            for page in pages:
                for item in page.get("Contents", []):
                    key = item.get("Key", "")
                    name = key.rsplit("/", 1)[-1]
                    if SHA256.match(name) and key == key_of(checked(name)):
                        yield name
        except (BotoCoreError, ClientError) as exc:
            raise _unavailable(exc, "list the files") from exc


def from_settings(settings: Settings) -> S3MediaStore:
    """The bucket `S3_BUCKET` at `S3_ENDPOINT_URL` (AWS without it), with the configured
    keys or boto3's own credential chain; path-style addressing for custom endpoints."""
    assert settings.s3_bucket is not None  # Settings refuses MEDIA_STORE=s3 without it
    key, secret = settings.s3_access_key_id, settings.s3_secret_access_key
    client = boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        region_name=settings.s3_region,
        aws_access_key_id=key.get_secret_value() if key else None,
        aws_secret_access_key=secret.get_secret_value() if secret else None,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path" if settings.s3_endpoint_url else "auto"},
            connect_timeout=TIMEOUT_S,
            read_timeout=TIMEOUT_S,
            retries={"mode": "standard", "max_attempts": 3},
        ),
    )
    return S3MediaStore(client, settings.s3_bucket, presign_s=settings.s3_presign_seconds)
