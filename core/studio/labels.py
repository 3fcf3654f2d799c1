"""What the Studio calls models and quality presets: names people read, not file names."""

from __future__ import annotations

import re

from core.comfy.presets import Preset

_EXTENSIONS = re.compile(r"\.(safetensors|ckpt|pt|pth|bin|gguf)$", re.IGNORECASE)
_ACRONYMS = {"sdxl", "xl", "sd", "t2v", "i2v", "fp16", "fp8", "vae"}


def model_name(file_name: str) -> str:
    """A model file's display name: extension dropped, separators as spaces, known acronyms
    upper-case, other words capitalised (`realvis_xl_4.0.safetensors` → `Realvis XL 4.0`)."""
    words = re.split(r"[_\-\s]+", _EXTENSIONS.sub("", file_name))
    return " ".join(
        word.upper() if word.lower() in _ACRONYMS else word[:1].upper() + word[1:]
        for word in words
        if word
    )


def preset_summary(preset: Preset) -> str:
    """What a quality preset means, in one line: steps, size (and length for a video) and
    the GPU time one item takes, e.g. `Medium · 28 steps · 1024×1024 · about 6 s each`."""
    parts = [preset.name.title(), f"{preset.steps} steps", f"{preset.width}×{preset.height}"]
    if preset.kind == "video" and preset.fps:
        parts.append(f"{preset.length / preset.fps:.1f} s clip")
    parts.append(f"about {preset.expected_seconds:g} s each")
    return " · ".join(parts)
