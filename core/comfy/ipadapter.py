"""IP-Adapter presets: how reference pictures guide a picture (her face, her whole look, the
style or the composition), as data/presets.toml names them; pure.

The enum lists are ComfyUI_IPAdapter_plus's own (IPAdapterAdvanced's `weight_type` and
`embeds_scaling` as `/object_info` reports them; a unit test holds them equal to
`shared/comfy/object_info.json`), so a preset that loads here builds a graph the real server
accepts. A preset names its adapter file, loaded by IPAdapterModelLoader (the file the health
check verifies) rather than by IPAdapterUnifiedLoader's name patterns; the shipped `face`
preset loads the file IPAdapterUnifiedLoader's "PLUS FACE (portraits)" would, `likeness` the
one of "PLUS (high strength)".
"""

from __future__ import annotations

from dataclasses import dataclass

WEIGHT_TYPES = (
    "linear", "ease in", "ease out", "ease in-out", "reverse in-out", "weak input",
    "weak output", "weak middle", "strong middle", "style transfer", "composition",
    "strong style transfer", "style and composition", "style transfer precise",
    "composition precise",
)  # fmt: skip
EMBEDS_SCALING = ("V only", "K+V", "K+V w/ C penalty", "K+mean(V) w/ C penalty")


@dataclass(frozen=True)
class IpAdapterPreset:
    """One way reference pictures guide a generation."""

    name: str
    label: str
    """What the Studio and the muse form show."""
    model: str
    """The adapter file in models/ipadapter."""
    weight_type: str
    embeds_scaling: str
    start_at: float
    end_at: float


def check_preset(preset: IpAdapterPreset) -> None:
    """Raise ValueError naming the field when the preset would be refused by ComfyUI."""
    if preset.weight_type not in WEIGHT_TYPES:
        raise ValueError(f"weight_type {preset.weight_type!r} is not one of IPAdapterAdvanced's")
    if preset.embeds_scaling not in EMBEDS_SCALING:
        raise ValueError(
            f"embeds_scaling {preset.embeds_scaling!r} is not one of IPAdapterAdvanced's"
        )
    if not 0.0 <= preset.start_at < preset.end_at <= 1.0:
        raise ValueError("start_at and end_at must satisfy 0 <= start_at < end_at <= 1")
