"""The node classes the simulated ComfyUI knows, with their required inputs and outputs.

Input names and types follow ComfyUI's `/object_info` for these nodes (core nodes plus
ComfyUI_IPAdapter_plus). A graph naming another class, or missing an input, is refused the
way ComfyUI refuses it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NodeSpec:
    """Required inputs (name -> type; a list type means "one of these values") and outputs."""

    inputs: dict[str, str]
    outputs: tuple[str, ...]
    output_node: bool = False
    model_folder: str | None = None
    """The ComfyUI models folder the node's file input names a file in."""
    model_input: str | None = None


NODES: dict[str, NodeSpec] = {
    "CheckpointLoaderSimple": NodeSpec(
        {"ckpt_name": "FILE"},
        ("MODEL", "CLIP", "VAE"),
        model_folder="checkpoints",
        model_input="ckpt_name",
    ),
    "CLIPTextEncode": NodeSpec({"text": "STRING", "clip": "CLIP"}, ("CONDITIONING",)),
    "EmptyLatentImage": NodeSpec(
        {"width": "INT", "height": "INT", "batch_size": "INT"}, ("LATENT",)
    ),
    "KSampler": NodeSpec(
        {
            "model": "MODEL",
            "seed": "INT",
            "steps": "INT",
            "cfg": "FLOAT",
            "sampler_name": "STRING",
            "scheduler": "STRING",
            "positive": "CONDITIONING",
            "negative": "CONDITIONING",
            "latent_image": "LATENT",
            "denoise": "FLOAT",
        },
        ("LATENT",),
    ),
    "VAEDecode": NodeSpec({"samples": "LATENT", "vae": "VAE"}, ("IMAGE",)),
    "SaveImage": NodeSpec({"images": "IMAGE", "filename_prefix": "STRING"}, (), output_node=True),
    "LoadImage": NodeSpec({"image": "UPLOAD"}, ("IMAGE", "MASK")),
    "IPAdapterUnifiedLoader": NodeSpec(
        {"model": "MODEL", "preset": "STRING"}, ("MODEL", "IPADAPTER")
    ),
    "IPAdapterAdvanced": NodeSpec(
        {
            "model": "MODEL",
            "ipadapter": "IPADAPTER",
            "image": "IMAGE",
            "weight": "FLOAT",
            "weight_type": "STRING",
            "start_at": "FLOAT",
            "end_at": "FLOAT",
            "combine_embeds": "STRING",
            "embeds_scaling": "STRING",
        },
        ("MODEL",),
    ),
    "UNETLoader": NodeSpec(
        {"unet_name": "FILE", "weight_dtype": "STRING"},
        ("MODEL",),
        model_folder="diffusion_models",
        model_input="unet_name",
    ),
    "CLIPLoader": NodeSpec(
        {"clip_name": "FILE", "type": "STRING"},
        ("CLIP",),
        model_folder="text_encoders",
        model_input="clip_name",
    ),
    "VAELoader": NodeSpec(
        {"vae_name": "FILE"}, ("VAE",), model_folder="vae", model_input="vae_name"
    ),
    "EmptyHunyuanLatentVideo": NodeSpec(
        {"width": "INT", "height": "INT", "length": "INT", "batch_size": "INT"}, ("LATENT",)
    ),
    "ModelSamplingSD3": NodeSpec({"model": "MODEL", "shift": "FLOAT"}, ("MODEL",)),
    "SaveAnimatedWEBP": NodeSpec(
        {
            "images": "IMAGE",
            "filename_prefix": "STRING",
            "fps": "FLOAT",
            "lossless": "BOOLEAN",
            "quality": "INT",
            "method": "STRING",
        },
        (),
        output_node=True,
    ),
}

LINK_TYPES = {"MODEL", "CLIP", "VAE", "CONDITIONING", "LATENT", "IMAGE", "IPADAPTER", "MASK"}
