"""The pixel size a simulated graph's images come out at, traced back from the output node.

The real server knows it from the tensors; the simulator follows the nodes that set or
change a size (empty latents, loaded uploads, scales, upscale models) and takes every other
node's size from the input that carries its pictures, so img2img, inpaint, hires fix and
upscale outputs have the sizes the real graphs would give.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

from PIL import Image

DEFAULT_SIZE = (512, 512)
SIZED = (
    "EmptyLatentImage",
    "EmptyHunyuanLatentVideo",
    "EmptySD3LatentImage",
    "ImageScale",
    "WanImageToVideo",
)
SCALED = ("LatentUpscaleBy", "ImageScaleBy")
PIXEL_INPUTS = (
    "destination",
    "images",
    "image",
    "pixels",
    "samples",
    "latent_image",
    "video",
)
"""The inputs that carry the pictures (or latents) a node passes on, by preference."""
MODEL_FACTOR = re.compile(r"(?:^|[^0-9])([1-8])x|x([1-8])(?:[^0-9]|$)", re.IGNORECASE)
"""An upscale model's factor from its file name (4x-UltraSharp, RealESRGAN_x4plus), as the
real model's own architecture would give it."""


def _is_link(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[1], int)


def upload_size(data: bytes | None) -> tuple[int, int]:
    """(width, height) of an uploaded picture, DEFAULT_SIZE when it is not one."""
    if data is None:
        return DEFAULT_SIZE
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except (OSError, ValueError):
        return DEFAULT_SIZE


def output_size(
    prompt: dict[str, Any], node_id: str, upload: Callable[[str], bytes | None]
) -> tuple[int, int]:
    """(width, height) of the images reaching `node_id`; `upload` reads an input file."""
    seen: set[str] = set()

    def size(current: str) -> tuple[int, int]:
        if current in seen:
            return DEFAULT_SIZE
        seen.add(current)
        node = prompt[current]
        inputs, class_type = node["inputs"], node["class_type"]
        if class_type in SIZED:
            return int(inputs["width"]), int(inputs["height"])
        if class_type == "LoadImage":
            return upload_size(upload(str(inputs.get("image"))))
        links = [inputs[name] for name in PIXEL_INPUTS if _is_link(inputs.get(name))]
        if not links:
            return DEFAULT_SIZE
        width, height = size(str(links[0][0]))
        factor = 1.0
        if class_type in SCALED:
            factor = float(inputs.get("scale_by", inputs.get("scale", 1.0)))
        elif class_type == "ImageUpscaleWithModel":
            factor = float(_model_factor(prompt, inputs.get("upscale_model")))
        return int(width * factor), int(height * factor)

    return size(node_id)


def _model_factor(prompt: dict[str, Any], link: Any) -> int:
    if not _is_link(link):
        return 1
    name = str(prompt[str(link[0])]["inputs"].get("model_name", ""))
    found = MODEL_FACTOR.search(name)
    return int(next(group for group in found.groups() if group)) if found else 4
