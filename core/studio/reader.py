"""The settings reader: what any picture or clip says about how it was made; pure.

Reads the metadata four tools write, without decoding a single pixel:

- AUTOMATIC1111 (and Forge, and the studio itself): a PNG `parameters` text chunk — the
  prompt, `Negative prompt: ...`, then one line of `Key: value` pairs (values with commas are
  quoted); LoRAs ride in the prompt as `<lora:name:weight>`.
- ComfyUI: the API graph it ran as a `prompt` text chunk (PNG), as EXIF tag 0x0110
  `prompt:{...}` (animated WebP, `SaveAnimatedWEBP`), or as an MP4 `prompt` metadata item
  (`SaveVideo` writes QuickTime `mdta` keys: moov/udta/meta/keys + ilst), read through
  `core.video`, the studio's one MP4 reader.
- Fooocus: a `parameters` text chunk holding JSON, with `fooocus_scheme` = "fooocus" (its
  "a1111" scheme is plain `parameters` text).

The result names every setting the studio can load and, in `unsupported`, what the file holds
that the studio cannot apply. Metadata is untrusted: sizes, nesting and counts are capped, and
anything malformed is refused with a `ValidationFailed` fit to show.
"""

from __future__ import annotations

import json
import re
import struct
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from core.comfy.tools import SAMPLERS, SCHEDULERS
from core.errors import ValidationFailed
from core.gallery import pngchunks, store

STUDIO = "AI KINGS"  # the `Version` our own `parameters` text ends with
MAX_TEXT = 512 * 1024  # one metadata text, decompressed (a big ComfyUI workflow is ~100 KB)
MAX_NODES = 2_000
MAX_JSON_DEPTH = 64
MAX_SEED = 2**64 - 1  # KSampler's range
WEBP_EXIF_PROMPT = 0x0110  # ComfyUI puts `prompt:{graph}` in the EXIF "Model" tag

# AUTOMATIC1111's sampler labels (with their schedule suffixes) as ComfyUI names.
A1111_SAMPLERS = {
    "euler": "euler",
    "euler a": "euler_ancestral",
    "heun": "heun",
    "lms": "lms",
    "dpm2": "dpm_2",
    "dpm2 a": "dpm_2_ancestral",
    "dpm++ 2s a": "dpmpp_2s_ancestral",
    "dpm++ 2m": "dpmpp_2m",
    "dpm++ sde": "dpmpp_sde",
    "dpm++ 2m sde": "dpmpp_2m_sde",
    "dpm++ 2m sde heun": "dpmpp_2m_sde_heun",
    "dpm++ 3m sde": "dpmpp_3m_sde",
    "dpm fast": "dpm_fast",
    "dpm adaptive": "dpm_adaptive",
    "lcm": "lcm",
    "ddim": "ddim",
    "ddpm": "ddpm",
    "unipc": "uni_pc",
    "deis": "deis",
    "ipndm": "ipndm",
}
A1111_SCHEDULES = {
    "automatic": None,
    "karras": "karras",
    "exponential": "exponential",
    "sgm uniform": "sgm_uniform",
    "simple": "simple",
    "normal": "normal",
    "ddim": "ddim_uniform",
    "beta": "beta",
    "uniform": "normal",
    "kl optimal": "kl_optimal",
}
# Keys of the A1111 settings line that map to a setting the studio has (read below).
A1111_READ = {
    "steps",
    "sampler",
    "schedule type",
    "cfg scale",
    "seed",
    "size",
    "model",
    "denoising strength",
    "model hash",
    "lora hashes",
    "version",
}
# ComfyUI node classes whose settings the studio reads; any other class is named unsupported.
COMFY_READ = {
    "KSampler",
    "KSamplerAdvanced",
    "CLIPTextEncode",
    "ConditioningConcat",
    "CheckpointLoaderSimple",
    "EmptyLatentImage",
    "EmptySD3LatentImage",
    "EmptyHunyuanLatentVideo",
    "LoraLoader",
    "LoraLoaderModelOnly",
    "VAEDecode",
    "VAEEncode",
    "LoadImage",
    "SaveImage",
    "SaveAnimatedWEBP",
    "SaveVideo",
    "CreateVideo",
    "PreviewImage",
    "UNETLoader",
    "CLIPLoader",
    "VAELoader",
    "ModelSamplingSD3",
    "IPAdapterModelLoader",
    "CLIPVisionLoader",
    "IPAdapterAdvanced",
}
_LORA_TAG = re.compile(r"<lora:([^:<>]{1,200}):(-?\d+(?:\.\d+)?)>")
_A1111_PAIR = re.compile(r'\s*([A-Za-z][\w /+-]*?):\s*("(?:[^"\\]|\\.)*"|[^,]*)(?:,|$)')
_SIZE = re.compile(r"^\s*(\d{1,5})\s*[x×]\s*(\d{1,5})\s*$")
_FOOOCUS_SIZE = re.compile(r"^\(\s*(\d{1,5})\s*,\s*(\d{1,5})\s*\)$")


