"""The node classes a real ComfyUI knows, as facts: what v0.3.64 answered on `GET /object_info`.

`object_info.json` beside this module is that answer, verbatim (515 classes, core nodes plus
ComfyUI_IPAdapter_plus, on a server whose model folders were empty). The face fix's nodes
(FaceDetailer, UltralyticsDetectorProvider) come from `object_info_impact_pack.json`: the
same shape, written from the Impact Pack's and Subpack's source at the commits it records,
since the server that answered had no face detector. Every input's type, enum values and
range come from these files; nothing here restates them. What the answer cannot say is
which models folder a file input lists, since the real server fills those lists from disk:
`FILE_INPUTS` names the folder for each such input, and the simulator fills the list from
the files it has installed, as ComfyUI's `folder_paths.get_filename_list` does.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FACTS_PATH = Path(__file__).with_name("object_info.json")
PACK_FACTS_PATH = Path(__file__).with_name("object_info_impact_pack.json")

FILE_INPUTS: dict[tuple[str, str], str] = {
    ("CheckpointLoaderSimple", "ckpt_name"): "checkpoints",
    ("CheckpointLoader", "ckpt_name"): "checkpoints",
    ("ImageOnlyCheckpointLoader", "ckpt_name"): "checkpoints",
    ("unCLIPCheckpointLoader", "ckpt_name"): "checkpoints",
    ("UNETLoader", "unet_name"): "diffusion_models",
    ("CLIPLoader", "clip_name"): "text_encoders",
    ("DualCLIPLoader", "clip_name1"): "text_encoders",
    ("DualCLIPLoader", "clip_name2"): "text_encoders",
    ("VAELoader", "vae_name"): "vae",
    ("CLIPVisionLoader", "clip_name"): "clip_vision",
    ("IPAdapterModelLoader", "ipadapter_file"): "ipadapter",
    ("LoraLoader", "lora_name"): "loras",
    ("LoraLoaderModelOnly", "lora_name"): "loras",
    ("ControlNetLoader", "control_net_name"): "controlnet",
    ("DiffControlNetLoader", "control_net_name"): "controlnet",
    ("StyleModelLoader", "style_model_name"): "style_models",
    ("GLIGENLoader", "gligen_name"): "gligen",
    ("HypernetworkLoader", "hypernetwork_name"): "hypernetworks",
    ("UpscaleModelLoader", "model_name"): "upscale_models",
    ("UltralyticsDetectorProvider", "model_name"): "ultralytics",
}
"""(class, input) -> the models folder whose files the input's list shows. The Subpack lists
`bbox/<file>` of models/ultralytics/bbox, then `segm/<file>` of models/ultralytics/segm:
the files under models/ultralytics by their path inside it, as this folder's list is."""

UPLOAD_INPUTS: dict[tuple[str, str], str] = {
    ("LoadImage", "image"): "input",
    ("LoadImageMask", "image"): "input",
}
"""(class, input) -> the directory of uploaded files the input names. These nodes check the
value in their own `VALIDATE_INPUTS` ("Invalid image file: ..."), not against the list."""


@dataclass(frozen=True)
class InputSpec:
    """One declared input: `kind` is a type name ("INT", "MODEL", "COMBO") or the list of
    allowed values; `options` the rest of the declaration (min, max, options, ...)."""

    name: str
    kind: str | list[Any]
    options: dict[str, Any]
    required: bool

    @property
    def config(self) -> list[Any]:
        """The declaration as ComfyUI echoes it in `extra_info.input_config`."""
        return [self.kind, self.options]

    @property
    def choices(self) -> list[Any] | None:
        """The allowed values of an enum input (a list type or a COMBO), else None."""
        if isinstance(self.kind, list):
            return self.kind
        if self.kind == "COMBO":
            return list(self.options.get("options", []))
        return None


@dataclass(frozen=True)
class NodeClass:
    """One node class: its inputs in declaration order, output types, and whether it is an
    output node (one the executor runs a prompt for)."""

    name: str
    inputs: tuple[InputSpec, ...]
    outputs: tuple[Any, ...]
    output_node: bool
    info: dict[str, Any]

    def input(self, name: str) -> InputSpec | None:
        """The declared input `name`, or None."""
        return next((spec for spec in self.inputs if spec.name == name), None)


@functools.cache
def facts() -> dict[str, Any]:
    """The raw `/object_info` answer, the Impact Pack's classes included (read once; callers
    must not mutate it)."""
    loaded: dict[str, Any] = json.loads(FACTS_PATH.read_text(encoding="utf-8"))
    pack: dict[str, Any] = json.loads(PACK_FACTS_PATH.read_text(encoding="utf-8"))
    return {**loaded, **pack["nodes"]}


@functools.cache
def classes() -> dict[str, NodeClass]:
    """Every node class of the real server, by name."""
    return {name: _node_class(name, info) for name, info in facts().items()}


def _node_class(name: str, info: dict[str, Any]) -> NodeClass:
    declared = info.get("input") or {}
    order = info.get("input_order") or {}
    specs: list[InputSpec] = []
    for section in ("required", "optional"):
        entries = declared.get(section) or {}
        for input_name in order.get(section) or list(entries):
            raw = entries[input_name]
            options = raw[1] if len(raw) > 1 and isinstance(raw[1], dict) else {}
            specs.append(InputSpec(input_name, raw[0], options, section == "required"))
    return NodeClass(
        name=name,
        inputs=tuple(specs),
        outputs=tuple(info.get("output") or ()),
        output_node=bool(info.get("output_node")),
        info=info,
    )


def object_info(
    name: str, installed: Mapping[str, list[str]], uploads: list[str]
) -> dict[str, Any]:
    """Class `name`'s `/object_info` entry with file lists filled from `installed` models and
    `uploads` (the input directory), as the real server fills them from disk."""
    info: dict[str, Any] = copy.deepcopy(facts()[name])
    for section in ("required", "optional"):
        for input_name, raw in (info["input"].get(section) or {}).items():
            folder = FILE_INPUTS.get((name, input_name))
            files = (
                sorted(installed.get(folder, []))
                if folder is not None
                else sorted(uploads)
                if (name, input_name) in UPLOAD_INPUTS
                else None
            )
            if files is not None and raw[0] == "COMBO":  # the newer declaration: options
                raw[1]["options"] = files
            elif files is not None:
                raw[0] = files
    return info


def kind_on_server(node: NodeClass, spec: InputSpec, installed: Mapping[str, list[str]]) -> Any:
    """`spec`'s type on a server with `installed` models: a file input's list is its folder."""
    folder = FILE_INPUTS.get((node.name, spec.name))
    return spec.kind if folder is None else sorted(installed.get(folder, []))
