"""Quality presets and the models offered per kind, read from the editable data/presets.toml."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.comfy.catalogue import Catalogue, CatalogueSpec
from core.comfy.ipadapter import IpAdapterPreset, check_preset
from core.config import REPO_ROOT
from core.errors import ConfigError, ValidationFailed

DEFAULT_PATH = REPO_ROOT / "data" / "presets.toml"
IMAGE_FOLDERS = frozenset(
    {"checkpoints", "ipadapter", "clip_vision", "loras", "upscale_models", "ultralytics"}
)
"""ComfyUI model folders image graphs load from (fetched before the video models)."""
FACE_DETECTOR_FOLDER = "ultralytics"
"""The models folder the Impact Subpack lists face detectors from (`bbox/<file>`)."""
PINNED_REPO = re.compile(r"^https://[^\s@]+@[0-9a-f]{40}$")
"""A custom node pack's source: an https git URL and the full commit an instance checks out."""
NODE_FOLDER = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")


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


class _ReferencePreset(_Strict):
    label: str = Field(min_length=1, max_length=80)
    ipadapter_model: str | None = Field(default=None, min_length=1)
    weight_type: str = "linear"
    embeds_scaling: str = "V only"
    start_at: float = 0.0
    end_at: float = 1.0


class _ImageKind(_Models):
    ipadapter_model: str = Field(min_length=1)
    clip_vision_model: str = Field(min_length=1)
    reference_presets: dict[str, _ReferencePreset] = Field(
        default_factory=lambda: {"likeness": _ReferencePreset(label="Likeness")}
    )
    default_reference_preset: str = "likeness"
    face_detector: str | None = Field(default=None, min_length=1)
    """The face fix's bbox model as UltralyticsDetectorProvider lists it (`bbox/<file>` of
    models/ultralytics); none: no face fix."""
    presets: dict[str, _ImagePreset] = Field(min_length=1)

    @model_validator(mode="after")
    def _reference_presets_run(self) -> _ImageKind:
        if self.default_reference_preset not in self.reference_presets:
            raise ValueError(
                f"default_reference_preset {self.default_reference_preset!r} "
                "is not in reference_presets"
            )
        for name in self.reference_presets:
            check_preset(self.reference_preset(name))
        return self

    def reference_preset(self, name: str) -> IpAdapterPreset:
        spec = self.reference_presets[name]
        return IpAdapterPreset(
            name=name,
            label=spec.label,
            model=spec.ipadapter_model or self.ipadapter_model,
            weight_type=spec.weight_type,
            embeds_scaling=spec.embeds_scaling,
            start_at=spec.start_at,
            end_at=spec.end_at,
        )


