"""Uploads are bounded by the memory they take once decoded, not only by their pixels.

A 155 KB PNG of 6320x6320 RGBA passes a 40 MP pixel cap yet decodes to 152 MB, and the
upload path once held three copies of it (520 MB). The worst pictures the limit still accepts
are decoded here in a child process, through the reference-upload path, and its peak RSS is
read from the kernel's own count (`VmHWM`, the child's own high-water mark: `ru_maxrss` would
carry the parent's size across fork and exec): a memory bound, not a timing.
"""

from __future__ import annotations

import io
import math
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from core.errors import ValidationFailed
from core.gallery import store, takedown

PEAK_RSS_LIMIT_MB = 300
UPLOAD = {"max_bytes": 20 * 1024 * 1024, "max_pixels": 40_000_000}
# The reference-upload path of core.muses.service.attach_reference, without the database:
# the copy check decodes the picture, then the store decodes and re-encodes it.
CHILD = """
import sys
from pathlib import Path
from core.gallery import store, takedown
data = Path(sys.argv[1]).read_bytes()
limits = {"max_bytes": 20 * 1024 * 1024, "max_pixels": 40_000_000}
takedown.fingerprint(data, **limits)
store.ingest_image(data, media=Path(sys.argv[2]), **limits)
status = Path("/proc/self/status").read_text()
peak = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
print(int(peak.split()[1]) // 1024)
"""


def largest_accepted(mode: str) -> tuple[int, int]:
    """The square side whose decoded cost is the most the upload limit accepts."""
    side = math.isqrt(store.UPLOAD_DECODED_BYTES // store.decoded_bytes(mode, (1, 1)))
    return side, side


def picture(mode: str, size: tuple[int, int], *, orientation: int = 1) -> bytes:
    """A small PNG file of `size` (flat but for a patch of detail), EXIF-oriented if asked."""
    image = Image.new(mode, size, 0 if mode in ("L", "P") else (200, 40, 90, 255)[: len(mode)])
    image.paste(Image.effect_noise((256, 256), 64).convert(mode), (0, 0))
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    image.save(out, format="PNG", exif=exif.tobytes())
    return out.getvalue()


def peak_rss_mb(path: Path, media: Path) -> int:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), str(media)],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout.strip())


@pytest.mark.parametrize(
    ("mode", "orientation"),
    [("RGBA", 1), ("RGBA", 6), ("RGB", 8), ("L", 6), ("P", 1)],
)
def test_the_worst_accepted_upload_peaks_under_300_mb(tmp_path, mode, orientation):
    size = largest_accepted(mode)
    data = picture(mode, size, orientation=orientation)
    store.open_image(data, **UPLOAD)  # accepted: the limit is reached, not passed
    path = tmp_path / "upload.png"
    path.write_bytes(data)
    assert peak_rss_mb(path, tmp_path / "media") < PEAK_RSS_LIMIT_MB


@pytest.mark.parametrize("mode", ["RGBA", "L"])
def test_one_row_past_the_decoded_limit_is_refused_with_a_message(mode):
    width, _ = largest_accepted(mode)
    rows = store.UPLOAD_DECODED_BYTES // store.decoded_bytes(mode, (width, 1))
    data = picture(mode, (width, rows + 1))
    with pytest.raises(ValidationFailed, match="MB of memory to open"):
        store.open_image(data, **UPLOAD)
    with pytest.raises(ValidationFailed, match="MB of memory to open"):
        takedown.fingerprint(data, **UPLOAD)


def test_a_small_file_declaring_40_mp_of_rgba_is_refused_before_decoding():
    data = picture("RGBA", (6320, 6320))
    assert len(data) < 400 * 1024 and 6320 * 6320 < UPLOAD["max_pixels"]
    with pytest.raises(ValidationFailed, match="152 MB of memory"):
        store.open_image(data, **UPLOAD)


def test_the_picture_path_never_loads_pyav():
    """PyAV loads FFmpeg's libraries and numpy (~40 MB resident, the margin of the bound
    above): only a video branch imports `core.video`."""
    picture_path = "core.gallery.store, core.gallery.takedown, core.gallery.uploads"
    child = f"import sys\nimport {picture_path}, core.safety.outputs, core.studio.reader\n"
    child += "print(sorted({'av', 'core.video'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