@dataclass(frozen=True)
class ReadSettings:
    """How a file says it was made. Names follow ComfyUI (sampler `dpmpp_2m`, scheduler
    `karras`); None where the file does not say. `unsupported` names what the file holds that
    the studio cannot load (an A1111 key, a ComfyUI node class, a Fooocus field)."""

    source: str
    prompt: str = ""
    negative_prompt: str = ""
    seed: int | None = None
    steps: int | None = None
    cfg: float | None = None
    sampler: str | None = None
    scheduler: str | None = None
    width: int | None = None
    height: int | None = None
    model: str | None = None
    denoise: float | None = None
    loras: tuple[tuple[str, float], ...] = ()
    unsupported: tuple[str, ...] = field(default=())


def read_settings(data: bytes) -> ReadSettings:
    """The settings `data` (a PNG, WebP or MP4 file's bytes) carries.

    Raises ValidationFailed, with a message fit to show, when the file is not one of those
    formats, carries no generation settings, or carries malformed or oversized metadata.
    """
    texts = _metadata_texts(data)
    if texts.get("fooocus_scheme") == "fooocus" and "parameters" in texts:
        return _fooocus(_json_object(texts["parameters"], "Fooocus parameters"))
    if texts.get("parameters", "").endswith(f"Version: {STUDIO}"):  # ours: the job's settings
        return _a1111(texts["parameters"])
    if "prompt" in texts:
        graph = _json_object(texts["prompt"], "ComfyUI prompt")
        return _comfy(graph)
    if "parameters" in texts:
        return _a1111(texts["parameters"])
    raise ValidationFailed(
        "This file carries no generation settings (no AUTOMATIC1111, ComfyUI or Fooocus "
        "metadata); it may have been re-saved by a program that strips it."
    )


def read_upload(data: bytes, *, max_bytes: int, max_pixels: int) -> ReadSettings:
    """`read_settings` for an uploaded file, after the upload checks every upload passes: a
    PNG or WebP must open as one within the size, pixel and decoded-memory limits
    (`core.gallery.store.open_image`), an MP4 must be within the size limit."""
    if data[4:8] == b"ftyp":
        store.check_upload_size(data, max_bytes=max_bytes)
    else:
        store.open_image(data, max_bytes=max_bytes, max_pixels=max_pixels, allow_animation=True)
    return read_settings(data)


