"""Takedowns: anyone files a request, the picture hides at once, the 48-hour clock runs, and
removal blocks copies: the same bytes, their re-encoding, and perceptual look-alikes."""

from __future__ import annotations

import io
import itertools
from datetime import timedelta

import pytest
from PIL import Image
from sqlmodel import select

from core.config import REPO_ROOT
from core.db import read_scope, session_scope
from core.errors import NotFound, ValidationFailed
from core.gallery import fingerprints, moderation, sharing, store, takedown
from core.gallery.sharing import ShareSigner
from core.models import (
    Asset,
    AuditEntry,
    BlockedHash,
    Role,
    Screening,
    TakedownStatus,
    Visibility,
)
from core.muses import service
from testing.factories import file_takedown, make_user, store_output
from testing.statements import flat, statements_sent

IMAGES = REPO_ROOT / "tests" / "fixtures" / "safety" / "images"
PICTURES = sorted(IMAGES.glob("*.png"))
SIGNER = ShareSigner.from_secret("a-test-signing-key")
LIMITS = {"max_bytes": 5_000_000, "max_pixels": 5_000_000}


def encoded(path, fmt, *, scale=1.0, **options):
    image = Image.open(path).convert("RGB")
    if scale != 1.0:
        image = image.resize((int(image.width * scale), int(image.height * scale)))
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


COPIES = {
    "jpeg q70": lambda p: encoded(p, "JPEG", quality=70),
    "jpeg q30": lambda p: encoded(p, "JPEG", quality=30),
    "webp": lambda p: encoded(p, "WEBP", quality=60),
    "half size": lambda p: encoded(p, "PNG", scale=0.5),
}


def phash_of(data):
    return fingerprints.perceptual_hash(Image.open(io.BytesIO(data)))


@pytest.mark.parametrize(("path", "copy"), list(itertools.product(PICTURES, COPIES)))
def test_re_encoded_or_resized_copies_stay_within_the_distance(path, copy):
    original, copied = phash_of(path.read_bytes()), phash_of(COPIES[copy](path))
    assert fingerprints.distance(original, copied) <= fingerprints.PHASH_MAX_DISTANCE


def test_unrelated_pictures_are_further_apart_than_the_distance():
    hashes = [phash_of(path.read_bytes()) for path in PICTURES]
    for a, b in itertools.combinations(hashes, 2):
        assert fingerprints.distance(a, b) > fingerprints.PHASH_MAX_DISTANCE


def test_flat_pictures_get_no_perceptual_hash():
    out = io.BytesIO()
    Image.new("RGB", (64, 64), "teal").save(out, format="PNG")
    assert phash_of(out.getvalue()) is None


def stored(engine, media, owner, data, *, mime="image/png", public=True):
    with session_scope(engine) as session:
        asset = store_output(
            session,
            media=media,
            owner_id=owner.id,
            data=data,
            title="a picture",
            now=owner.created_at,
            mime=mime,
        )
        if public:
            asset.visibility, asset.screening = Visibility.PUBLIC, Screening.PASSED
        session.add(asset)
    return asset


def take_down_by_report(engine, media, asset, admin):
    with session_scope(engine) as session:
        report = moderation.report_asset(
            session,
            asset_id=asset.id,
            reporter_id=None,
            reason="non-consensual or real person",
            details="",
            now=admin.created_at,
        )
        moderation.resolve_report(
            session,
            report_id=report.id,
            moderator_id=admin.id,
            action="takedown",
            now=admin.created_at,
            media=media,
        )


def upload_reference(engine, media, owner, data):
    with session_scope(engine) as session:
        return service.attach_reference(
            session,
            owner_id=owner.id,
            muse_id=None,
            data=data,
            consent_given=True,
            media=media,
            now=owner.created_at,
            **LIMITS,
        )


