"""The creative tools on top of a preset: mode (txt2img, img2img, inpaint, upscale, facefix), size,
LoRAs, sampler controls, hires fix and face fix; their limits, validation and JSON form; pure.

Enum lists and ranges are ComfyUI v0.3.64's own (KSampler, LoraLoader, CLIPSetLastLayer,
VAEEncodeForInpaint, LatentUpscaleBy as `/object_info` reports them; a unit test holds them
equal to `shared/comfy/object_info.json`), so a request refused here would have been refused
by the real server, and one accepted here is accepted there. The face fix's limits are the
Impact Pack's FaceDetailer's (`sim/comfy/object_info_impact_pack.json`, from its source).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

from core.comfy.catalogue import MAX_UPSCALED_PIXELS, Catalogue, check_size
from core.comfy.presets import Preset
from core.errors import ValidationFailed

SAMPLERS = (
    "euler", "euler_cfg_pp", "euler_ancestral", "euler_ancestral_cfg_pp", "heun", "heunpp2",
    "dpm_2", "dpm_2_ancestral", "lms", "dpm_fast", "dpm_adaptive", "dpmpp_2s_ancestral",
    "dpmpp_2s_ancestral_cfg_pp", "dpmpp_sde", "dpmpp_sde_gpu", "dpmpp_2m", "dpmpp_2m_cfg_pp",
    "dpmpp_2m_sde", "dpmpp_2m_sde_gpu", "dpmpp_2m_sde_heun", "dpmpp_2m_sde_heun_gpu",
    "dpmpp_3m_sde", "dpmpp_3m_sde_gpu", "ddpm", "lcm", "ipndm", "ipndm_v", "deis",
    "res_multistep", "res_multistep_cfg_pp", "res_multistep_ancestral",
    "res_multistep_ancestral_cfg_pp", "gradient_estimation", "gradient_estimation_cfg_pp",
    "er_sde", "seeds_2", "seeds_3", "sa_solver", "sa_solver_pece", "ddim", "uni_pc",
    "uni_pc_bh2",
)  # fmt: skip
SCHEDULERS = (
    "simple", "sgm_uniform", "karras", "exponential", "ddim_uniform", "beta", "normal",
    "linear_quadratic", "kl_optimal",
)  # fmt: skip
LATENT_UPSCALE_METHODS = ("nearest-exact", "bilinear", "area", "bicubic", "bislerp")
MODES = ("txt2img", "img2img", "inpaint", "upscale", "facefix")
"""`facefix`: the face fix alone, on a source picture (no other sampling pass)."""
INPAINT_METHODS = ("noise_mask", "vae_inpaint")
"""`noise_mask`: VAEEncode + SetLatentNoiseMask (keeps what is under the mask as a start, any
denoise); `vae_inpaint`: VAEEncodeForInpaint (fills the masked area from grey, denoise 1)."""

MAX_LORAS = 5
MAX_LORA_WEIGHT = 2.0
MAX_STEPS = 150  # KSampler allows 10000; a GPU-hour per picture is not a studio setting
MAX_CFG = 30.0  # KSampler allows 100
MAX_GROW = 64  # VAEEncodeForInpaint.grow_mask_by max
MAX_FEATHER = 256
HIRES_SCALE = (1.1, 2.0)
HIRES_MAX_STEPS = 60
FACE_FIX_DENOISE = (0.05, 1.0)
"""FaceDetailer takes 0.0001..1; below 0.05 a face pass changes nothing visible."""
FACE_FIX_MAX_STEPS = 60
FACE_DILATION = 10
"""Pixels each detected face box grows by (FaceDetailer's `bbox_dilation` default)."""
FACE_FEATHER = 5
"""Pixels the pasted-back face's edge is feathered over (FaceDetailer's `feather` default)."""
FACE_GUIDE_SIZE = 1024
"""FaceDetailer's `guide_size`/`max_size`: a face crop is sampled at up to SDXL's native side
(FaceDetailer's own default, 512, is SD 1.5's)."""
VIDEO_MODES = ("txt2img", "img2video")
"""A video's modes: from the prompt alone (the tools' default mode) or animating a still."""
VIDEO_FORMATS = ("mp4", "webp")
"""`mp4`: H.264 MP4 (CreateVideo -> SaveVideo); `webp`: an animated WebP (SaveAnimatedWEBP)."""
VIDEO_LENGTHS = (17, 33, 49, 81)
"""Clip lengths offered, in frames (Wan 2.1 takes 4n+1: the first frame, then groups of 4)."""
VIDEO_FPS = (8, 12, 16, 24)
"""Frame rates offered (Wan 2.1 is trained at 16)."""
MAX_VIDEO_LENGTH = 129


@dataclass(frozen=True)
class Lora:
    """One LoRA file (models/loras) applied at `weight` to both the model and CLIP."""

    name: str
    weight: float = 1.0


@dataclass(frozen=True)
class Hires:
    """A hires fix: enlarge the first pass by `scale` (in latent space, or in pixels with
    `upscaler`), then a second sampler pass of `steps` at `denoise`."""

    scale: float = 1.5
    denoise: float = 0.4
    steps: int = 15
    upscaler: str | None = None
    method: str = "nearest-exact"


@dataclass(frozen=True)
class FaceFix:
    """A face fix: each face the detector finds above `confidence` is cropped, sampled again
    at `denoise` for `steps` (None: the preset's steps) and pasted back (FaceDetailer)."""

    denoise: float = 0.4
    confidence: float = 0.5
    steps: int | None = None


@dataclass(frozen=True)
class Tools:
    """What a generation uses beyond its preset; every default keeps the preset's picture.

    `source` and `mask` are image names (ComfyUI upload names in a graph, our media sha256
    in a job), `source_size` the source's (width, height). `width`/`height` override the
    preset's size for txt2img; img2img and inpaint keep the source's size; upscale enlarges
    the source by the upscaler's factor (or `upscale_by`).
    """

    mode: str = "txt2img"
    width: int | None = None
    height: int | None = None
    loras: tuple[Lora, ...] = ()
    steps: int | None = None
    cfg: float | None = None
    sampler_name: str | None = None
    scheduler: str | None = None
    clip_skip: int | None = None
    source: str | None = None
    source_size: tuple[int, int] | None = None
    mask: str | None = None
    denoise: float = 0.6
    mask_grow: int = 6
    mask_feather: int = 0
    inpaint_method: str = "noise_mask"
    hires: Hires | None = None
    face_fix: FaceFix | None = None
    upscaler: str | None = None
    upscale_by: float | None = None
    length: int | None = None
    fps: float | None = None
    video_format: str = "mp4"

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict that `from_json` turns back into these tools."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Tools:
        """The tools `to_json` wrote (an empty or missing dict: the defaults)."""
        if not data:
            return cls()
        values = dict(data)
        values["loras"] = tuple(Lora(**lora) for lora in values.get("loras", ()))
        if values.get("hires") is not None:
            values["hires"] = Hires(**values["hires"])
        if values.get("face_fix") is not None:
            values["face_fix"] = FaceFix(**values["face_fix"])
        if values.get("source_size") is not None:
            values["source_size"] = tuple(values["source_size"])
        return cls(**values)

    def with_images(self, source: str | None, mask: str | None) -> Tools:
        """The same tools naming other images (upload names instead of media hashes)."""
        return replace(self, source=source, mask=mask)


def tuned(preset: Preset, tools: Tools) -> Preset:
    """`preset` with the tools' sampler controls, custom size, clip length and frame rate
    in place of its own (an animated still: the preset's pixels in the still's shape)."""
    width, height = tools.width or preset.width, tools.height or preset.height
    if tools.mode == "img2video" and tools.source_size is not None:
        width, height = video_size(tools.source_size, (preset.width, preset.height))
    return replace(
        preset,
        steps=tools.steps if tools.steps is not None else preset.steps,
        cfg=tools.cfg if tools.cfg is not None else preset.cfg,
        sampler_name=tools.sampler_name or preset.sampler_name,
        scheduler=tools.scheduler or preset.scheduler,
        width=width,
        height=height,
        length=tools.length or preset.length,
        fps=tools.fps or preset.fps,
    )


def video_size(source: tuple[int, int], base: tuple[int, int]) -> tuple[int, int]:
    """The size an animated still is made at: about `base`'s pixel count in the shape of
    `source`, each side a multiple of 16 (WanImageToVideo's step), at least 16."""
    scale = math.sqrt(base[0] * base[1] / max(1, source[0] * source[1]))
    return tuple(max(16, round(side * scale / 16) * 16) for side in source)  # type: ignore[return-value]


def validate_video_tools(tools: Tools) -> None:
    """Refuse video tools the studio would not run, with a message fit to show: an image
    tool (LoRAs, sizes, masks...), an unknown mode or format, an animated still without a
    source, a length that is not 4n+1 frames or too long, a frame rate out of range."""
    video_fields = {"mode", "source", "source_size", "length", "fps", "video_format"}
    defaults = Tools()
    if any(getattr(tools, name) != getattr(defaults, name) for name in _field_names(video_fields)):
        raise ValidationFailed("LoRAs, sizes and image tools work with image generation only.")
    if tools.mode not in VIDEO_MODES:
        raise ValidationFailed(f"Unknown video mode {tools.mode!r}.")
    if tools.video_format not in VIDEO_FORMATS:
        raise ValidationFailed(
            f"Unknown video format {tools.video_format!r}; choose one of: "
            f"{', '.join(VIDEO_FORMATS)}."
        )
    if tools.mode == "img2video":
        _validate_source(tools)
    elif tools.source is not None:
        raise ValidationFailed("A source picture is animated only in image-to-video mode.")
    if tools.length is not None and (
        not 5 <= tools.length <= MAX_VIDEO_LENGTH or (tools.length - 1) % 4
    ):
        raise ValidationFailed(
            f"A clip is 4n+1 frames long (5, 9, ..., {MAX_VIDEO_LENGTH}), not {tools.length}."
        )
    if tools.fps is not None:
        _finite_between(tools.fps, 1.0, 60.0, "The frame rate")


def _field_names(keep: set[str]) -> list[str]:
    """The tools' fields other than `keep`."""
    return [name for name in Tools.__dataclass_fields__ if name not in keep]


def _finite_between(value: float, low: float, high: float, what: str) -> None:
    if not (math.isfinite(value) and low <= value <= high):
        raise ValidationFailed(f"{what} must be between {low:g} and {high:g}.")


def validate_tools(tools: Tools, *, checkpoint: str, catalogue: Catalogue) -> None:
    """Refuse tools the studio (and ComfyUI's schema) would not run, with a message fit to
    show: an unknown mode or enum value, a value out of range, a LoRA of another family or
    unknown, a missing source or mask, an oversized custom size, a face fix on an upscale."""
    if tools.mode not in MODES:
        raise ValidationFailed(f"Unknown mode {tools.mode!r}; choose one of: {', '.join(MODES)}.")
    if (tools.length, tools.fps, tools.video_format) != (None, None, "mp4"):
        raise ValidationFailed("Clip length, frame rate and video format apply to video only.")
    if tools.mode != "txt2img":
        _validate_source(tools)
    if tools.face_fix is not None:
        _validate_face_fix(tools.face_fix, tools.mode)
    if tools.mode == "upscale":
        if tools.upscaler is None:
            raise ValidationFailed("Choose an upscale model.")
        factor = catalogue.upscaler(tools.upscaler).scale
        if tools.upscale_by is not None:
            _finite_between(tools.upscale_by, 1.0, 8.0, "The upscale factor")
        width, height = output_size(tools, (0, 0), factor)
        if width * height > MAX_UPSCALED_PIXELS:
            raise ValidationFailed(
                f"Upscaled, that picture would be {width}x{height}: more than "
                f"{MAX_UPSCALED_PIXELS // 1_000_000} megapixels. Choose a smaller factor."
            )
        return
    _validate_size(tools)
    _validate_sampling(tools, catalogue, checkpoint)
    if tools.mode == "img2img":
        _finite_between(tools.denoise, 0.05, 1.0, "The denoise strength")
    if tools.mode == "inpaint":
        _validate_inpaint(tools)
    if tools.mode == "facefix" and tools.face_fix is None:
        raise ValidationFailed("Set the face fix's strength first.")
    if tools.hires is not None:
        if tools.mode in ("inpaint", "facefix"):
            raise ValidationFailed(
                f"Hires fix works with text-to-image and img2img, not {tools.mode}."
            )
        _validate_hires(tools.hires, catalogue)


def _validate_source(tools: Tools) -> None:
    if not tools.source:
        raise ValidationFailed("Choose a source picture first.")
    if tools.source_size is not None:
        try:
            check_size(*_floor8(tools.source_size))
        except ValueError as exc:
            raise ValidationFailed(
                f"The source picture is too large or too small: {exc}."
            ) from None


def _floor8(size: tuple[int, int]) -> tuple[int, int]:
    """The size VAEEncode works at: each side cut down to a multiple of 8."""
    return size[0] // 8 * 8, size[1] // 8 * 8


def _validate_size(tools: Tools) -> None:
    if (tools.width is None) != (tools.height is None):
        raise ValidationFailed("Give both a width and a height, or neither.")
    if tools.width is not None and tools.height is not None:
        try:
            check_size(tools.width, tools.height)
        except ValueError as exc:
            raise ValidationFailed(f"That size cannot be made: {exc}.") from None


def _validate_sampling(tools: Tools, catalogue: Catalogue, checkpoint: str) -> None:
    if tools.steps is not None and not 1 <= tools.steps <= MAX_STEPS:
        raise ValidationFailed(f"Steps must be between 1 and {MAX_STEPS}.")
    if tools.cfg is not None:
        _finite_between(tools.cfg, 0.0, MAX_CFG, "CFG")
    if tools.sampler_name is not None and tools.sampler_name not in SAMPLERS:
        raise ValidationFailed(f"Unknown sampler {tools.sampler_name!r}.")
    if tools.scheduler is not None and tools.scheduler not in SCHEDULERS:
        raise ValidationFailed(f"Unknown scheduler {tools.scheduler!r}.")
    if tools.clip_skip is not None and not 1 <= tools.clip_skip <= 24:
        raise ValidationFailed("CLIP skip must be between 1 and 24.")
    if len(tools.loras) > MAX_LORAS:
        raise ValidationFailed(f"Use at most {MAX_LORAS} LoRAs.")
    if len({lora.name for lora in tools.loras}) != len(tools.loras):
        raise ValidationFailed("Each LoRA can be used once.")
    for lora in tools.loras:
        catalogue.lora(lora.name, checkpoint=checkpoint)
        _finite_between(lora.weight, -MAX_LORA_WEIGHT, MAX_LORA_WEIGHT, "A LoRA weight")


def _validate_inpaint(tools: Tools) -> None:
    if not tools.mask:
        raise ValidationFailed("Draw or upload a mask first.")
    if tools.inpaint_method not in INPAINT_METHODS:
        raise ValidationFailed(f"Unknown inpaint method {tools.inpaint_method!r}.")
    if not 0 <= tools.mask_grow <= MAX_GROW:
        raise ValidationFailed(f"Mask growth must be between 0 and {MAX_GROW} pixels.")
    if not 0 <= tools.mask_feather <= MAX_FEATHER:
        raise ValidationFailed(f"Mask feathering must be between 0 and {MAX_FEATHER} pixels.")
    _finite_between(tools.denoise, 0.05, 1.0, "The denoise strength")


def _validate_hires(hires: Hires, catalogue: Catalogue) -> None:
    _finite_between(hires.scale, *HIRES_SCALE, "The hires scale")
    _finite_between(hires.denoise, 0.05, 1.0, "The hires denoise")
    if not 1 <= hires.steps <= HIRES_MAX_STEPS:
        raise ValidationFailed(f"Hires steps must be between 1 and {HIRES_MAX_STEPS}.")
    if hires.method not in LATENT_UPSCALE_METHODS:
        raise ValidationFailed(f"Unknown latent upscale method {hires.method!r}.")
    if hires.upscaler is not None:
        catalogue.upscaler(hires.upscaler)


def _validate_face_fix(face_fix: FaceFix, mode: str) -> None:
    if mode == "upscale":
        raise ValidationFailed("Face fix works with generation tools, not with upscale.")
    _finite_between(face_fix.denoise, *FACE_FIX_DENOISE, "The face fix denoise")
    _finite_between(face_fix.confidence, 0.05, 1.0, "The face detection confidence")
    if face_fix.steps is not None and not 1 <= face_fix.steps <= FACE_FIX_MAX_STEPS:
        raise ValidationFailed(f"Face fix steps must be between 1 and {FACE_FIX_MAX_STEPS}.")


def hires_size(width: int, height: int, scale: float) -> tuple[int, int]:
    """The second pass's size: each side times `scale`, rounded down to a multiple of 8."""
    return int(width * scale) // 8 * 8, int(height * scale) // 8 * 8


def output_size(tools: Tools, base: tuple[int, int], upscaler_scale: int = 4) -> tuple[int, int]:
    """The size of the pictures a request with `tools` makes, `base` being the preset's
    size: the custom size, else the source's (img2img, inpaint, facefix), times the hires
    scale or the upscale factor."""
    if tools.mode == "upscale":
        source = _floor8(tools.source_size or base)
        factor = tools.upscale_by or upscaler_scale
        return int(source[0] * factor), int(source[1] * factor)
    if tools.mode == "facefix" and tools.source_size is not None:
        size = tools.source_size  # never encoded: FaceDetailer keeps the picture's pixels
    elif tools.mode in ("img2img", "inpaint") and tools.source_size is not None:
        size = _floor8(tools.source_size)
    elif tools.width is not None and tools.height is not None:
        size = (tools.width, tools.height)
    else:
        size = base
    if tools.hires is not None:
        return hires_size(*size, tools.hires.scale)
    return size


def final_size(tools: Tools, preset: Preset, catalogue: Catalogue) -> tuple[int, int]:
    """The size of the pictures a request of `preset` with `tools` makes."""
    factor = catalogue.upscaler(tools.upscaler).scale if tools.upscaler else 4
    sized = tuned(preset, tools)
    return output_size(tools, (sized.width, sized.height), factor)
