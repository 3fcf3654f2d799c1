"""Quality presets and the models offered per kind, read from the editable data/presets.toml."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.comfy.catalogue import Catalogue, CatalogueSpec
from core.config import REPO_ROOT
from core.errors import ConfigError, ValidationFailed

DEFAULT_PATH = REPO_ROOT / "data" / "presets.toml"


@dataclass(frozen=True)
class Preset:
    """One quality level of one kind. Images have `length` 1 and `fps` None."""

    name: str
    kind: str
    steps: int
    cfg: float
    sampler_name: str
    scheduler: str
    width: int
    height: int
    length: int
    fps: float | None
    expected_seconds: float


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _ImagePreset(_Strict):
    steps: int = Field(ge=1, le=200)
    cfg: float = Field(gt=0, le=30)
    sampler_name: str = Field(min_length=1)
    scheduler: str = Field(min_length=1)
    width: int = Field(ge=64, le=4096, multiple_of=8)
    height: int = Field(ge=64, le=4096, multiple_of=8)
    expected_seconds: float = Field(gt=0)


class _VideoPreset(_ImagePreset):
    width: int = Field(ge=64, le=4096, multiple_of=16)
    height: int = Field(ge=64, le=4096, multiple_of=16)
    length: int = Field(ge=1, le=1024)
    fps: float = Field(gt=0, le=120)

    @model_validator(mode="after")
    def _length_is_4n_plus_1(self) -> _VideoPreset:
        if (self.length - 1) % 4:
            raise ValueError(f"length must be 4n+1 frames (1, 5, ..., 81), not {self.length}")
        return self


class _Models(_Strict):
    models: list[str] = Field(min_length=1)
    default_model: str

    @model_validator(mode="after")
    def _default_is_offered(self) -> _Models:
        if self.default_model not in self.models:
            raise ValueError(f"default_model {self.default_model!r} is not in models")
        return self


class _ImageKind(_Models):
    ipadapter_model: str = Field(min_length=1)
    clip_vision_model: str = Field(min_length=1)
    presets: dict[str, _ImagePreset] = Field(min_length=1)


class _VideoKind(_Models):
    text_encoder: str = Field(min_length=1)
    vae: str = Field(min_length=1)
    presets: dict[str, _VideoPreset] = Field(min_length=1)


class _Download(_Strict):
    url: str
    sha256: str | None = Field(default=None, pattern="^[0-9a-f]{64}$")
    size_bytes: int | None = Field(default=None, gt=0)


class _File(_Strict):
    default_negative: str
    image: _ImageKind
    video: _VideoKind
    custom_nodes: dict[str, str] = Field(default_factory=dict)
    downloads: dict[str, str | _Download] = Field(default_factory=dict)
    catalogue: CatalogueSpec

    @model_validator(mode="after")
    def _downloads_name_a_folder_and_a_url(self) -> _File:
        for target, entry in self.downloads.items():
            url = entry if isinstance(entry, str) else entry.url
            if target.count("/") != 1 or not url.startswith("https://"):
                raise ValueError(f"downloads: {target!r} needs `folder/file` = an https URL")
        return self


@dataclass(frozen=True)
class ModelDownload:
    """Where an instance fetches one model file, and what the file must be when known (its
    sha256 and size; else the start script trusts the source's own metadata)."""

    url: str
    sha256: str | None = None
    size_bytes: int | None = None


class Presets:
    """The presets and models of both kinds ("image", "video"); immutable once loaded.

    Every method taking `kind` accepts a plain string or a `MediaKind` and raises
    ValidationFailed for a kind it does not know.
    """

    def __init__(self, spec: _File) -> None:
        self._spec = spec
        self._models: dict[str, _Models] = {"image": spec.image, "video": spec.video}
        self.catalogue = Catalogue(spec.catalogue)
        self._presets: dict[str, dict[str, Preset]] = {
            "image": {
                name: Preset(name=name, kind="image", length=1, fps=None, **p.model_dump())
                for name, p in spec.image.presets.items()
            },
            "video": {
                name: Preset(name=name, kind="video", **p.model_dump())
                for name, p in spec.video.presets.items()
            },
        }

    @classmethod
    def load(cls, path: Path | None = None) -> Presets:
        """Read and validate the presets file (default data/presets.toml).

        Raises ConfigError naming the file and each problem: unreadable file, invalid TOML,
        a missing field, a wrong type, an unknown kind or key, a default model not offered.
        """
        path = path or DEFAULT_PATH
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read presets ({exc.strerror})") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from None
        return cls.from_mapping(raw, source=str(path))

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], *, source: str = "presets") -> Presets:
        """Validate already-parsed presets data; raise ConfigError naming each problem."""
        try:
            return cls(_File.model_validate(dict(raw)))
        except ValidationError as exc:
            problems = [
                f"{'.'.join(str(part) for part in error['loc']) or 'file'}: {error['msg']}"
                for error in exc.errors()
            ]
            raise ConfigError(f"{source}: invalid presets: " + "; ".join(problems)) from None

    def _check_kind(self, kind: str) -> None:
        if kind not in self._presets:
            raise ValidationFailed(
                f"Unknown kind {kind!r}; choose one of: {', '.join(self._presets)}."
            )

    def preset(self, name: str, kind: str) -> Preset:
        """The preset `name` of `kind`; ValidationFailed listing the valid names if unknown."""
        self._check_kind(kind)
        presets = self._presets[kind]
        if name not in presets:
            raise ValidationFailed(
                f"Unknown {kind} quality {name!r}; choose one of: {', '.join(presets)}."
            )
        return presets[name]

    def names(self, kind: str) -> list[str]:
        """Preset names of `kind` in file order (low to ultra as shipped)."""
        self._check_kind(kind)
        return list(self._presets[kind])

    def models(self, kind: str) -> list[str]:
        """Model files offered for `kind`, in file order."""
        self._check_kind(kind)
        return list(self._models[kind].models)

    def default_model(self, kind: str) -> str:
        """The model used for `kind` when a request names none."""
        self._check_kind(kind)
        return self._models[kind].default_model

    @property
    def default_negative(self) -> str:
        """The negative prompt the studio form starts with."""
        return self._spec.default_negative

    @property
    def ipadapter_model(self) -> str:
        """The IP-Adapter file (models/ipadapter) reference-image graphs load."""
        return self._spec.image.ipadapter_model

    @property
    def clip_vision_model(self) -> str:
        """The CLIP vision encoder file (models/clip_vision) reference-image graphs load."""
        return self._spec.image.clip_vision_model

    @property
    def video_text_encoder(self) -> str:
        """The text encoder file (models/text_encoders) every video graph loads."""
        return self._spec.video.text_encoder

    @property
    def video_vae(self) -> str:
        """The VAE file (models/vae) every video graph loads."""
        return self._spec.video.vae

    def required_models(self) -> dict[str, set[str]]:
        """ComfyUI model folder -> files that must be present before an instance takes jobs.

        Every offered model (LoRAs and upscalers included) is required, since any queued job
        may ask for any of them.
        """
        return {
            "checkpoints": set(self._spec.image.models),
            "diffusion_models": set(self._spec.video.models),
            "text_encoders": {self._spec.video.text_encoder},
            "vae": {self._spec.video.vae},
            "ipadapter": {self._spec.image.ipadapter_model},
            "clip_vision": {self._spec.image.clip_vision_model},
            **self.catalogue.files(),
        }

    def custom_nodes(self) -> dict[str, str]:
        """Custom node packs the graphs need: name -> git URL an instance installs them from."""
        return dict(self._spec.custom_nodes)

    def downloads(self) -> dict[str, ModelDownload]:
        """`folder/file` -> where an instance fetches that model file at start, and its
        pinned sha256 and size where `[downloads]` gives them."""
        return {
            target: ModelDownload(entry)
            if isinstance(entry, str)
            else ModelDownload(entry.url, entry.sha256, entry.size_bytes)
            for target, entry in self._spec.downloads.items()
        }
