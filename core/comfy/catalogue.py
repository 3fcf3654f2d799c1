"""The model catalogue in data/presets.toml: base families (native sizes, clip skip), which
family each checkpoint is, the LoRAs per family with their trigger words, and the upscalers.

A LoRA only works on checkpoints of its own base family (an SD 1.5 LoRA on SDXL fails or
produces noise), so every lookup here is by family.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.errors import ValidationFailed

MAX_SIDE = 2560
MIN_SIDE = 256
MAX_PIXELS = 2048 * 2048
MAX_UPSCALED_PIXELS = 36_000_000
"""An upscale's output: under the media store's 40 MP cap on what it keeps."""
"""Custom sizes: each side MIN_SIDE..MAX_SIDE in steps of 8 (EmptyLatentImage's step), and at
most MAX_PIXELS; beyond that SDXL repeats its subject and a 24 GB card runs out of memory."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def parse_size(text: str) -> tuple[int, int]:
    """ "832x1216" -> (832, 1216); ValueError for anything else."""
    width, sep, height = text.partition("x")
    if not sep or not width.isdigit() or not height.isdigit():
        raise ValueError(f"size {text!r} is not WIDTHxHEIGHT")
    return int(width), int(height)


class _Family(_Strict):
    label: str = Field(min_length=1)
    sizes: list[str] = Field(min_length=1)
    clip_skip: int = Field(default=1, ge=1, le=24)

    @field_validator("sizes")
    @classmethod
    def _sizes_are_sizes(cls, sizes: list[str]) -> list[str]:
        for text in sizes:
            width, height = parse_size(text)
            check_size(width, height)
        return sizes


class _Lora(_Strict):
    family: str
    label: str = Field(min_length=1)
    triggers: list[str] = Field(default_factory=list)
    default_weight: float = Field(default=1.0, ge=-2, le=2)


class _Upscaler(_Strict):
    label: str = Field(min_length=1)
    scale: int = Field(ge=1, le=8)


class CatalogueSpec(_Strict):
    """The `[catalogue]` table as written in the presets file."""

    families: dict[str, _Family] = Field(min_length=1)
    default_family: str
    checkpoints: dict[str, str] = Field(default_factory=dict)
    loras: dict[str, _Lora] = Field(default_factory=dict)
    upscalers: dict[str, _Upscaler] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _families_exist(self) -> CatalogueSpec:
        for name, family in [("default_family", self.default_family), *self.checkpoints.items()] + [
            (lora_name, lora.family) for lora_name, lora in self.loras.items()
        ]:
            if family not in self.families:
                raise ValueError(f"{name!r} names unknown family {family!r}")
        return self


@dataclass(frozen=True)
class Family:
    """A base model family: its native sizes (width, height) and CLIP skip default."""

    name: str
    label: str
    sizes: tuple[tuple[int, int], ...]
    clip_skip: int


@dataclass(frozen=True)
class LoraInfo:
    """One LoRA file (models/loras) of a family, with its trigger words."""

    name: str
    family: str
    label: str
    triggers: tuple[str, ...]
    default_weight: float


@dataclass(frozen=True)
class UpscalerInfo:
    """One upscale model file (models/upscale_models) and the factor it enlarges by."""

    name: str
    label: str
    scale: int


def check_size(width: int, height: int) -> None:
    """Raise ValueError unless (width, height) is a size the studio renders."""
    for side in (width, height):
        if not MIN_SIDE <= side <= MAX_SIDE or side % 8:
            raise ValueError(
                f"each side must be {MIN_SIDE} to {MAX_SIDE} pixels in steps of 8, not {side}"
            )
    if width * height > MAX_PIXELS:
        raise ValueError(f"{width}x{height} is more than {MAX_PIXELS // 1_000_000} megapixels")


class Catalogue:
    """Families, checkpoints, LoRAs and upscalers; immutable once loaded."""

    def __init__(self, spec: CatalogueSpec) -> None:
        self.spec = spec
        self._families = {
            name: Family(name, f.label, tuple(parse_size(s) for s in f.sizes), f.clip_skip)
            for name, f in spec.families.items()
        }
        self._loras = {
            name: LoraInfo(name, lora.family, lora.label, tuple(lora.triggers), lora.default_weight)
            for name, lora in spec.loras.items()
        }
        self._upscalers = {
            name: UpscalerInfo(name, up.label, up.scale) for name, up in spec.upscalers.items()
        }

    def family_of(self, checkpoint: str) -> Family:
        """The base family of `checkpoint` (the default family for one not listed)."""
        return self._families[self.spec.checkpoints.get(checkpoint, self.spec.default_family)]

    def loras(self) -> list[LoraInfo]:
        """Every LoRA, of every family, in file order."""
        return list(self._loras.values())

    def loras_for(self, checkpoint: str) -> list[LoraInfo]:
        """The LoRAs that work with `checkpoint` (those of its family), in file order."""
        family = self.family_of(checkpoint).name
        return [lora for lora in self._loras.values() if lora.family == family]

    def lora(self, name: str, *, checkpoint: str) -> LoraInfo:
        """LoRA `name` for use on `checkpoint`; ValidationFailed if unknown or of another
        family (the message names both families)."""
        lora = self._loras.get(name)
        if lora is None:
            raise ValidationFailed(f"Unknown LoRA {name!r}.")
        family = self.family_of(checkpoint)
        if lora.family != family.name:
            other = self._families[lora.family].label
            raise ValidationFailed(
                f"The LoRA {lora.label!r} is made for {other} models; "
                f"{checkpoint!r} is {family.label}."
            )
        return lora

    def upscalers(self) -> list[UpscalerInfo]:
        """Every upscale model, in file order."""
        return list(self._upscalers.values())

    def upscaler(self, name: str) -> UpscalerInfo:
        """Upscale model `name`; ValidationFailed if not catalogued."""
        found = self._upscalers.get(name)
        if found is None:
            raise ValidationFailed(f"Unknown upscale model {name!r}.")
        return found

    def files(self) -> dict[str, set[str]]:
        """ComfyUI model folder -> the LoRA and upscaler files an instance must have."""
        return {"loras": set(self._loras), "upscale_models": set(self._upscalers)}
