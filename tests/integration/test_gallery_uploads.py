"""Uploads into one's own gallery: pictures and MP4s pass the reference checks (type, size,
decoded size, consent, taken-down copies), lose their metadata, are screened (an MP4 on
sampled frames, thumbnailed by its poster frame), and stay private until reviewed; a refusal
stores nothing."""

import hashlib
import io
import struct
import zlib
from datetime import UTC, datetime

import av
import pytest
from PIL import Image
from sqlmodel import select

from core.db import read_scope, session_scope
from core.errors import PolicyRefusal, ValidationFailed
from core.gallery import listing, store, uploads
from core.models import Asset, AuditEntry, BlockedHash, MediaKind, Screening, Visibility
from core.safety import PendingReviewScreener, ScreeningResult
from core.safety.outputs import sample_frames
from testing.factories import make_user, mp4_bytes, png_bytes

NOW = datetime(2026, 12, 3, 9, tzinfo=UTC)
MB = 1024 * 1024


class Judging:
    """A detector stub at the edge: every picture gets `verdict` (no explicit image ships)."""

    def __init__(self, verdict: str) -> None:
        self.verdict = verdict
        self.seen: list[str] = []

    def screen(self, data: bytes, mime: str, *, image=None) -> ScreeningResult:
        self.seen.append(mime)
        return ScreeningResult(self.verdict, f"stub says {self.verdict}", {"X": 0.9}, "stub")


def upload(engine, owner, data, tmp_path, *, consent=True, screener=None, **limits):
    with session_scope(engine) as session:
        asset = uploads.upload_to_gallery(
            session,
            owner_id=owner.id,
            data=data,
            title="My upload",
            consent_given=consent,
            screener=screener or Judging("passed"),
            media=tmp_path / "media",
            max_image_bytes=limits.get("max_image_bytes", 5 * MB),
            max_video_bytes=limits.get("max_video_bytes", 5 * MB),
            max_pixels=limits.get("max_pixels", 4_000_000),
            now=NOW,
        )
        return asset.id


def stored_assets(engine):
    with read_scope(engine) as session:
        return session.exec(select(Asset)).all()


def jpeg_with_gps() -> bytes:
    exif = Image.Exif()
    exif[0x010E] = "secret description"  # ImageDescription
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 0.0)}  # GPS latitude
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 120, 40)).save(out, format="JPEG", exif=exif)
    return out.getvalue()


def test_an_uploaded_picture_is_private_pending_stripped_and_in_mine(engine, tmp_path):
    owner = make_user(engine)
    screener = Judging("passed")
    asset_id = upload(engine, owner, jpeg_with_gps(), tmp_path, screener=screener)
    assert screener.seen == ["image/png"]
    with read_scope(engine) as session:
        asset = session.get(Asset, asset_id)
        mine = listing.list_assets(session, viewer_id=owner.id, scope="mine").items
        public = listing.list_assets(session, viewer_id=None, scope="public").items
        audited = session.exec(select(AuditEntry.action)).all()
    assert (asset.visibility, asset.screening, asset.job_id) == (
        Visibility.PRIVATE,
        Screening.PENDING,  # the detector passed it; a moderator still reviews before public
        None,
    )
    assert (asset.mime, asset.width, asset.height, asset.title) == (
        "image/png",
        40,
        30,
        "My upload",
    )
    data = store.read(tmp_path / "media", asset.sha256)
    kept = Image.open(io.BytesIO(data))
    assert not kept.getexif() and not getattr(kept, "text", {})
    assert b"secret description" not in data
    assert asset.thumb_sha256 is not None
    assert [a.id for a in mine] == [asset_id] and public == []
    assert "gallery.upload" in audited


@pytest.mark.parametrize(
    "data, message",
    [
        (b"GIF89a" + bytes(100), "not a PNG, JPEG or WebP"),
        (b"plain text, not a picture", "not a PNG, JPEG or WebP"),
        (b"", "empty"),
        (png_bytes(size=24)[:-40], "damaged"),
    ],
)
def test_an_upload_of_another_type_is_refused_and_nothing_is_stored(
    engine, tmp_path, data, message
):
    owner = make_user(engine)
    with pytest.raises(ValidationFailed, match=message):
        upload(engine, owner, data, tmp_path)
    assert stored_assets(engine) == []


