"""GenerationRequest -> ComfyUI API-format graph (txt2img, with reference images, video); pure.

A graph is `{"<node id>": {"class_type": ..., "inputs": {...}}}`; an input linked to another
node's output is `["<node id>", output_index]`. Every graph has exactly one output node:
SaveImage for images, SaveAnimatedWEBP for video.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from core.comfy.presets import Preset, Presets
from core.errors import ValidationFailed

MAX_SEED = 2**63 - 1  # ComfyUI takes 0..2**64-1; our database column is a signed 64-bit integer
MAX_BATCH = 8
MAX_REFERENCE_IMAGES = 8
MAX_REFERENCE_WEIGHT = 2.0
FILENAME_PREFIX = "aikings"
WAN_SHIFT = 8.0
CUSTOM_NODES = ("IPAdapterModelLoader", "IPAdapterAdvanced")
"""Node classes outside ComfyUI core (ComfyUI_IPAdapter_plus) an instance must have."""

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


def validate(request: GenerationRequest, presets: Presets) -> Preset:
    """Check the request against the presets; return its preset or raise ValidationFailed."""
    preset = presets.preset(request.preset, request.kind)
    if request.model not in presets.models(request.kind):
        raise ValidationFailed(
            f"Model {request.model!r} is not offered for {request.kind}; "
            f"choose one of: {', '.join(presets.models(request.kind))}."
        )
    if not request.positive.strip():
        raise ValidationFailed("The prompt is empty.")
    if not 0 <= request.seed <= MAX_SEED:
        raise ValidationFailed(f"The seed must be between 0 and {MAX_SEED}.")
    if not 1 <= request.batch_size <= MAX_BATCH:
        raise ValidationFailed(f"The batch size must be between 1 and {MAX_BATCH}.")
    if request.kind == "video" and request.batch_size != 1:
        raise ValidationFailed("Video makes one clip at a time: use a batch size of 1.")
    if request.reference_images:
        _validate_references(request)
    return preset


def _validate_references(request: GenerationRequest) -> None:
    if request.kind != "image":
        raise ValidationFailed("Reference images work with image generation only.")
    if len(request.reference_images) > MAX_REFERENCE_IMAGES:
        raise ValidationFailed(f"Use at most {MAX_REFERENCE_IMAGES} reference images.")
    if not all(name.strip() for name in request.reference_images):
        raise ValidationFailed("A reference image has no name.")
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
    g = _Builder()
    ckpt = g.add("CheckpointLoaderSimple", ckpt_name=request.model)
    model = _out(ckpt, 0)
    if request.reference_images:
        model = _ipadapter(g, model, request, presets)
    latent = g.add(
        "EmptyLatentImage",
        width=preset.width,
        height=preset.height,
        batch_size=request.batch_size,
    )
    images = _sample_and_decode(g, request, preset, model, _out(ckpt, 1), latent, _out(ckpt, 2))
    g.add("SaveImage", images=images, filename_prefix=FILENAME_PREFIX)
    return g.nodes


def _ipadapter(g: _Builder, model: Link, request: GenerationRequest, presets: Presets) -> Link:
    """Chain one IPAdapterAdvanced per reference image onto `model`; return the last model.

    The adapter and its CLIP vision encoder are loaded by the file names in the presets (the
    names the health check verifies), not by IPAdapterUnifiedLoader, which picks files by a
    name pattern of its own. The images are chained rather than batched (batching would need
    an ImageBatch node per pair). Chained adapters add their attention terms, so each gets an
    equal share of `reference_weight`: several photos of one character pull as hard as a
    single one would.
    """
    ipadapter = g.add("IPAdapterModelLoader", ipadapter_file=presets.ipadapter_model)
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
            weight_type="linear",
            start_at=0.0,
            end_at=1.0,
            combine_embeds="concat",
            embeds_scaling="V only",
            clip_vision=_out(clip_vision),
        )
        model = _out(adapter, 0)
    return model


def _video(request: GenerationRequest, preset: Preset, presets: Presets) -> Graph:
    g = _Builder()
    unet = g.add("UNETLoader", unet_name=request.model, weight_dtype="default")
    clip = g.add("CLIPLoader", clip_name=presets.video_text_encoder, type="wan")
    vae = g.add("VAELoader", vae_name=presets.video_vae)
    latent = g.add(
        "EmptyHunyuanLatentVideo",
        width=preset.width,
        height=preset.height,
        length=preset.length,
        batch_size=1,
    )
    model = g.add("ModelSamplingSD3", model=_out(unet), shift=WAN_SHIFT)
    images = _sample_and_decode(g, request, preset, _out(model), _out(clip), latent, _out(vae))
    g.add(
        "SaveAnimatedWEBP",
        images=images,
        filename_prefix=FILENAME_PREFIX,
        fps=preset.fps,
        lossless=False,
        quality=90,
        method="default",
    )
    return g.nodes


def _sample_and_decode(
    g: _Builder,
    request: GenerationRequest,
    preset: Preset,
    model: Link,
    clip: Link,
    latent: str,
    vae: Link,
) -> Link:
    """Prompts -> KSampler -> VAEDecode; return the decoded images link."""
    positive = g.add("CLIPTextEncode", text=request.positive, clip=clip)
    negative = g.add("CLIPTextEncode", text=request.negative, clip=clip)
    sampler = g.add(
        "KSampler",
        model=model,
        seed=request.seed,
        steps=preset.steps,
        cfg=preset.cfg,
        sampler_name=preset.sampler_name,
        scheduler=preset.scheduler,
        positive=_out(positive),
        negative=_out(negative),
        latent_image=_out(latent),
        denoise=1.0,
    )
    return _out(g.add("VAEDecode", samples=_out(sampler), vae=vae))
