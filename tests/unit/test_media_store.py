"""Safe image ingestion and the content-addressed store, on the local disk and on S3."""

import io
import struct
import zlib

import pytest
from PIL import Image

from core.config import get_settings
from core.errors import ConfigError, NotFound, ValidationFailed
from core.gallery import store
from core.gallery.media import LocalMediaStore, open_media_store
from core.gallery.taxonomy import Taxonomy, normalize_tags
from core.gallery.taxonomy import suggest as taxonomy_suggest

LIMITS = {"max_bytes": 5 * 1024 * 1024, "max_pixels": 40_000_000}


def png(size=(64, 48), color="purple"):
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def bomb_png(width=10_000, height=10_000):
    """A tiny PNG whose header declares width x height (IHDR patched, CRC fixed)."""
    data = bytearray(png((8, 8)))
    ihdr = 8  # after the signature: length(4) type(4) data(13) crc(4)
    data[ihdr + 8 : ihdr + 16] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr + 4 : ihdr + 21]))
    data[ihdr + 21 : ihdr + 25] = struct.pack(">I", crc)
    return bytes(data)


def jpeg_with_exif():
    image = Image.new("RGB", (40, 20), "orange")
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90
    exif[0x8825] = {2: (51.0, 30.0, 0.0)}  # GPS latitude
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


@pytest.fixture(params=["local", "s3"])
def media(request, tmp_path):
    """The media store on each backend: a local folder, a fresh bucket on loopback S3."""
    if request.param == "local":
        return LocalMediaStore(tmp_path / "media")
    request.getfixturevalue("s3_env")
    return open_media_store(get_settings())


def test_round_trip_and_idempotent_write(media):
    sha = store.write(media, b"hello")
    assert store.write(media, b"hello") == sha
    assert store.read(media, sha) == b"hello"
    assert media.has(sha)
    assert list(media.hashes()) == [sha]
    store.delete(media, sha)
    with pytest.raises(NotFound):
        store.read(media, sha)
    assert not media.has(sha)
    assert list(media.hashes()) == []


def test_local_files_are_laid_out_by_hash(tmp_path):
    sha = store.write(tmp_path, b"hello")
    assert store.path_of(tmp_path, sha).parent.parent.name == sha[:2]
    assert store.path_of(tmp_path, sha).parent.name == sha[2:4]


@pytest.mark.parametrize("name", ["../../etc/passwd", "a" * 64 + "/x", "", "\x00" * 64, "A" * 64])
@pytest.mark.parametrize("verb", ["get", "has", "remove", "url"])
def test_only_hashes_reach_the_store(media, name, verb):
    call = {
        "get": lambda: media.get(name),
        "has": lambda: media.has(name),
        "remove": lambda: media.remove(name),
        "url": lambda: media.url(name, mime="image/png"),
    }[verb]
    with pytest.raises(ValidationFailed):
        call()


def test_uploads_are_stripped_and_stored_on_either_backend(media):
    stored = store.ingest_image(jpeg_with_exif(), media=media, **LIMITS)
    image = Image.open(io.BytesIO(store.read(media, stored.sha256)))
    assert image.format == "PNG" and image.size == (20, 40)
    assert "exif" not in image.info


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"x" * (5 * 1024 * 1024 + 1), "larger than 5 MB"),
        (bomb_png(), "too many pixels"),
        (bomb_png(9000, 5000), "9000x5000 pixels; the limit is 40 megapixels"),
        (bomb_png(20_000, 20_000), "too many pixels"),
        (png()[:60], "damaged|not a PNG"),
        (b"GIF89a" + b"\x00" * 100, "not a PNG"),
        (b"8BPS" + b"\x00" * 100, "not a PNG"),
        (b"<html><script>alert(1)</script></html>", "not a PNG"),
    ],
)
def test_bad_uploads_are_refused_with_a_specific_message(tmp_path, data, message):
    with pytest.raises(ValidationFailed, match=message):
        store.ingest_image(data, media=tmp_path, **LIMITS)
    assert not any(tmp_path.rglob("*"))


def test_animated_upload_is_refused(tmp_path):
    frames = [Image.new("RGB", (16, 16), c) for c in ("red", "blue", "green")]
    out = io.BytesIO()
    frames[0].save(out, format="WEBP", save_all=True, append_images=frames[1:])
    with pytest.raises(ValidationFailed, match="Animated"):
        store.ingest_image(out.getvalue(), media=tmp_path, **LIMITS)