class _VideoKind(_Models):
    text_encoder: str = Field(min_length=1)
    vae: str = Field(min_length=1)
    presets: dict[str, _VideoPreset] = Field(min_length=1)
    i2v_model: str | None = Field(default=None, min_length=1)
    """The image-to-video diffusion model (models/diffusion_models); none: no image-to-video."""
    clip_vision: str | None = Field(default=None, min_length=1)
    """The CLIP vision encoder (models/clip_vision) image-to-video graphs load."""

    @model_validator(mode="after")
    def _i2v_names_both_files(self) -> _VideoKind:
        if (self.i2v_model is None) != (self.clip_vision is None):
            raise ValueError("image-to-video needs both i2v_model and clip_vision, or neither")
        return self


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
            parts = target.split("/")  # `folder/file`, or `folder/sub/file` (ultralytics/bbox)
            bad_part = {"", ".", ".."} & set(parts)
            if len(parts) < 2 or bad_part or not url.startswith("https://"):
                raise ValueError(f"downloads: {target!r} needs `folder/file` = an https URL")
        return self

    @model_validator(mode="after")
    def _custom_nodes_are_pinned(self) -> _File:
        for folder, source in self.custom_nodes.items():
            if not NODE_FOLDER.match(folder) or ".." in folder.split("/"):
                raise ValueError(f"custom_nodes: {folder!r} is not a folder name")
            if not PINNED_REPO.match(source):
                raise ValueError(
                    f"custom_nodes: {folder!r} needs an https git URL pinned to a full commit "
                    "(https://...@<40 hex digits>)"
                )
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

    def reference_preset_names(self) -> list[str]:
        """The IP-Adapter presets' names in file order (the default first in the Studio)."""
        return list(self._spec.image.reference_presets)

    @property
    def default_reference_preset(self) -> str:
        """The IP-Adapter preset a request naming none uses."""
        return self._spec.image.default_reference_preset

    def reference_preset(self, name: str = "") -> IpAdapterPreset:
        """The IP-Adapter preset `name` ("" for the default); ValidationFailed listing the
        names if unknown."""
        image = self._spec.image
        chosen = name or image.default_reference_preset
        if chosen not in image.reference_presets:
            raise ValidationFailed(
                f"Unknown reference preset {chosen!r}; choose one of: "
                f"{', '.join(image.reference_presets)}."
            )
        return image.reference_preset(chosen)

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

    @property
    def i2v_model(self) -> str | None:
        """The image-to-video model file (models/diffusion_models); None if not offered."""
        return self._spec.video.i2v_model

    @property
    def i2v_clip_vision(self) -> str | None:
        """The CLIP vision file (models/clip_vision) image-to-video graphs load."""
        return self._spec.video.clip_vision

    @property
    def face_detector(self) -> str | None:
        """The face fix's detector (`bbox/<file>` of models/ultralytics), None if not offered."""
        return self._spec.image.face_detector

    def required_models(self) -> dict[str, set[str]]:
        """ComfyUI model folder -> files that must be present before an instance takes jobs.

        Every offered model (LoRAs and upscalers included) is required, since any queued job
        may ask for any of them.
        """
        video = self._spec.video
        i2v = {video.i2v_model} if video.i2v_model else set()
        i2v_vision = {video.clip_vision} if video.clip_vision else set()
        return {
            "checkpoints": set(self._spec.image.models),
            "diffusion_models": set(video.models) | i2v,
            "text_encoders": {video.text_encoder},
            "vae": {video.vae},
            "ipadapter": {
                self._spec.image.ipadapter_model,
                *(self.reference_preset(name).model for name in self.reference_preset_names()),
            },
            "clip_vision": {self._spec.image.clip_vision_model} | i2v_vision,
            **self.catalogue.files(),
            **({FACE_DETECTOR_FOLDER: {self.face_detector}} if self.face_detector else {}),
        }

    def custom_nodes(self) -> dict[str, str]:
        """Custom node packs the graphs need: folder under custom_nodes -> `git URL@commit`
        an instance installs them from."""
        return dict(self._spec.custom_nodes)

    def first_image_files(self) -> frozenset[str]:
        """The downloads (`folder/file`) a first image needs: the default image checkpoint.

        An instance is ready once these are verified; the rest arrive in the background."""
        default = f"checkpoints/{self._spec.image.default_model}"
        return frozenset({default} & set(self._spec.downloads))

    def download_order(self) -> list[str]:
        """Every download, in the order a new instance fetches them: the first image's files,
        then the other image models and tools, then the rest (video)."""
        first = self.first_image_files()

        def rank(path: str) -> tuple[int, str]:
            if path in first:
                return 0, path
            return (1 if path.partition("/")[0] in IMAGE_FOLDERS else 2), path

        return sorted(self._spec.downloads, key=rank)

    def downloads(self) -> dict[str, ModelDownload]:
        """`folder/file` -> where an instance fetches that model file at start, and its
        pinned sha256 and size where `[downloads]` gives them."""
        return {
            target: ModelDownload(entry)
            if isinstance(entry, str)
            else ModelDownload(entry.url, entry.sha256, entry.size_bytes)
            for target, entry in self._spec.downloads.items()
        }