def test_a_taken_down_picture_is_refused_as_bytes_re_encoded_or_resized(engine, tmp_path):
    owner, other, admin = make_user(engine), make_user(engine), make_user(engine, role=Role.ADMIN)
    path = IMAGES / "landscape_hills.png"
    asset = stored(engine, tmp_path, owner, path.read_bytes())
    take_down_by_report(engine, tmp_path, asset, admin)
    with read_scope(engine) as session:
        blocked = session.exec(select(BlockedHash)).all()
    assert len(blocked) == 2 and all(row.phash for row in blocked)  # stored + canonical
    exact = store.read(tmp_path, asset.sha256)
    for data in [exact, path.read_bytes(), *(make(path) for make in COPIES.values())]:
        with pytest.raises(ValidationFailed, match="taken down"):
            upload_reference(engine, tmp_path, other, data)
    with pytest.raises(ValidationFailed, match="taken down"):  # a new output of it, too
        stored(engine, tmp_path, other, COPIES["jpeg q70"](path), mime="image/jpeg")
    assert upload_reference(engine, tmp_path, other, (IMAGES / "city_night.png").read_bytes())


def test_anyone_files_a_request_and_the_picture_hides_at_once(engine, tmp_path, fake_clock):
    owner = make_user(engine)
    asset = stored(engine, tmp_path, owner, (IMAGES / "abstract_shapes.png").read_bytes())
    with session_scope(engine) as session:
        token = sharing.create_share_link(
            session, owner_id=owner.id, asset_id=asset.id, signer=SIGNER, now=fake_clock.now()
        )
        request = file_takedown(
            session,
            location=f"https://studio.example/share?token={token}",
            description="This is me; I never agreed to it.",
            signer=SIGNER,
            now=fake_clock.now(),
        )
    with read_scope(engine) as session:
        hidden = session.get(Asset, asset.id).hidden
        entry = session.exec(select(AuditEntry)).all()[-1]
        (queued,) = takedown.open_requests(session)
    assert hidden and queued.id == request.id and queued.asset_id == asset.id
    assert queued.due_at - queued.created_at == timedelta(hours=48)
    assert (entry.action, entry.actor, entry.details) == (
        "takedown.filed",
        "anonymous",
        {"request": request.id},
    )
    assert "person@example.test" not in str(entry.details)  # no personal data in the log
    fake_clock.advance(timedelta(hours=16, minutes=48).total_seconds())
    assert takedown.clock_label(queued, fake_clock.now()) == "31 h 12 min left"
    fake_clock.advance(timedelta(hours=33, minutes=17).total_seconds())
    assert takedown.clock_label(queued, fake_clock.now()) == "overdue by 2 h 5 min"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"location": " "}, "where the picture is"),
        ({"signature": ""}, "signature"),
        ({"requester_email": "not an address"}, "email"),
        ({"relationship": "fan"}, "person shown"),
        ({"good_faith": False}, "without consent"),
    ],
)
def test_an_incomplete_request_gets_a_clear_message(engine, fake_clock, change, message):
    fields = {
        "location": "#12",
        "description": "",
        "requester_name": "A. Person",
        "requester_email": "person@example.test",
        "relationship": "representative",
        "signature": "A. Person",
        "good_faith": True,
    } | change
    with session_scope(engine) as session, pytest.raises(ValidationFailed, match=message):
        takedown.file_request(session, signer=SIGNER, now=fake_clock.now(), **fields)


def file_for(engine, asset_number, clock):
    with session_scope(engine) as session:
        location = f"asset #{asset_number}" if asset_number else "somewhere on your site"
        return file_takedown(session, location=location, signer=SIGNER, now=clock.now())


def resolve(engine, request, moderator, clock, media, *, remove, asset_id=None):
    with session_scope(engine) as session:
        takedown.resolve_request(
            session,
            request_id=request.id,
            moderator_id=moderator.id,
            remove=remove,
            note="",
            media=media,
            now=clock.now(),
            asset_id=asset_id,
        )


