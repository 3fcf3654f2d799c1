"""Each creative tool's graph, sent over HTTP to the ComfyUI simulator by our own client: the
sources uploaded, the graph accepted by the simulator's validation (the real server's), run,
and its pictures coming back at the size the real graph would give."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image

from core.comfy.client import ComfyClient, GraphInvalid
from core.comfy.events import Progress
from core.comfy.presets import Presets
from core.comfy.tools import FaceFix, Hires, Lora, Tools
from core.comfy.workflows import build_graph
from sim.comfy import ComfySimConfig
from sim.comfy.config import shipped_models
from testing.factories import generation_request
from testing.sims import comfy_sim

PRESETS = Presets.load()
SDXL = "sdxl_base_1.0.safetensors"
LORA = "sd_xl_offset_example-lora_1.0.safetensors"
UPSCALER = "RealESRGAN_x4plus.pth"


def png(size: tuple[int, int], mode: str = "RGB", colour: Any = (90, 120, 150)) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, colour).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def comfy() -> Any:
    with comfy_sim() as sim, ComfyClient(sim.url) as client:
        yield client


def run(client: ComfyClient, *, batch: int = 1, **tools: Any) -> list[tuple[int, int]]:
    """Upload the source (640x960) and mask, build the graph with the upload names, run it;
    the sizes of the pictures it made."""
    if tools.get("source"):
        tools["source"] = client.upload_image(png((640, 960)), "source.png")
    if tools.get("mask"):
        tools["mask"] = client.upload_image(png((640, 960), "L", 0), "mask.png")
    request = generation_request(
        PRESETS, model=SDXL, seed=5, batch_size=batch, tools=Tools(**tools)
    )
    result = client.run(build_graph(request, PRESETS), timeout_s=30)
    sizes = []
    for ref in result.outputs:
        with Image.open(io.BytesIO(client.view(ref))) as image:
            sizes.append(image.size)
    return sizes


def test_a_lora_job_runs_at_a_custom_size(comfy: ComfyClient) -> None:
    sizes = run(comfy, loras=(Lora(LORA, 0.8),), width=832, height=1216, clip_skip=2)
    assert sizes == [(832, 1216)]


def test_img2img_keeps_the_sources_size_for_every_item(comfy: ComfyClient) -> None:
    assert run(comfy, batch=2, mode="img2img", source=True, denoise=0.5) == [(640, 960)] * 2


@pytest.mark.parametrize("method", ["noise_mask", "vae_inpaint"])
def test_inpaint_with_a_drawn_mask_runs(comfy: ComfyClient, method: str) -> None:
    sizes = run(
        comfy, mode="inpaint", source=True, mask=True, inpaint_method=method, mask_feather=4
    )
    assert sizes == [(640, 960)]


def test_latent_hires_fix_enlarges_the_first_pass(comfy: ComfyClient) -> None:
    assert run(comfy, hires=Hires(scale=1.5)) == [(1536, 1536)]


def test_model_hires_fix_lands_on_the_target_size(comfy: ComfyClient) -> None:
    sizes = run(comfy, width=832, height=1216, hires=Hires(scale=1.5, upscaler=UPSCALER))
    assert sizes == [(1248, 1824)]


@pytest.mark.parametrize(("upscale_by", "size"), [(None, (2560, 3840)), (2.0, (1280, 1920))])
def test_upscale_enlarges_a_picture_by_the_model_or_the_chosen_factor(
    comfy: ComfyClient, upscale_by: float | None, size: tuple[int, int]
) -> None:
    sizes = run(comfy, mode="upscale", source=True, upscaler=UPSCALER, upscale_by=upscale_by)
    assert sizes == [size]


def test_a_lora_missing_from_the_instance_is_refused_by_the_server() -> None:
    models = {k: v for k, v in shipped_models().items() if k != "loras"}
    with comfy_sim(ComfySimConfig(models=models)) as sim, ComfyClient(sim.url) as client:
        with pytest.raises(GraphInvalid, match="lora_name"):
            run(client, loras=(Lora(LORA),))


@pytest.mark.parametrize(
    ("tools", "size"),
    [
        ({"face_fix": FaceFix()}, (1024, 1024)),
        ({"mode": "img2img", "source": True, "face_fix": FaceFix(denoise=0.3)}, (640, 960)),
        ({"hires": Hires(scale=1.5), "face_fix": FaceFix()}, (1536, 1536)),
        ({"mode": "facefix", "source": True, "face_fix": FaceFix()}, (640, 960)),
    ],
)
def test_a_face_fix_keeps_the_pictures_size(
    comfy: ComfyClient, tools: dict[str, Any], size: tuple[int, int]
) -> None:
    assert run(comfy, batch=2, **tools) == [size] * 2


def test_a_face_fix_streams_its_own_sampling_steps(comfy: ComfyClient) -> None:
    request = generation_request(
        PRESETS,
        positive="a portrait in a garden",
        model=SDXL,
        seed=5,
        tools=Tools(face_fix=FaceFix(steps=7)),
    )
    graph = build_graph(request, PRESETS)
    face_id = next(key for key, node in graph.items() if node["class_type"] == "FaceDetailer")
    seen: list[tuple[str | None, int]] = []

    def note(event: Any) -> None:
        if isinstance(event, Progress):
            seen.append((event.node, event.max))

    comfy.run(graph, timeout_s=30, on_event=note)
    assert (face_id, 7) in seen


def test_a_face_detector_missing_from_the_instance_is_refused_by_the_server() -> None:
    models = {k: v for k, v in shipped_models().items() if k != "ultralytics"}
    with comfy_sim(ComfySimConfig(models=models)) as sim, ComfyClient(sim.url) as client:
        with pytest.raises(GraphInvalid, match="model_name"):
            run(client, face_fix=FaceFix())
