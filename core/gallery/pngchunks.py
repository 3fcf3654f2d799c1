"""PNG text metadata spliced in at the chunk level: the pixels are never decoded or re-encoded.

A PNG is an 8-byte signature and a run of chunks (length, type, data, CRC-32). Writing
metadata means dropping the text chunks already there (ComfyUI's own `prompt`/`workflow`) and
inserting one uncompressed iTXt chunk per key right after IHDR, as Pillow's `add_itxt` would.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator, Mapping

from core.errors import ValidationFailed

SIGNATURE = b"\x89PNG\r\n\x1a\n"
TEXT_CHUNKS = {b"tEXt", b"zTXt", b"iTXt"}
MAX_KEYWORD = 79  # the PNG specification's limit on a keyword's length


def chunks(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """Each chunk's (type, whole chunk bytes) in file order; ValidationFailed if truncated."""
    if not data.startswith(SIGNATURE):
        raise ValidationFailed("The file is not a PNG image.")
    offset = len(SIGNATURE)
    while offset < len(data):
        if offset + 8 > len(data):
            raise ValidationFailed("The PNG file is truncated.")
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        end = offset + 12 + length
        if end > len(data):
            raise ValidationFailed("The PNG file is truncated.")
        yield data[offset + 4 : offset + 8], data[offset:end]
        offset = end


def itxt_chunk(keyword: str, text: str) -> bytes:
    """One uncompressed iTXt chunk holding `text` (UTF-8) under `keyword` (Latin-1)."""
    key = keyword.encode("latin-1")
    if not 1 <= len(key) <= MAX_KEYWORD or b"\0" in key:
        raise ValidationFailed(f"{keyword!r} cannot be a PNG text keyword.")
    body = b"iTXt" + key + b"\0\0\0\0\0" + text.encode("utf-8")
    return struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body))


def with_text(data: bytes, metadata: Mapping[str, str]) -> bytes:
    """The PNG `data` whose only text chunks are `metadata`, placed right after IHDR; every
    other chunk (pixels included) is copied byte for byte."""
    parts = [SIGNATURE]
    for kind, chunk in chunks(data):
        if kind in TEXT_CHUNKS:
            continue
        parts.append(chunk)
        if kind == b"IHDR":
            parts.extend(itxt_chunk(key, value) for key, value in metadata.items())
    if len(parts) < 2 or not parts[1][4:8] == b"IHDR":
        raise ValidationFailed("The PNG file has no header chunk.")
    return b"".join(parts)