def test_an_upload_over_the_size_limit_is_refused(engine, tmp_path):
    owner = make_user(engine)
    with pytest.raises(ValidationFailed, match="larger than 1 MB"):
        upload(engine, owner, png_bytes() + bytes(2 * MB), tmp_path, max_image_bytes=1 * MB)
    with pytest.raises(ValidationFailed, match="larger than 1 MB"):
        upload(engine, owner, mp4_bytes() + bytes(2 * MB), tmp_path, max_video_bytes=1 * MB)
    assert stored_assets(engine) == []


def bomb_png(side: int) -> bytes:
    """A tiny PNG declaring `side` x `side` pixels (its header rewritten, CRC fixed)."""
    data = bytearray(png_bytes(size=8))
    ihdr = struct.pack(">II", side, side) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return bytes(data)


def test_a_decompression_bomb_is_refused_before_decoding(engine, tmp_path):
    owner = make_user(engine)
    with pytest.raises(ValidationFailed, match="pixels"):
        upload(engine, owner, bomb_png(30_000), tmp_path)
    with pytest.raises(ValidationFailed, match="pixels"):  # an MP4 frame over the cap
        upload(engine, owner, mp4_bytes(width=320, height=240), tmp_path, max_pixels=320 * 239)
    assert stored_assets(engine) == []


def test_an_explicit_picture_is_refused_in_the_non_explicit_gallery(engine, tmp_path):
    owner = make_user(engine)
    with pytest.raises(PolicyRefusal, match="explicit") as refused:
        upload(engine, owner, png_bytes("navy"), tmp_path, screener=Judging("flagged"))
    assert refused.value.rule == "upload_explicit"
    assert stored_assets(engine) == []
    assert not (tmp_path / "media").exists()  # nothing written to the media store either


def test_an_upload_without_the_consent_statement_is_refused(engine, tmp_path):
    owner = make_user(engine)
    with pytest.raises(PolicyRefusal, match="statement"):
        upload(engine, owner, png_bytes(), tmp_path, consent=False)
    assert stored_assets(engine) == []


def test_a_copy_of_a_taken_down_picture_is_refused(engine, tmp_path):
    owner = make_user(engine)
    data = png_bytes("olive")
    asset_id = upload(engine, owner, data, tmp_path)
    with session_scope(engine) as session:
        sha = session.get(Asset, asset_id).sha256
        session.add(BlockedHash(sha256=sha, reason="test takedown", created_at=NOW))
    with pytest.raises(ValidationFailed, match="taken down"):
        upload(engine, owner, data, tmp_path)
    video = mp4_bytes()
    with session_scope(engine) as session:
        session.add(
            BlockedHash(sha256=hashlib.sha256(video).hexdigest(), reason="t", created_at=NOW)
        )
    with pytest.raises(ValidationFailed, match="taken down"):
        upload(engine, owner, video, tmp_path)


class CountingFrames:
    """A detector stub at the edge that counts the frames it is shown (as the job path's)."""

    def __init__(self, verdict: str = "passed") -> None:
        self.verdict = verdict
        self.seen: list[tuple[str, int]] = []

    def screen(self, data: bytes, mime: str, *, image=None) -> ScreeningResult:
        self.seen.append((mime, len(sample_frames(data, image=image))))
        return ScreeningResult(self.verdict, f"stub says {self.verdict}", {"X": 0.9}, "stub")


def test_an_uploaded_mp4_is_screened_loses_its_metadata_and_waits_for_a_moderator(engine, tmp_path):
    owner = make_user(engine)
    screener = CountingFrames()
    original = mp4_bytes(width=640, height=360, title="taken at 51.5N 0.1W", frames=20)
    asset_id = upload(engine, owner, original, tmp_path, screener=screener)
    assert screener.seen == [("video/mp4", 8)]  # eight frames spread over the clip
    with read_scope(engine) as session:
        asset = session.get(Asset, asset_id)
    assert (asset.kind, asset.mime, asset.width, asset.height) == (
        MediaKind.VIDEO,
        "video/mp4",
        640,
        360,
    )
    assert (asset.visibility, asset.screening, asset.hidden) == (
        Visibility.PRIVATE,
        Screening.PENDING,
        False,
    )
    data = store.read(tmp_path / "media", asset.sha256)
    assert b"51.5N" in original and b"51.5N" not in data
    with av.open(io.BytesIO(data)) as clip:  # still the same clip: every frame, the sound
        assert (clip.streams.video[0].frames, len(clip.streams.audio)) == (20, 1)
        assert "title" not in clip.metadata
    poster = Image.open(io.BytesIO(store.read(tmp_path / "media", asset.thumb_sha256)))
    assert (poster.format, poster.size) == ("WEBP", (384, 216))  # the first frame, not a mark
    assert poster.convert("RGB").getpixel((300, 100)) == pytest.approx((0, 128, 128), abs=12)