def test_removal_blocks_copies_and_hides_identical_ones_elsewhere(engine, tmp_path, fake_clock):
    owner, other, admin = make_user(engine), make_user(engine), make_user(engine, role=Role.ADMIN)
    data = (IMAGES / "landscape_dusk.png").read_bytes()
    asset, copy = stored(engine, tmp_path, owner, data), stored(engine, tmp_path, other, data)
    request = file_for(engine, None, fake_clock)  # no picture named: the moderator finds it
    with pytest.raises(ValidationFailed):  # administrators only
        resolve(engine, request, owner, fake_clock, tmp_path, remove=True, asset_id=asset.id)
    fake_clock.advance(3 * 3600)
    resolve(engine, request, admin, fake_clock, tmp_path, remove=True, asset_id=asset.id)
    with read_scope(engine) as session:
        rows = [session.get(Asset, a.id) for a in (asset, copy)]
        done = session.get(type(request), request.id)
        entry = session.exec(select(AuditEntry)).all()[-1]
        assert takedown.open_requests(session) == []
    assert all(row.hidden and row.visibility is Visibility.PRIVATE for row in rows)
    assert (done.status, done.asset_id) == (TakedownStatus.REMOVED, asset.id)
    assert (entry.action, entry.details) == (
        "takedown.removed",
        {"request": request.id, "on_time": True},
    )
    with pytest.raises(ValidationFailed, match="taken down"):
        upload_reference(engine, tmp_path, other, COPIES["webp"](IMAGES / "landscape_dusk.png"))
    with pytest.raises(NotFound):  # resolved once, not twice
        resolve(engine, request, admin, fake_clock, tmp_path, remove=False)


def test_a_rejected_request_shows_the_picture_again(engine, tmp_path, fake_clock):
    owner, admin = make_user(engine), make_user(engine, role=Role.ADMIN)
    asset = stored(engine, tmp_path, owner, (IMAGES / "city_night.png").read_bytes())
    request = file_for(engine, asset.id, fake_clock)
    with read_scope(engine) as session:
        assert session.get(Asset, asset.id).hidden
    resolve(engine, request, admin, fake_clock, tmp_path, remove=False)
    with read_scope(engine) as session:
        assert not session.get(Asset, asset.id).hidden
        assert session.exec(select(BlockedHash)).all() == []


def same_pixels_other_bytes(data):
    out = io.BytesIO()
    Image.open(io.BytesIO(data)).save(out, format="PNG", compress_level=1)
    assert out.getvalue() != data
    return out.getvalue()


def no_re_encoding(*_args):
    raise AssertionError("the canonical re-encoding was made though the perceptual hash decides")


def test_an_output_with_a_taken_down_pictures_pixels_is_refused_without_re_encoding(
    engine, tmp_path, monkeypatch
):
    owner, other, admin = make_user(engine), make_user(engine), make_user(engine, role=Role.ADMIN)
    data = (IMAGES / "landscape_hills.png").read_bytes()
    take_down_by_report(engine, tmp_path, stored(engine, tmp_path, owner, data), admin)
    monkeypatch.setattr(fingerprints, "canonical_png", no_re_encoding)
    with pytest.raises(ValidationFailed, match="taken down"):
        stored(engine, tmp_path, other, same_pixels_other_bytes(data))
    assert stored(engine, tmp_path, other, (IMAGES / "city_night.png").read_bytes()).id


def test_a_block_by_bytes_alone_still_refuses_an_output_of_the_same_pixels(engine, tmp_path):
    """A row with no perceptual hash (a report taken down where no file could be read): the
    output's canonical re-encoding is still compared with it."""
    owner, other = make_user(engine), make_user(engine)
    data = (IMAGES / "landscape_dusk.png").read_bytes()
    upload = upload_reference(engine, tmp_path, owner, data)  # stored canonically
    with session_scope(engine) as session:
        session.add(
            BlockedHash(sha256=upload.sha256, reason="by bytes", created_at=owner.created_at)
        )
    with pytest.raises(ValidationFailed, match="taken down"):
        stored(engine, tmp_path, other, data)


