"""What a generated PNG carries: A1111 `parameters` text and ComfyUI's `prompt` and `workflow`.

`prompt` is the API graph ComfyUI ran. `workflow` is the same graph in the editor's format
(nodes with typed slots and widget values, plus a link table), so dropping the PNG on
ComfyUI reopens the graph; A1111-style readers (and most galleries) read `parameters`.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from core.comfy.presets import Presets
from core.comfy.tools import (
    FACE_DILATION,
    FACE_FEATHER,
    Tools,
    final_size,
    output_size,
    tuned,
)
from core.models import GenerationJob

# Output slot types of the node classes our workflows use (ComfyUI's RETURN_TYPES).
OUTPUT_TYPES: dict[str, tuple[str, ...]] = {
    "CheckpointLoaderSimple": ("MODEL", "CLIP", "VAE"),
    "CLIPTextEncode": ("CONDITIONING",),
    "ConditioningConcat": ("CONDITIONING",),
    "EmptyLatentImage": ("LATENT",),
    "EmptyHunyuanLatentVideo": ("LATENT",),
    "KSampler": ("LATENT",),
    "VAEDecode": ("IMAGE",),
    "LoadImage": ("IMAGE", "MASK"),
    "IPAdapterModelLoader": ("IPADAPTER",),
    "CLIPVisionLoader": ("CLIP_VISION",),
    "IPAdapterAdvanced": ("MODEL",),
    "UNETLoader": ("MODEL",),
    "CLIPLoader": ("CLIP",),
    "VAELoader": ("VAE",),
    "ModelSamplingSD3": ("MODEL",),
    "SaveImage": (),
    "SaveAnimatedWEBP": (),
    "CLIPVisionEncode": ("CLIP_VISION_OUTPUT",),
    "WanImageToVideo": ("CONDITIONING", "CONDITIONING", "LATENT"),
    "CreateVideo": ("VIDEO",),
    "SaveVideo": (),
    "LoraLoader": ("MODEL", "CLIP"),
    "CLIPSetLastLayer": ("CLIP",),
    "VAEEncode": ("LATENT",),
    "VAEEncodeForInpaint": ("LATENT",),
    "SetLatentNoiseMask": ("LATENT",),
    "RepeatLatentBatch": ("LATENT",),
    "RepeatImageBatch": ("IMAGE",),
    "LatentUpscaleBy": ("LATENT",),
    "LoadImageMask": ("MASK",),
    "GrowMask": ("MASK",),
    "FeatherMask": ("MASK",),
    "UpscaleModelLoader": ("UPSCALE_MODEL",),
    "ImageUpscaleWithModel": ("IMAGE",),
    "ImageScale": ("IMAGE",),
    "ImageScaleBy": ("IMAGE",),
    "ImageCompositeMasked": ("IMAGE",),
    "UltralyticsDetectorProvider": ("BBOX_DETECTOR", "SEGM_DETECTOR"),
    "FaceDetailer": ("IMAGE", "IMAGE", "IMAGE", "MASK", "DETAILER_PIPE", "IMAGE"),
}
# Widget order where the editor's differs from the order our builder passes inputs in
# (ComfyUI_IPAdapter_plus declares combine_embeds before start_at).
WIDGET_ORDER: dict[str, tuple[str, ...]] = {
    "IPAdapterAdvanced": (
        "weight",
        "weight_type",
        "combine_embeds",
        "start_at",
        "end_at",
        "embeds_scaling",
    ),
}
# Values of widgets the editor adds after an input: the seed's "control after generate"
# (fixed: re-running the PNG's workflow repeats the picture) and LoadImage's upload button.
EXTRA_WIDGETS: dict[tuple[str, str], Any] = {
    ("KSampler", "seed"): "fixed",
    ("FaceDetailer", "seed"): "fixed",
    ("LoadImage", "image"): "image",
    ("LoadImageMask", "image"): "image",
}
_COLUMN_WIDTH = 360


def generation_metadata(
    job: GenerationJob, presets: Presets, graph: dict[str, Any], index: int
) -> dict[str, str]:
    """PNG text chunks for output `index` of `job`: `parameters`, `prompt` and `workflow`."""
    return {
        "parameters": a1111_parameters(job, presets, index),
        "prompt": json.dumps(graph),
        "workflow": json.dumps(editor_workflow(graph)),
    }


def _stem(name: str) -> str:
    return name.rsplit(".", 1)[0]


def a1111_parameters(job: GenerationJob, presets: Presets, index: int) -> str:
    """AUTOMATIC1111's `parameters` text for output `index`: the prompt with its LoRAs as
    `<lora:name:weight>`, the negative prompt, then the settings line (steps, sampler, CFG,
    seed, size (the first pass's, as A1111 writes it), model, denoise and hires settings,
    clip skip; the face fix as ADetailer writes its own pass; an upscale's upscaler)."""
    tools = Tools.from_json(job.request.get("tools"))
    preset = tuned(presets.preset(job.preset, job.kind.value), tools)
    width, height = final_size(tools, preset, presets.catalogue)
    if tools.mode == "upscale":
        return (
            f"Postprocess upscale to: {width}x{height}, "
            f"Postprocess upscaler: {_stem(tools.upscaler or '')}, Version: AI KINGS"
        )
    loras = "".join(f" <lora:{_stem(lora.name)}:{lora.weight:g}>" for lora in tools.loras)
    if tools.hires is not None:
        # A1111's Size is the first pass's; "Hires upscale" says how much the second enlarges.
        width, height = output_size(replace(tools, hires=None), (preset.width, preset.height))
    settings = [
        f"Steps: {preset.steps}",
        f"Sampler: {preset.sampler_name}",
        f"Schedule type: {preset.scheduler}",
        f"CFG scale: {preset.cfg}",
        f"Seed: {job.seed + index}",
        f"Size: {width}x{height}",
        f"Model: {job.model}",
    ]
    if job.kind.value == "video":
        settings += [f"Frames: {preset.length}", f"FPS: {preset.fps:g}"]
    if tools.mode in ("img2img", "inpaint"):
        settings.append(f"Denoising strength: {tools.denoise:g}")
    if tools.mode == "inpaint":
        settings.append(f"Mask blur: {tools.mask_feather}")
    if tools.clip_skip:
        settings.append(f"Clip skip: {tools.clip_skip}")
    if tools.hires is not None:
        hires = tools.hires
        settings += [
            f"Hires upscale: {hires.scale:g}",
            f"Hires steps: {hires.steps}",
            f"Hires upscaler: {_stem(hires.upscaler) if hires.upscaler else 'Latent'}",
        ]
        if tools.mode == "txt2img":
            settings.append(f"Denoising strength: {hires.denoise:g}")
    if tools.face_fix is not None:
        settings += _adetailer_settings(tools, presets)
    settings.append("Version: AI KINGS")
    return f"{job.prompt}{loras}\nNegative prompt: {job.negative_prompt}\n" + ", ".join(settings)


def _adetailer_settings(tools: Tools, presets: Presets) -> list[str]:
    """The face fix in ADetailer's own infotext keys (its `adetailer/args.py` names), so
    readers that know ADetailer show it: the detector file, its confidence, how far each
    face box grows, the edge blur, the denoise; steps only when the pass has its own."""
    face_fix = tools.face_fix
    assert face_fix is not None  # called only for a request with a face fix
    detector = (presets.face_detector or "").rpartition("/")[2]
    settings = [
        f"ADetailer model: {detector}",
        f"ADetailer confidence: {face_fix.confidence:g}",
        f"ADetailer dilate erode: {FACE_DILATION}",
        f"ADetailer mask blur: {FACE_FEATHER}",
        f"ADetailer denoising strength: {face_fix.denoise:g}",
        "ADetailer inpaint only masked: True",
    ]
    if face_fix.steps is not None:
        settings += ["ADetailer use separate steps: True", f"ADetailer steps: {face_fix.steps}"]
    return settings


def _is_link(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[1], int)


def editor_workflow(graph: dict[str, Any]) -> dict[str, Any]:
    """The API graph in ComfyUI's editor format (workflow version 0.4); pure.

    Every API link becomes one row of `links` ([id, from node, from slot, to node, to slot,
    type]) referenced by the target's input and the source's output; every other input is a
    widget value, in the editor's order.
    """
    ids = {key: index for index, key in enumerate(graph, start=1)}
    links: list[list[Any]] = []
    outputs: dict[str, dict[int, list[int]]] = {key: {} for key in graph}
    inputs: dict[str, list[dict[str, Any]]] = {key: [] for key in graph}
    for key, node in graph.items():
        for name, value in node["inputs"].items():
            if not _is_link(value):
                continue
            source, slot = str(value[0]), int(value[1])
            kind = _slot_type(graph[source]["class_type"], slot)
            link_id = len(links) + 1
            links.append([link_id, ids[source], slot, ids[key], len(inputs[key]), kind])
            inputs[key].append({"name": name, "type": kind, "link": link_id})
            outputs[source].setdefault(slot, []).append(link_id)
    nodes = [
        _editor_node(key, node, ids[key], inputs[key], outputs[key]) for key, node in graph.items()
    ]
    return {
        "last_node_id": len(nodes),
        "last_link_id": len(links),
        "nodes": nodes,
        "links": links,
        "groups": [],
        "config": {},
        "extra": {},
        "version": 0.4,
    }


def _slot_type(class_type: str, slot: int) -> str:
    types = OUTPUT_TYPES.get(class_type, ())
    return types[slot] if slot < len(types) else "*"


def _editor_node(
    key: str,
    node: dict[str, Any],
    node_id: int,
    inputs: list[dict[str, Any]],
    outputs: dict[int, list[int]],
) -> dict[str, Any]:
    class_type = str(node["class_type"])
    slots = max([len(OUTPUT_TYPES.get(class_type, ())), *(s + 1 for s in outputs)])
    widgets = [name for name, value in node["inputs"].items() if not _is_link(value)]
    order = WIDGET_ORDER.get(class_type)
    if order is not None and set(order) == set(widgets):
        widgets = list(order)
    values: list[Any] = []
    for name in widgets:
        values.append(node["inputs"][name])
        if (class_type, name) in EXTRA_WIDGETS:
            values.append(EXTRA_WIDGETS[(class_type, name)])
    return {
        "id": node_id,
        "type": class_type,
        "pos": [(node_id - 1) * _COLUMN_WIDTH, 0],
        "size": [_COLUMN_WIDTH - 40, 120],
        "flags": {},
        "order": node_id - 1,
        "mode": 0,
        "inputs": inputs,
        "outputs": [
            {
                "name": _slot_type(class_type, slot),
                "type": _slot_type(class_type, slot),
                "links": outputs.get(slot, []),
                "slot_index": slot,
            }
            for slot in range(slots)
        ],
        "properties": {"Node name for S&R": class_type},
        "widgets_values": values,
        "title": f"{class_type} #{key}",
    }
