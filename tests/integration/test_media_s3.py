"""The S3 media backend against a real S3-protocol server on loopback: presigned URLs a
browser fetches, their expiry, deletion from the bucket, and `aikings media copy-to-s3`."""

import hashlib
import io
import time

import httpx
import pytest
from sqlmodel import select

from cli.ops import main
from core.config import get_settings
from core.db import session_scope
from core.errors import MediaUnavailable
from core.gallery import library, store
from core.gallery.media import LocalMediaStore, key_of, open_media_store
from core.gallery.s3media import S3MediaStore
from core.models import Asset
from testing.factories import make_user, png_bytes, store_png

NOW_OFFSET_S = 2.1  # past a 1-second presigned URL's expiry (X-Amz-Date has whole seconds)


@pytest.fixture
def bucket(s3_env):
    """The S3 media store on a fresh bucket (MEDIA_STORE=s3 in the settings)."""
    return open_media_store(get_settings())


def test_a_presigned_url_fetched_over_http_returns_the_bytes(bucket):
    sha = store.write(bucket, png_bytes("navy"))
    answer = httpx.get(bucket.url(sha, mime="image/png"))
    assert answer.status_code == 200
    assert hashlib.sha256(answer.content).hexdigest() == sha
    assert answer.headers["content-type"] == "image/png"
    download = httpx.get(bucket.url(sha, mime="image/png", filename="aikings-7.png"))
    assert download.headers["content-disposition"] == 'attachment; filename="aikings-7.png"'


def test_a_presigned_url_lasts_the_configured_seconds(s3_env, monkeypatch):
    monkeypatch.setenv("S3_PRESIGN_SECONDS", "600")
    get_settings.cache_clear()
    media = open_media_store(get_settings())
    sha = store.write(media, b"x")
    assert "X-Amz-Expires=600" in media.url(sha, mime="image/png")


def test_an_expired_presigned_url_is_refused(bucket):
    sha = store.write(bucket, b"short-lived")
    # Fetching the 1-second URL before it expires would race a busy machine's scheduler, so
    # the refusal is told apart from a bad signature by the server's own reason instead.
    brief = S3MediaStore(bucket.client, bucket.bucket, presign_s=1)
    url = brief.url(sha, mime="image/png")
    assert "X-Amz-Expires=1&" in url or url.endswith("X-Amz-Expires=1")
    time.sleep(NOW_OFFSET_S)
    late = httpx.get(url)
    assert late.status_code == 403
    assert b"Request has expired" in late.content


def test_the_local_store_hands_out_no_url(tmp_path):
    media = LocalMediaStore(tmp_path)
    assert media.url(store.write(media, b"x"), mime="image/png") is None


def test_deleting_a_picture_deletes_its_objects_from_the_bucket(engine, bucket, fake_clock):
    owner = make_user(engine)
    with session_scope(engine) as session:
        asset = store_png(session, media=bucket, owner_id=owner.id, title="t", now=fake_clock.now())
        files = [asset.sha256, asset.thumb_sha256]
    assert all(bucket.has(sha) for sha in files)
    with session_scope(engine) as session:
        library.delete_asset(session, owner_id=owner.id, asset_id=asset.id, media=bucket)
    assert not any(bucket.has(sha) for sha in files)
    assert list(bucket.hashes()) == []


def test_a_file_another_picture_uses_stays_in_the_bucket(engine, bucket, fake_clock):
    owner = make_user(engine)
    with session_scope(engine) as session:
        first = store_png(session, media=bucket, owner_id=owner.id, title="a", now=fake_clock.now())
        store_png(session, media=bucket, owner_id=owner.id, title="b", now=fake_clock.now())
    with session_scope(engine) as session:
        library.delete_asset(session, owner_id=owner.id, asset_id=first.id, media=bucket)
        left = session.exec(select(Asset)).one()
    assert bucket.has(left.sha256) and bucket.has(left.thumb_sha256)


def _local_files(count):
    local = LocalMediaStore(get_settings().media_root)
    return local, [store.write(local, png_bytes((n, 10, 20))) for n in range(count)]


def _copy(*extra):
    out = io.StringIO()
    return main(["media", "copy-to-s3", *extra], stdout=out), out.getvalue()


def test_copy_to_s3_copies_every_file_and_verifies_it(bucket):
    _local, hashes = _local_files(3)
    status, text = _copy()
    assert status == 0
    assert "copied 3, already there 0" in text
    assert sorted(bucket.hashes()) == sorted(hashes)
    assert all(hashlib.sha256(bucket.get(sha)).hexdigest() == sha for sha in hashes)


def test_copy_to_s3_is_idempotent_and_resumes_where_it_stopped(bucket):
    local, hashes = _local_files(3)
    bucket.put(hashes[0], local.get(hashes[0]))  # an earlier run stopped after one file
    status, text = _copy()
    assert status == 0 and "copied 2, already there 1" in text
    status, text = _copy()
    assert status == 0 and "copied 0, already there 3" in text


def test_a_corrupted_object_in_the_bucket_is_reported_and_repaired_on_request(bucket):
    _local, hashes = _local_files(2)
    assert _copy()[0] == 0
    bucket.client.put_object(Bucket=bucket.bucket, Key=key_of(hashes[1]), Body=b"bit rot")
    status, text = _copy()
    assert status == 1
    assert f"MISMATCH target {hashes[1]}" in text and "bad target 1" in text
    status, text = _copy("--repair")
    assert status == 0 and "repaired 1" in text
    assert hashlib.sha256(bucket.get(hashes[1])).hexdigest() == hashes[1]


def test_a_corrupted_local_file_is_reported_and_not_copied(bucket):
    local, hashes = _local_files(2)
    local.path(hashes[0]).write_bytes(b"not what it was")
    status, text = _copy()
    assert status == 1
    assert f"MISMATCH source {hashes[0]}" in text
    assert not bucket.has(hashes[0]) and bucket.has(hashes[1])


def test_copy_to_s3_without_a_bucket_is_refused_with_a_message(capsys):
    status, _text = _copy()
    assert status == 2
    assert "S3_BUCKET" in capsys.readouterr().err


def test_an_unreachable_bucket_is_a_clear_error(s3_env, monkeypatch):
    monkeypatch.setenv("S3_ENDPOINT_URL", "http://127.0.0.1:9")
    get_settings.cache_clear()
    media = open_media_store(get_settings())
    with pytest.raises(MediaUnavailable, match="could not be reached"):
        media.has("a" * 64)