def test_a_taken_down_flat_picture_is_refused_by_its_canonical_re_encoding(engine, tmp_path):
    owner, other, admin = make_user(engine), make_user(engine), make_user(engine, role=Role.ADMIN)
    out = io.BytesIO()
    Image.new("RGB", (64, 64), "teal").save(out, format="PNG")
    take_down_by_report(engine, tmp_path, stored(engine, tmp_path, owner, out.getvalue()), admin)
    with read_scope(engine) as session:
        assert all(row.phash is None for row in session.exec(select(BlockedHash)))
    with pytest.raises(ValidationFailed, match="taken down"):
        stored(engine, tmp_path, other, same_pixels_other_bytes(out.getvalue()))


def test_a_flat_output_is_not_re_encoded_while_nothing_is_blocked(engine, tmp_path, monkeypatch):
    """A flat picture has no perceptual hash; with no blocked row at all there is nothing its
    canonical re-encoding (1.5 s of CPU at 1024²) could match, so none is made."""
    out = io.BytesIO()
    Image.new("RGB", (64, 64), "teal").save(out, format="PNG")
    monkeypatch.setattr(fingerprints, "canonical_png", no_re_encoding)
    assert stored(engine, tmp_path, make_user(engine), out.getvalue()).id


def _flipped(phash: str, bits_per_band: tuple[int, int, int, int]) -> str:
    """`phash` with the lowest `n` bits of each 16-bit band flipped (most significant first)."""
    value = int(phash, 16)
    for band, bits in enumerate(bits_per_band):
        value ^= ((1 << bits) - 1) << (16 * (3 - band))
    return f"{value:016x}"


BLOCKED_PHASH = "9f3a61c2d4e87b05"


@pytest.mark.parametrize(
    ("spread", "blocked"),
    [
        ((0, 0, 0, 0), True),
        ((3, 3, 2, 2), True),  # 10 bits, no band within 1
        ((2, 3, 3, 2), True),
        ((10, 0, 0, 0), True),
        ((0, 0, 0, 10), True),
        ((5, 5, 0, 0), True),
        ((3, 3, 3, 2), False),  # 11 bits: past the distance
        ((16, 0, 0, 0), False),
    ],
)
def test_a_near_copy_is_found_through_the_band_index_at_every_spread_of_its_bits(
    engine, spread, blocked
):
    with session_scope(engine) as session:
        session.add(BlockedHash(sha256="b" * 64, phash=BLOCKED_PHASH, reason="t"))
    candidate = _flipped(BLOCKED_PHASH, spread)
    assert fingerprints.distance(candidate, BLOCKED_PHASH) == sum(spread)
    image = Image.new("RGB", (8, 8))  # never re-encoded: every blocked row has a phash
    with read_scope(engine) as session:
        found = fingerprints.is_blocked_picture(
            session, sha256="c" * 64, image=image, phash=candidate
        )
        prints = fingerprints.Fingerprint("c" * 64, "d" * 64, candidate)
        assert fingerprints.is_blocked(session, prints) is found
    assert found is blocked


def test_the_look_up_reads_the_blocked_rows_through_their_band_indexes(engine):
    """Not every blocked hash each job: the statement asks the indexed bands (and flags the
    rows without a perceptual hash), so what it reads does not grow with every takedown."""
    with session_scope(engine) as session:
        for number in range(50):
            phash = f"{(number * 0x9E3779B97F4A7C15) % (1 << 64):016x}"
            session.add(BlockedHash(sha256=f"{number:064x}", phash=phash, reason="t"))
    with read_scope(engine) as session:
        bands = session.exec(select(BlockedHash.phash_band0, BlockedHash.phash)).all()
    assert all(
        band == int(phash, 16) >> 48 for band, phash in bands
    )  # the bands follow the phash on every write
    with statements_sent(engine) as seen, read_scope(engine) as session:
        assert not fingerprints.is_blocked_picture(
            session, sha256="e" * 64, image=Image.new("RGB", (8, 8)), phash=BLOCKED_PHASH
        )
    reads = [flat(s) for s, _ in seen if "FROM blockedhash" in s]
    assert len(reads) == 2, reads  # the exact sha256, then the near bands
    assert all(f"phash_band{band}" in reads[1] for band in range(4))