def test_an_explicit_mp4_is_refused_and_nothing_is_stored(engine, tmp_path):
    owner = make_user(engine)
    with pytest.raises(PolicyRefusal, match="video looks explicit") as refused:
        upload(engine, owner, mp4_bytes(), tmp_path, screener=CountingFrames("flagged"))
    assert refused.value.rule == "upload_explicit"
    assert stored_assets(engine) == []
    assert not (tmp_path / "media").exists()


@pytest.mark.parametrize(
    "data",
    [
        mp4_bytes()[:-200],  # its moov (written last) cut short
        b"\x00\x00\x00\x10ftypisom\x00\x00\x00\x00",  # ftyp alone: no moov, no mdat
        mp4_bytes(frames=0),  # no video track, only sound
        # its video codec's tag garbled: before, PyAV's ValueError ("template stream of type
        # video has no codec context") escaped the remux as an unexpected error
        mp4_bytes().replace(b"avc1", b"zzzz"),
    ],
)
def test_a_damaged_mp4_is_refused(engine, tmp_path, data):
    owner = make_user(engine)
    with pytest.raises(ValidationFailed):
        upload(engine, owner, data, tmp_path, screener=PendingReviewScreener())
    assert stored_assets(engine) == []


def _exif_tiff(orientation_entry: bytes) -> bytes:
    """EXIF of one IFD holding the raw Orientation entry (tag 0x0112) `orientation_entry`."""
    return b"Exif\x00\x00II*\x00" + struct.pack("<IH", 8, 1) + orientation_entry + bytes(4)


def unreadable_exif_pictures() -> dict[str, bytes]:
    """Pictures a phone or an editor can write whose EXIF orientation cannot be read: an
    ASCII Orientation, a NaN one, and a PNG whose eXIf chunk is not TIFF at all."""
    pictures = {}
    entries = {
        "jpeg ascii orientation": struct.pack("<HHI", 0x0112, 2, 4) + b"abc\x00",
        "jpeg nan orientation": struct.pack("<HHI", 0x0112, 11, 1)
        + struct.pack("<f", float("nan")),
    }
    for name, entry in entries.items():
        out = io.BytesIO()
        Image.new("RGB", (40, 30), (200, 120, 40)).save(out, format="JPEG", exif=_exif_tiff(entry))
        pictures[name] = out.getvalue()
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 120, 40)).save(out, format="PNG", exif=b"\xff" * 40)
    pictures["png garbage exif"] = out.getvalue()
    return pictures


@pytest.mark.parametrize("name", sorted(unreadable_exif_pictures()))
def test_a_picture_whose_exif_orientation_is_unreadable_is_stored_as_its_pixels_stand(
    engine, tmp_path, name
):
    """Before: the upload stopped with an unexpected error (ValueError/SyntaxError from
    reading the orientation), shown as "Something went wrong" with an error id."""
    owner = make_user(engine)
    asset_id = upload(engine, owner, unreadable_exif_pictures()[name], tmp_path)
    with read_scope(engine) as session:
        asset = session.get(Asset, asset_id)
    assert (asset.width, asset.height) == (40, 30)
    kept = Image.open(io.BytesIO(store.read(tmp_path / "media", asset.sha256)))
    assert kept.size == (40, 30) and not kept.getexif()


def test_a_rotated_picture_with_a_mistyped_exif_tag_is_stored_upright(engine, tmp_path):
    """Before: Pillow's exif_transpose wrote the EXIF back after rotating, and a tag of the
    wrong type for its number (Predictor as text, one flipped byte in a camera's file) made
    that raise struct.error: an unexpected error instead of the upright picture."""
    entries = struct.pack("<HHIHH", 0x0112, 3, 1, 6, 0) + struct.pack("<HHI", 0x013D, 2, 4)
    exif = b"Exif\x00\x00II*\x00" + struct.pack("<IH", 8, 2) + entries + b"abc\x00" + bytes(4)
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 120, 40)).save(out, format="JPEG", exif=exif)
    owner = make_user(engine)
    asset_id = upload(engine, owner, out.getvalue(), tmp_path)
    with read_scope(engine) as session:
        asset = session.get(Asset, asset_id)
    assert (asset.width, asset.height) == (30, 40)
    kept = Image.open(io.BytesIO(store.read(tmp_path / "media", asset.sha256)))
    assert kept.size == (30, 40) and not kept.getexif()