def _metadata_texts(data: bytes) -> dict[str, str]:
    if data.startswith(pngchunks.SIGNATURE):
        return _png_texts(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp_texts(data)
    if data[4:8] == b"ftyp":
        return _mp4_texts(data)
    raise ValidationFailed("Only PNG, WebP and MP4 files can be read for their settings.")


def _png_texts(data: bytes) -> dict[str, str]:
    texts: dict[str, str] = {}
    for kind, chunk in pngchunks.chunks(data):
        if kind == b"IEND":
            break
        if kind in pngchunks.TEXT_CHUNKS:
            key, text = _png_text(kind, chunk[8:-4])
            texts.setdefault(key, text)
    return texts


def _png_text(kind: bytes, body: bytes) -> tuple[str, str]:
    keyword, sep, rest = body.partition(b"\0")
    if not sep or not 1 <= len(keyword) <= pngchunks.MAX_KEYWORD:
        raise ValidationFailed("The PNG has a malformed text chunk.")
    key = keyword.decode("latin-1")
    if kind == b"tEXt":
        return key, _limited(rest).decode("latin-1")
    if kind == b"zTXt":
        return key, _inflate(rest[1:]).decode("latin-1")
    # iTXt: compression flag, method, language tag\0, translated keyword\0, text
    if len(rest) < 2:
        raise ValidationFailed("The PNG has a malformed text chunk.")
    compressed, tail = rest[0], rest[2:]
    parts = tail.split(b"\0", 2)
    if len(parts) != 3:
        raise ValidationFailed("The PNG has a malformed text chunk.")
    raw = _inflate(parts[2]) if compressed else _limited(parts[2])
    return key, _utf8(raw)


def _limited(raw: bytes) -> bytes:
    if len(raw) > MAX_TEXT:
        raise ValidationFailed(f"The file's metadata is larger than {MAX_TEXT // 1024} KB.")
    return raw


def _inflate(raw: bytes) -> bytes:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(raw, MAX_TEXT + 1)
    except zlib.error:
        raise ValidationFailed("The file has corrupt compressed metadata.") from None
    return _limited(out)


def _utf8(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationFailed("The file's metadata is not valid UTF-8 text.") from None


def _riff_chunks(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    offset = 12
    while offset + 8 <= len(data):
        kind = data[offset : offset + 4]
        (size,) = struct.unpack("<I", data[offset + 4 : offset + 8])
        end = offset + 8 + size
        if end > len(data):
            raise ValidationFailed("The WebP file is truncated.")
        yield kind, data[offset + 8 : end]
        offset = end + (size & 1)  # chunks are padded to an even length


def _webp_texts(data: bytes) -> dict[str, str]:
    for kind, body in _riff_chunks(data):
        if kind != b"EXIF":
            continue
        exif = Image.Exif()
        try:
            exif.load(_limited(body.removeprefix(b"Exif\0\0")))
        except (SyntaxError, ValueError, struct.error, OSError):
            raise ValidationFailed("The WebP file has malformed EXIF metadata.") from None
        texts: dict[str, str] = {}
        for value in exif.values():
            if isinstance(value, bytes):
                value = _utf8(value)
            if isinstance(value, str):
                key, sep, text = value.partition(":")
                if sep and key in {"prompt", "workflow"}:
                    texts.setdefault(key, text)
        return texts
    return {}


def _mp4_texts(data: bytes) -> dict[str, str]:
    from core import video  # here only: PyAV loads FFmpeg, which a picture never needs

    texts = video.mp4_metadata(data)
    for text in texts.values():
        _limited(text.encode())  # as every other metadata text: at most MAX_TEXT
    return texts


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        raise ValidationFailed(f"The file's {what} metadata is not valid JSON.") from None
    if not isinstance(value, dict):
        raise ValidationFailed(f"The file's {what} metadata is not a JSON object.")
    if _depth(value) > MAX_JSON_DEPTH:
        raise ValidationFailed(f"The file's {what} metadata is nested too deeply.")
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _depth(value: Any, level: int = 0) -> int:
    if level > MAX_JSON_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level + 1)
    return level


# --- AUTOMATIC1111 -------------------------------------------------------------------------


def _a1111(text: str) -> ReadSettings:
    lines = text.strip().split("\n")
    settings: dict[str, str] = {}
    if len(lines) > 1 and "steps:" in lines[-1].lower():
        settings = _a1111_pairs(lines.pop())
    prompt_lines: list[str] = []
    negative_lines: list[str] = []
    target = prompt_lines
    for line in lines:
        if line.startswith("Negative prompt:"):
            target = negative_lines
            line = line.removeprefix("Negative prompt:").lstrip()
        target.append(line)
    prompt = "\n".join(prompt_lines).strip()
    loras = tuple((name.strip(), float(weight)) for name, weight in _LORA_TAG.findall(prompt))
    sampler, scheduler, unsupported = _a1111_sampler(
        settings.get("sampler"), settings.get("schedule type")
    )
    width, height = _size(settings.get("size"), _SIZE)
    version = settings.get("version", "")
    return ReadSettings(
        source=STUDIO if version == STUDIO else "AUTOMATIC1111",
        prompt="\n".join(line.rstrip() for line in _LORA_TAG.sub("", prompt).split("\n")).strip(),
        negative_prompt="\n".join(negative_lines).strip(),
        seed=_seed(settings.get("seed")),
        steps=_int(settings.get("steps"), "Steps"),
        cfg=_float(settings.get("cfg scale"), "CFG scale"),
        sampler=sampler,
        scheduler=scheduler,
        width=width,
        height=height,
        model=settings.get("model") or None,
        denoise=_float(settings.get("denoising strength"), "Denoising strength"),
        loras=loras,
        unsupported=(*unsupported, *(_label(key) for key in settings if key not in A1111_READ)),
    )


def _a1111_pairs(line: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for match in _A1111_PAIR.finditer(line):
        key, value = match.group(1).strip().lower(), match.group(2).strip()
        if value.startswith('"') and value.endswith('"') and len(value) >= 2:
            try:
                value = json.loads(value)
            except ValueError:
                value = value[1:-1]
        if key and key not in pairs:
            pairs[key] = str(value)
    return pairs


def _a1111_sampler(
    label: str | None, schedule: str | None
) -> tuple[str | None, str | None, list[str]]:
    """ComfyUI's sampler and scheduler for A1111's labels. Before v1.9 the schedule rode in
    the sampler's label ("DPM++ 2M Karras")."""
    if label is None:
        return None, None, []
    name = label.strip().lower()
    for suffix in ("karras", "exponential", "sgm uniform"):
        if name.endswith(" " + suffix) and name not in A1111_SAMPLERS:
            name, schedule = name.removesuffix(" " + suffix), schedule or suffix
    # the studio's own files (and some A1111 forks) write ComfyUI's names as they are
    sampler = A1111_SAMPLERS.get(name) or (name if name in SAMPLERS else None)
    unsupported = [] if sampler else [f"Sampler: {label}"]
    scheduler = None
    if schedule is not None:
        key = schedule.strip().lower()
        scheduler = A1111_SCHEDULES.get(key) or (key if key in SCHEDULERS else None)
        if key not in A1111_SCHEDULES and key not in SCHEDULERS:
            unsupported.append(f"Schedule type: {schedule}")
    return sampler, scheduler, unsupported


# --- ComfyUI -------------------------------------------------------------------------------


def _comfy(graph: dict[str, Any]) -> ReadSettings:
    if len(graph) > MAX_NODES:
        raise ValidationFailed(f"The ComfyUI graph has more than {MAX_NODES} nodes.")
    nodes = {key: node for key, node in graph.items() if isinstance(node, dict)}
    if not nodes or any(not isinstance(n.get("inputs", {}), dict) for n in nodes.values()):
        raise ValidationFailed("The file's ComfyUI prompt is not a ComfyUI graph.")
    samplers = [
        key for key, n in nodes.items() if n.get("class_type") in {"KSampler", "KSamplerAdvanced"}
    ]
    classes = sorted({str(n.get("class_type")) for n in nodes.values()} - COMFY_READ)
    unsupported = tuple(f"ComfyUI node {name}" for name in classes)
    if not samplers:
        return ReadSettings(source="ComfyUI", unsupported=unsupported)
    first = nodes[min(samplers, key=_node_order)]
    links: Mapping[str, Any] = first.get("inputs", {})
    # a setting wired from another node (a primitive, a switch) is not read as a value
    inputs = {name: value for name, value in links.items() if not _is_link(value)}
    wired = sorted(name for name, value in links.items() if _is_link(value))
    seed_value = inputs.get("seed", inputs.get("noise_seed"))
    width, height = _comfy_size(nodes, links.get("latent_image"))
    return ReadSettings(
        source="ComfyUI",
        prompt=_comfy_text(nodes, links.get("positive")),
        negative_prompt=_comfy_text(nodes, links.get("negative")),
        seed=_seed(seed_value),
        steps=_int(inputs.get("steps"), "steps"),
        cfg=_float(inputs.get("cfg"), "cfg"),
        sampler=_str(inputs.get("sampler_name")),
        scheduler=_str(inputs.get("scheduler")),
        width=width,
        height=height,
        model=_comfy_model(nodes, links.get("model")),
        denoise=_float(inputs.get("denoise"), "denoise"),
        loras=tuple(_comfy_loras(nodes, links.get("model"))),
        unsupported=(
            *unsupported,
            *(f"{name} wired from another node" for name in wired if name not in _SAMPLER_LINKS),
            *(("more than one sampler pass",) if len(samplers) > 1 else ()),
        ),
    )


_SAMPLER_LINKS = {"model", "positive", "negative", "latent_image"}


def _is_link(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[1], int)


def _node_order(key: str) -> tuple[int, str]:
    return (int(key), key) if key.isdigit() else (2**31, key)


def _upstream(nodes: Mapping[str, Any], link: Any) -> dict[str, Any] | None:
    if _is_link(link):
        node = nodes.get(str(link[0]))
        return node if isinstance(node, dict) else None
    return None


def _follow(nodes: Mapping[str, Any], link: Any, through: str) -> Iterator[dict[str, Any]]:
    """The nodes met walking up input `through` from `link` (bounded: graphs can loop)."""
    seen = 0
    node = _upstream(nodes, link)
    while node is not None and seen < MAX_NODES:
        yield node
        seen += 1
        node = _upstream(nodes, node.get("inputs", {}).get(through))


MAX_CHUNKS = 64
"""How many ConditioningConcat chunks of a prompt are read (a looped graph stops there)."""


def _encoder(nodes: Mapping[str, Any], link: Any, *, concat: bool) -> dict[str, Any] | None:
    """The first CLIPTextEncode (or, with `concat`, ConditioningConcat) up from `link`."""
    for node in _follow(nodes, link, "conditioning"):
        kind = node.get("class_type")
        if kind == "CLIPTextEncode" and isinstance(node.get("inputs", {}).get("text"), str):
            return node
        if concat and kind == "ConditioningConcat":
            return node
    return None


def _comfy_text(nodes: Mapping[str, Any], link: Any) -> str:
    """The prompt encoded upstream of `link`; the chunks a chain of ConditioningConcat joins
    (as the studio encodes long prompts) are read first chunk first, joined with ", "."""
    texts: list[str] = []
    for _ in range(MAX_CHUNKS):
        node = _encoder(nodes, link, concat=True)
        if node is None:
            break
        inputs = node.get("inputs", {})
        if node.get("class_type") == "CLIPTextEncode":
            texts.append(inputs["text"])
            break
        tail = _encoder(nodes, inputs.get("conditioning_from"), concat=False)
        texts.append(tail.get("inputs", {})["text"] if tail is not None else "")
        link = inputs.get("conditioning_to")
    return _limited(", ".join(t for t in reversed(texts) if t).encode()).decode()


def _comfy_size(nodes: Mapping[str, Any], link: Any) -> tuple[int | None, int | None]:
    for node in _follow(nodes, link, "samples"):
        inputs = node.get("inputs", {})
        if "width" in inputs and "height" in inputs:
            return _int(inputs["width"], "width"), _int(inputs["height"], "height")
    return None, None


def _comfy_model(nodes: Mapping[str, Any], link: Any) -> str | None:
    for node in _follow(nodes, link, "model"):
        inputs = node.get("inputs", {})
        for name in ("ckpt_name", "unet_name"):
            if isinstance(inputs.get(name), str):
                return str(inputs[name])
    return None


def _comfy_loras(nodes: Mapping[str, Any], link: Any) -> Iterator[tuple[str, float]]:
    for node in _follow(nodes, link, "model"):
        inputs = node.get("inputs", {})
        if node.get("class_type") in {"LoraLoader", "LoraLoaderModelOnly"}:
            weight = _float(inputs.get("strength_model"), "strength_model")
            if isinstance(inputs.get("lora_name"), str) and weight is not None:
                yield inputs["lora_name"], weight


# --- Fooocus -------------------------------------------------------------------------------

FOOOCUS_READ = {
    "prompt",
    "negative_prompt",
    "steps",
    "guidance_scale",
    "seed",
    "sampler",
    "scheduler",
    "resolution",
    "base_model",
    "version",
    "metadata_scheme",
    "full_prompt",
    "full_negative_prompt",
}


def _fooocus(fields: dict[str, Any]) -> ReadSettings:
    loras = []
    for key in sorted(k for k in fields if k.startswith("lora_combined_")):
        parts = [part.strip() for part in str(fields[key]).split(" : ")]
        if len(parts) >= 2:  # "name : weight", or "enabled : name : weight"
            weight = _float(parts[-1], key)
            if weight is not None:
                loras.append((parts[-2], weight))
    width, height = _size(_str(fields.get("resolution")), _FOOOCUS_SIZE)
    return ReadSettings(
        source="Fooocus",
        prompt=_str(fields.get("prompt")) or "",
        negative_prompt=_str(fields.get("negative_prompt")) or "",
        seed=_seed(fields.get("seed")),
        steps=_int(fields.get("steps"), "steps"),
        cfg=_float(fields.get("guidance_scale"), "guidance_scale"),
        sampler=_str(fields.get("sampler")),
        scheduler=_str(fields.get("scheduler")),
        width=width,
        height=height,
        model=_str(fields.get("base_model")),
        loras=tuple(loras),
        unsupported=tuple(
            _label(key)
            for key in fields
            if key not in FOOOCUS_READ and not key.startswith("lora_combined_")
        ),
    )


# --- values --------------------------------------------------------------------------------


def _label(key: str) -> str:
    return key.replace("_", " ").capitalize()


def _str(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ValidationFailed("The file's metadata has a setting of the wrong type.")
    text = str(value).strip()
    return _limited(text.encode()).decode() or None


def _int(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValidationFailed(f"The file's {name} setting is not a whole number.")
    text = str(value).strip()
    if not re.fullmatch(r"-?\d{1,40}", text):
        raise ValidationFailed(f"The file's {name} setting is not a whole number.")
    return int(text)


def _seed(value: Any) -> int | None:
    seed = _int(value, "seed")
    if seed is not None and not 0 <= seed <= MAX_SEED:
        raise ValidationFailed("The file's seed is outside 0 to 2^64 − 1.")
    return seed


def _float(value: Any, name: str) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValidationFailed(f"The file's {name} setting is not a number.")
    try:
        number = float(str(value).strip()[:40])
    except ValueError:
        raise ValidationFailed(f"The file's {name} setting is not a number.") from None
    if number != number or number in {float("inf"), float("-inf")}:
        raise ValidationFailed(f"The file's {name} setting is not a number.")
    return number


def _size(text: str | None, pattern: re.Pattern[str]) -> tuple[int | None, int | None]:
    if not text:
        return None, None
    match = pattern.match(text)
    if match is None:
        raise ValidationFailed(f"The file's size setting {text[:40]!r} is not W×H.")
    return int(match.group(1)), int(match.group(2))