def test_exif_is_stripped_and_orientation_applied(tmp_path):
    stored = store.ingest_image(jpeg_with_exif(), media=tmp_path, **LIMITS)
    image = Image.open(io.BytesIO(store.read(tmp_path, stored.sha256)))
    assert (stored.mime, image.size) == ("image/png", (20, 40))
    assert not image.getexif() and not getattr(image, "text", {})


def test_thumbnail_and_png_metadata(tmp_path):
    data = store.embed_png_metadata(png((800, 600)), {"prompt": "a lighthouse", "seed": "7"})
    assert store.read_png_metadata(data) == {"prompt": "a lighthouse", "seed": "7"}
    thumb = Image.open(io.BytesIO(store.make_thumbnail(data)))
    assert thumb.format == "WEBP" and max(thumb.size) == store.THUMB_SIDE
    shown = Image.open(io.BytesIO(store.make_thumbnail(data, format="JPEG")))
    assert (shown.format, shown.size) == ("JPEG", thumb.size)


def test_taxonomy_loads_and_tags_are_cleaned(tmp_path):
    taxonomy = Taxonomy.load()
    assert taxonomy.category("portrait").label == "Portraits"
    assert "neon" in taxonomy.tags
    assert normalize_tags(["Golden Hour", "golden-hour", "<b>x</b>", "  ", "a" * 50]) == [
        "golden-hour",
        "bxb",
        "a" * 32,
    ]
    bad = tmp_path / "t.toml"
    bad.write_text('[[categories]]\nslug = "Bad Slug"\nlabel = "x"\n')
    with pytest.raises(ConfigError, match="Bad Slug"):
        Taxonomy.load(bad)
    with pytest.raises(ConfigError, match="missing"):
        Taxonomy.load(tmp_path / "none.toml")


def test_the_shipped_taxonomy_is_large_grouped_and_coloured():
    taxonomy = Taxonomy.load()
    assert len(taxonomy.categories) >= 50 and len(taxonomy.tags) >= 80
    assert len(set(taxonomy.tags)) == len(taxonomy.tags)
    assert all(c.group in taxonomy.groups and c.description for c in taxonomy.categories)
    assert all(taxonomy.colour_of(c.slug) for c in taxonomy.categories)
    assert all(taxonomy.colour_of(t) for t in taxonomy.tags)
    assert all(g.description for g in taxonomy.tag_facets.values())


RENAMED = """
[category_groups.art]
label = "Art"
colour = "#61afef"

[[categories]]
slug = "painting"
label = "Painting"
group = "art"

[tag_groups.light]
label = "Light"
colour = "#ffd966"
tags = ["neon-light"]

[renames.categories]
artistic = "painting"

[renames.tags]
neon = "neon-light"
"""


def test_renames_map_old_names_to_new_and_are_checked(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text(RENAMED)
    taxonomy = Taxonomy.load(path)
    assert taxonomy.category_names("painting") == ("painting", "artistic")
    assert taxonomy.category("artistic").slug == "painting"
    assert taxonomy.tag_names("neon-light") == ("neon-light", "neon")
    assert taxonomy.colour_of("neon") == "#ffd966"
    path.write_text(RENAMED.replace('artistic = "painting"', 'artistic = "gone"'))
    with pytest.raises(ConfigError, match="gone is not a category"):
        Taxonomy.load(path)
    path.write_text(RENAMED.replace('colour = "#61afef"', 'colour = "blue"'))
    with pytest.raises(ConfigError, match="colour"):
        Taxonomy.load(path)


def test_suggestions_come_from_the_muses_tags_and_taxonomy_words_in_the_prompt():
    taxonomy = Taxonomy.load()
    category, tags = taxonomy_suggest(
        taxonomy, "Cinematic close-up of a woman at golden hour, neon signs", ["Moody", "made-up"]
    )
    assert category == "cinematic"
    assert tags[0] == "moody" and {"close-up", "golden-hour", "neon"} <= set(tags)
    assert "made-up" not in tags
    assert taxonomy_suggest(taxonomy, "a cat", []) == (None, [])
