"""GenerationRequest -> ComfyUI API-format graph; pure.

Image graphs: txt2img, img2img, inpaint (SetLatentNoiseMask or VAEEncodeForInpaint, the
result composited back onto the source outside the mask), each with LoRAs, CLIP skip,
IP-Adapter reference images, an optional hires fix (latent or model upscale, then a
second low-denoise pass) and an optional face fix (the Impact Pack's FaceDetailer on the
faces its UltralyticsDetectorProvider finds); a standalone face fix and a standalone model
upscale of a picture; Wan 2.1
text-to-video and image-to-video (WanImageToVideo with the still's CLIP vision embedding).

A graph is `{"<node id>": {"class_type": ..., "inputs": {...}}}`; an input linked to another
node's output is `["<node id>", output_index]`. Every graph has exactly one output node:
SaveImage for images; for video SaveVideo (H.264 MP4, after CreateVideo) or
SaveAnimatedWEBP. Input names, enums and ranges are ComfyUI's own (`shared/comfy/`), and
for the face fix the Impact Pack's (`sim/comfy/object_info_impact_pack.json`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from core.comfy.presets import Preset, Presets
from core.comfy.tokens import prompt_chunks
from core.comfy.tools import (
    FACE_DILATION,
    FACE_FEATHER,
    FACE_GUIDE_SIZE,
    FaceFix,
    Hires,
    Lora,
    Tools,
    hires_size,
    tuned,
    validate_tools,
    validate_video_tools,
)
from core.errors import ValidationFailed

MAX_SEED = 2**63 - 1  # ComfyUI takes 0..2**64-1; our database column is a signed 64-bit integer
MAX_BATCH = 8
MAX_REFERENCE_IMAGES = 8
MAX_REFERENCE_WEIGHT = 2.0
FILENAME_PREFIX = "aikings"
WAN_SHIFT = 8.0
IPADAPTER_NODES = ("IPAdapterModelLoader", "IPAdapterAdvanced")
"""Node classes of ComfyUI_IPAdapter_plus the reference-image graphs use."""
FACE_FIX_NODES = ("UltralyticsDetectorProvider", "FaceDetailer")
"""Node classes of the Impact Pack (FaceDetailer) and its Subpack (the detector) the face
fix uses."""


Graph = dict[str, dict[str, Any]]
Link = list[Any]


@dataclass(frozen=True)
class GenerationRequest:
    """One generation: prompts, model file, preset name, seed and optional reference images.

    `reference_images` are names ComfyUI knows (as returned by its upload endpoint).
    """

    positive: str
    negative: str
    model: str
    preset: str
    seed: int
    batch_size: int = 1
    kind: str = "image"
    reference_images: tuple[str, ...] = ()
    reference_weight: float = 0.8
    reference_preset: str = ""
    """An IP-Adapter preset of the presets file ("" for its default)."""
    tools: Tools = field(default_factory=Tools)


@dataclass
class _Builder:
    """Allocates node ids "1", "2", ... in insertion order."""

    nodes: Graph = field(default_factory=dict)

    def add(self, class_type: str, **inputs: Any) -> str:
        node_id = str(len(self.nodes) + 1)
        self.nodes[node_id] = {"class_type": class_type, "inputs": inputs}
        return node_id


def _out(node_id: str, index: int = 0) -> Link:
    return [node_id, index]


def required_nodes(presets: Presets) -> tuple[str, ...]:
    """Node classes outside ComfyUI core an instance must have for the presets' graphs:
    ComfyUI_IPAdapter_plus's, and the Impact Pack's when the presets offer a face fix."""
    return IPADAPTER_NODES + (FACE_FIX_NODES if presets.face_detector else ())


def validate(request: GenerationRequest, presets: Presets) -> Preset:
    """Check the request against the presets; return its preset (with the tools' sampler
    controls and size applied) or raise ValidationFailed."""
    preset = presets.preset(request.preset, request.kind)
    if request.kind == "video":
        validate_video_tools(request.tools)
    upscaling = request.tools.mode == "upscale"
    offered = offered_models(presets, request.kind, request.tools.mode)
    if request.model not in offered:
        raise ValidationFailed(
            f"Model {request.model!r} is not offered for {request.kind}; "
            f"choose one of: {', '.join(offered) or 'none'}."
        )
    if not upscaling and not request.positive.strip():
        raise ValidationFailed("The prompt is empty.")
    if not 0 <= request.seed <= MAX_SEED:
        raise ValidationFailed(f"The seed must be between 0 and {MAX_SEED}.")
    if not 1 <= request.batch_size <= MAX_BATCH:
        raise ValidationFailed(f"The batch size must be between 1 and {MAX_BATCH}.")
    if request.kind == "video" and request.batch_size != 1:
        raise ValidationFailed("Video makes one clip at a time: use a batch size of 1.")
    if request.reference_images:
        _validate_references(request, presets)
    if request.kind == "image":
        validate_tools(request.tools, checkpoint=request.model, catalogue=presets.catalogue)
        if request.tools.face_fix is not None and presets.face_detector is None:
            raise ValidationFailed("Face fix is not offered here (no face detector installed).")

    return tuned(preset, request.tools)


def offered_models(presets: Presets, kind: str, mode: str) -> list[str]:
    """The model files a request of `kind` in `mode` may name: image-to-video has its own
    model (none when the presets offer no image-to-video)."""
    if kind == "video" and mode == "img2video":
        return [presets.i2v_model] if presets.i2v_model else []
    return presets.models(kind)


def _validate_references(request: GenerationRequest, presets: Presets) -> None:
    if request.kind != "image":
        raise ValidationFailed("Reference images work with image generation only.")
    if len(request.reference_images) > MAX_REFERENCE_IMAGES:
        raise ValidationFailed(f"Use at most {MAX_REFERENCE_IMAGES} reference images.")
    if not all(name.strip() for name in request.reference_images):
        raise ValidationFailed("A reference image has no name.")
    presets.reference_preset(request.reference_preset)  # ValidationFailed if unknown
    weight = request.reference_weight
    if not (math.isfinite(weight) and 0.0 < weight <= MAX_REFERENCE_WEIGHT):
        raise ValidationFailed(
            f"The reference strength must be above 0 and at most {MAX_REFERENCE_WEIGHT}."
        )


def build_graph(request: GenerationRequest, presets: Presets) -> Graph:
    """The ComfyUI API graph for `request`, after validating it (ValidationFailed if invalid).

    Shapes: txt2img; txt2img with IP-Adapter reference images feeding the sampler's model;
    Wan 2.1 text-to-video. The result has one output node and no dangling links.
    """
    preset = validate(request, presets)
    if request.kind == "video":
        return _video(request, preset, presets)
    return _image(request, preset, presets)


def _image(request: GenerationRequest, preset: Preset, presets: Presets) -> Graph:
    tools = request.tools
    g = _Builder()
    if tools.mode == "upscale":
        _upscale(g, tools, presets)
        return g.nodes
    ckpt = g.add("CheckpointLoaderSimple", ckpt_name=request.model)
    model, clip, vae = _loras(g, _out(ckpt, 0), _out(ckpt, 1), tools.loras)
    clip_skip = tools.clip_skip or presets.catalogue.family_of(request.model).clip_skip
    if clip_skip > 1:
        clip = _out(g.add("CLIPSetLastLayer", clip=clip, stop_at_clip_layer=-clip_skip))
    if request.reference_images:
        model = _ipadapter(g, model, request, presets)
    positive = _encode(g, request.positive, clip)
    negative = _encode(g, request.negative, clip)
    sample = _Sampling(g, request, preset, model, positive, negative)
    source = _out(g.add("LoadImage", image=tools.source)) if tools.source else None
    if tools.mode == "facefix" and source is not None:
        # The face fix alone, on the picture as it is; a batch gets one take per item
        # (FaceDetailer samples item i at seed + i).
        images = source
        if request.batch_size > 1:
            repeated = g.add("RepeatImageBatch", image=source, amount=request.batch_size)
            images = _out(repeated)
    else:
        images = _generate(g, request, preset, sample, source, vae)
    if tools.face_fix is not None:
        conditioning = (model, clip, vae, positive, negative)
        images = _face_fix(g, tools.face_fix, images, conditioning, sample, presets)
    g.add("SaveImage", images=images, filename_prefix=FILENAME_PREFIX)
    return g.nodes


def _generate(
    g: _Builder,
    request: GenerationRequest,
    preset: Preset,
    sample: _Sampling,
    source: Link | None,
    vae: Link,
) -> Link:
    """The decoded pictures of a txt2img, img2img or inpaint pass (and its hires fix); an
    inpaint composited onto its source outside the mask."""
    tools = request.tools
    mask: Link | None = None
    if tools.mode == "txt2img" or source is None:
        latent = _out(
            g.add(
                "EmptyLatentImage",
                width=preset.width,
                height=preset.height,
                batch_size=request.batch_size,
            )
        )
        samples = sample(latent, denoise=1.0)
    elif tools.mode == "img2img":
        latent = _batched(g, _out(g.add("VAEEncode", pixels=source, vae=vae)), request)
        samples = sample(latent, denoise=tools.denoise)
    else:
        mask = _mask(g, tools)
        samples = _inpaint(g, tools, request, sample, source, mask, vae)
    if tools.hires is not None:
        samples = _hires(g, tools.hires, sample, samples, vae, preset)
    images = _out(g.add("VAEDecode", samples=samples, vae=vae))
    if mask is not None and source is not None:
        images = _composite(g, source, images, mask)
    return images


def _encode(g: _Builder, text: str, clip: Link) -> Link:
    """The text's conditioning. A text of one CLIP window is one CLIPTextEncode of the text
    as written; a longer one is cut at its commas into 75-token chunks, each encoded on its
    own and joined in order with ConditioningConcat, so every phrase is read in full in a
    window of its own (none is cut at a window's edge, none weakened past the first)."""
    chunks = prompt_chunks(text)
    if len(chunks) <= 1:
        return _out(g.add("CLIPTextEncode", text=text, clip=clip))
    conditioning = _out(g.add("CLIPTextEncode", text=chunks[0].text, clip=clip))
    for chunk in chunks[1:]:
        encoded = _out(g.add("CLIPTextEncode", text=chunk.text, clip=clip))
        joined = g.add(
            "ConditioningConcat", conditioning_to=conditioning, conditioning_from=encoded
        )
        conditioning = _out(joined)
    return conditioning


def _loras(
    g: _Builder, model: Link, clip: Link, loras: tuple[Lora, ...]
) -> tuple[Link, Link, Link]:
    """Chain one LoraLoader per LoRA (model and CLIP at its weight); return (model, clip,
    vae), the VAE being the checkpoint's (slot 2 of the loader `model` comes from)."""
    vae = [model[0], 2]
    for lora in loras:
        node = g.add(
            "LoraLoader",
            model=model,
            clip=clip,
            lora_name=lora.name,
            strength_model=lora.weight,
            strength_clip=lora.weight,
        )
        model, clip = _out(node, 0), _out(node, 1)
    return model, clip, vae


@dataclass
class _Sampling:
    """Adds a KSampler with the request's seed and the (tuned) preset's settings."""

    g: _Builder
    request: GenerationRequest
    preset: Preset
    model: Link
    positive: Link
    negative: Link

    def __call__(self, latent: Link, *, denoise: float, steps: int | None = None) -> Link:
        node = self.g.add(
            "KSampler",
            model=self.model,
            seed=self.request.seed,
            steps=steps or self.preset.steps,
            cfg=self.preset.cfg,
            sampler_name=self.preset.sampler_name,
            scheduler=self.preset.scheduler,
            positive=self.positive,
            negative=self.negative,
            latent_image=latent,
            denoise=denoise,
        )
        return _out(node)


def _batched(g: _Builder, latent: Link, request: GenerationRequest) -> Link:
    """One encoded source repeated into a batch (each item gets its own noise)."""
    if request.batch_size == 1:
        return latent
    return _out(g.add("RepeatLatentBatch", samples=latent, amount=request.batch_size))


def _mask(g: _Builder, tools: Tools) -> Link:
    """The mask (white = repaint, read from the red channel), grown and feathered."""
    mask = _out(g.add("LoadImageMask", image=tools.mask, channel="red"))
    if tools.inpaint_method == "noise_mask" and tools.mask_grow:
        mask = _out(g.add("GrowMask", mask=mask, expand=tools.mask_grow, tapered_corners=True))
    if tools.mask_feather:
        side = tools.mask_feather
        mask = _out(g.add("FeatherMask", mask=mask, left=side, top=side, right=side, bottom=side))
    return mask


def _inpaint(
    g: _Builder,
    tools: Tools,
    request: GenerationRequest,
    sample: _Sampling,
    source: Link,
    mask: Link,
    vae: Link,
) -> Link:
    if tools.inpaint_method == "vae_inpaint":
        # VAEEncodeForInpaint greys out the masked area: only a full denoise repaints it.
        greyed = g.add(
            "VAEEncodeForInpaint",
            pixels=source,
            vae=vae,
            mask=mask,
            grow_mask_by=tools.mask_grow,
        )
        return sample(_batched(g, _out(greyed), request), denoise=1.0)
    encoded = _out(g.add("VAEEncode", pixels=source, vae=vae))
    latent = _out(g.add("SetLatentNoiseMask", samples=encoded, mask=mask))
    return sample(_batched(g, latent, request), denoise=tools.denoise)


def _composite(g: _Builder, source: Link, images: Link, mask: Link) -> Link:
    """The generated pixels inside the mask over the untouched source outside it."""
    node = g.add(
        "ImageCompositeMasked",
        destination=source,
        source=images,
        x=0,
        y=0,
        resize_source=False,
        mask=mask,
    )
    return _out(node)


def _hires(
    g: _Builder, hires: Hires, sample: _Sampling, samples: Link, vae: Link, preset: Preset
) -> Link:
    """Enlarge the first pass (in latent space, or decoded, through the upscale model and
    scaled to the target size, then encoded again) and sample it again at low denoise."""
    if hires.upscaler is None:
        node = g.add(
            "LatentUpscaleBy", samples=samples, upscale_method=hires.method, scale_by=hires.scale
        )
        return sample(_out(node), denoise=hires.denoise, steps=hires.steps)
    width, height = hires_size(preset.width, preset.height, hires.scale)
    decoded = _out(g.add("VAEDecode", samples=samples, vae=vae))
    enlarged = _model_upscale(g, hires.upscaler, decoded)
    scaled = g.add(
        "ImageScale",
        image=enlarged,
        upscale_method="lanczos",
        width=width,
        height=height,
        crop="disabled",
    )
    encoded = g.add("VAEEncode", pixels=_out(scaled), vae=vae)
    return sample(_out(encoded), denoise=hires.denoise, steps=hires.steps)


def _face_fix(
    g: _Builder,
    face_fix: FaceFix,
    images: Link,
    conditioning: tuple[Link, Link, Link, Link, Link],
    sample: _Sampling,
    presets: Presets,
) -> Link:
    """The finished pictures with every detected face sampled again: the face detector
    (bbox model, no SAM or segmentation refinement) feeds FaceDetailer, which crops each face
    with context, samples it with the picture's own model, prompts and sampler at the face
    fix's denoise, and pastes it back with a feathered mask. Inputs in declaration order."""
    model, clip, vae, positive, negative = conditioning
    detector = g.add("UltralyticsDetectorProvider", model_name=presets.face_detector)
    preset = sample.preset
    node = g.add(
        "FaceDetailer",
        image=images,
        model=model,
        clip=clip,
        vae=vae,
        guide_size=FACE_GUIDE_SIZE,
        guide_size_for=True,
        max_size=FACE_GUIDE_SIZE,
        seed=sample.request.seed,
        steps=face_fix.steps or preset.steps,
        cfg=preset.cfg,
        sampler_name=preset.sampler_name,
        scheduler=preset.scheduler,
        positive=positive,
        negative=negative,
        denoise=face_fix.denoise,
        feather=FACE_FEATHER,
        noise_mask=True,
        force_inpaint=True,
        bbox_threshold=face_fix.confidence,
        bbox_dilation=FACE_DILATION,
        bbox_crop_factor=3.0,
        sam_detection_hint="center-1",
        sam_dilation=0,
        sam_threshold=0.93,
        sam_bbox_expansion=0,
        sam_mask_hint_threshold=0.7,
        sam_mask_hint_use_negative="False",
        drop_size=10,
        bbox_detector=_out(detector, 0),
        wildcard="",
        cycle=1,
    )
    return _out(node, 0)


def _model_upscale(g: _Builder, upscaler: str, image: Link) -> Link:
    loader = g.add("UpscaleModelLoader", model_name=upscaler)
    return _out(g.add("ImageUpscaleWithModel", upscale_model=_out(loader), image=image))


def _upscale(g: _Builder, tools: Tools, presets: Presets) -> None:
    """A source picture through an upscale model (then scaled to `upscale_by` when that
    differs from the model's own factor), saved."""
    assert tools.upscaler is not None  # validate_tools refuses an upscale without one
    image = _model_upscale(g, tools.upscaler, _out(g.add("LoadImage", image=tools.source)))
    factor = presets.catalogue.upscaler(tools.upscaler).scale
    if tools.upscale_by is not None and tools.upscale_by != factor:
        node = g.add(
            "ImageScaleBy",
            image=image,
            upscale_method="lanczos",
            scale_by=tools.upscale_by / factor,
        )
        image = _out(node)
    g.add("SaveImage", images=image, filename_prefix=FILENAME_PREFIX)


def _ipadapter(g: _Builder, model: Link, request: GenerationRequest, presets: Presets) -> Link:
    """Chain one IPAdapterAdvanced per reference image onto `model`; return the last model.

    The request's reference preset (face, likeness, style, composition...) sets the adapter
    file, weight type, embeds scaling and the steps it acts on. The adapter and its CLIP
    vision encoder are loaded by the file names in the presets (the names the health check
    verifies), not by IPAdapterUnifiedLoader, which picks files by a name pattern of its own.
    The images are chained rather than batched (batching would need an ImageBatch node per
    pair). Chained adapters add their attention terms, so each gets an
    equal share of `reference_weight`: several photos of one character pull as hard as a
    single one would.
    """
    how = presets.reference_preset(request.reference_preset)
    ipadapter = g.add("IPAdapterModelLoader", ipadapter_file=how.model)
    clip_vision = g.add("CLIPVisionLoader", clip_name=presets.clip_vision_model)
    share = request.reference_weight / len(request.reference_images)
    for name in request.reference_images:
        image = g.add("LoadImage", image=name)
        adapter = g.add(
            "IPAdapterAdvanced",
            model=model,
            ipadapter=_out(ipadapter),
            image=_out(image),
            weight=share,
            weight_type=how.weight_type,
            start_at=how.start_at,
            end_at=how.end_at,
            combine_embeds="concat",
            embeds_scaling=how.embeds_scaling,
            clip_vision=_out(clip_vision),
        )
        model = _out(adapter, 0)
    return model


def _video(request: GenerationRequest, preset: Preset, presets: Presets) -> Graph:
    """Wan 2.1 from an empty latent (text-to-video) or from a still (image-to-video: the
    still and its CLIP vision embedding condition WanImageToVideo, which makes the latent);
    then sampled, decoded and saved in the requested format."""
    g = _Builder()
    unet = g.add("UNETLoader", unet_name=request.model, weight_dtype="default")
    clip = g.add("CLIPLoader", clip_name=presets.video_text_encoder, type="wan")
    vae = _out(g.add("VAELoader", vae_name=presets.video_vae))
    model = g.add("ModelSamplingSD3", model=_out(unet), shift=WAN_SHIFT)
    positive = _out(g.add("CLIPTextEncode", text=request.positive, clip=_out(clip)))
    negative = _out(g.add("CLIPTextEncode", text=request.negative, clip=_out(clip)))
    size = {"width": preset.width, "height": preset.height, "length": preset.length}
    if request.tools.mode == "img2video":
        still = _out(g.add("LoadImage", image=request.tools.source))
        vision = g.add("CLIPVisionLoader", clip_name=presets.i2v_clip_vision)
        seen = g.add("CLIPVisionEncode", clip_vision=_out(vision), image=still, crop="none")
        conditioned = g.add(
            "WanImageToVideo",
            positive=positive,
            negative=negative,
            vae=vae,
            **size,
            batch_size=1,
            clip_vision_output=_out(seen),
            start_image=still,
        )
        positive, negative = _out(conditioned, 0), _out(conditioned, 1)
        latent = _out(conditioned, 2)
    else:
        latent = _out(g.add("EmptyHunyuanLatentVideo", **size, batch_size=1))
    sample = _Sampling(g, request, preset, _out(model), positive, negative)
    images = _out(g.add("VAEDecode", samples=sample(latent, denoise=1.0), vae=vae))
    fps = float(preset.fps or 16)
    if request.tools.video_format == "webp":
        g.add(
            "SaveAnimatedWEBP",
            images=images,
            filename_prefix=FILENAME_PREFIX,
            fps=fps,
            lossless=False,
            quality=90,
            method="default",
        )
        return g.nodes
    video = g.add("CreateVideo", images=images, fps=fps)
    g.add(
        "SaveVideo",
        video=_out(video),
        filename_prefix=FILENAME_PREFIX,
        format="mp4",
        codec="h264",
    )
    return g.nodes
