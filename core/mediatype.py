"""What a media file is, from its first bytes: never from a name or a caller's claim.

Pure and light on purpose: the image path (uploads, thumbnails, screening of stills) imports
this, never `core.video`, whose PyAV loads FFmpeg's libraries and numpy (~40 MB resident).
"""

from __future__ import annotations

MP4 = "video/mp4"


def sniff_mime(data: bytes) -> str:
    """The media type the file's first bytes say (PNG, JPEG, WebP, GIF, MP4/QuickTime,
    WebM), `application/octet-stream` for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[4:8] == b"ftyp":
        return "video/quicktime" if data[8:12] == b"qt  " else MP4
    if data.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"
    return "application/octet-stream"


def is_video_mime(mime: str) -> bool:
    """Whether `mime` names a video container (not an animated image)."""
    return mime.startswith("video/")
