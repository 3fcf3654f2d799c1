"""The ComfyUI simulator's video over HTTP and WebSocket: SaveVideo writes a real H.264 MP4
and reports it as ComfyUI's PreviewVideo does (under `images`, with `animated: [true]`, in
the `executed` message and the history entry alike), `/view` serves it, and its `mdta`
metadata holds the graph as SaveVideo writes it; an image-to-video graph runs on an
uploaded still."""

from __future__ import annotations

import io
from typing import Any

import httpx
from PIL import Image

from core import mediatype, video
from core.comfy.events import OutputRef, outputs_of
from core.comfy.tools import Tools
from core.studio.reader import read_settings
from tests.sim.test_comfy_sim import PRESETS, image_graph, node_of, run


def video_graph(**tools: Any) -> dict[str, Any]:
    model = PRESETS.i2v_model if tools.get("mode") == "img2video" else None
    return image_graph(
        kind="video",
        model=model or PRESETS.default_model("video"),
        preset="low",
        tools=Tools(**tools),
    )


def test_save_video_reports_its_mp4_as_comfyui_does_and_serves_it(comfy):
    graph = video_graph(length=9, fps=12.0)
    prompt_id, messages = run(comfy, graph)
    save = node_of(graph, "SaveVideo")
    (executed,) = [m["data"] for m in messages if isinstance(m, dict) and m["type"] == "executed"]
    ui = {"images": [{"filename": "aikings_00001_.mp4", "subfolder": "", "type": "output"}]}
    assert executed["node"] == save
    assert executed["output"] == ui | {"animated": [True]}
    history = httpx.get(f"{comfy.url}/history/{prompt_id}", timeout=10).json()
    assert history[prompt_id]["outputs"] == {save: executed["output"]}
    (ref,) = outputs_of(executed["output"])
    assert ref == OutputRef("aikings_00001_.mp4") and ref.mime == "video/mp4"
    params = {"filename": ref.filename, "subfolder": ref.subfolder, "type": ref.type}
    data = httpx.get(f"{comfy.url}/view", params=params, timeout=10).content
    assert mediatype.sniff_mime(data) == "video/mp4"
    frames = video.mp4_frames(data, max_frames=100, max_pixels=10**7)
    assert len(frames) == 9
    low = PRESETS.preset("low", "video")
    assert frames[0].size == (low.width, low.height)
    assert read_settings(data).seed == 11  # the graph, as SaveVideo's `prompt` item


def test_an_image_to_video_graph_runs_on_an_uploaded_still(comfy):
    still = io.BytesIO()
    Image.new("RGB", (640, 960), "teal").save(still, format="PNG")
    files = {"image": ("still.png", still.getvalue(), "image/png")}
    uploaded = httpx.post(f"{comfy.url}/upload/image", files=files, timeout=10).json()
    graph = video_graph(mode="img2video", source=uploaded["name"], source_size=(640, 960), length=5)
    prompt_id, messages = run(comfy, graph)
    assert "execution_success" in [m["type"] for m in messages if isinstance(m, dict)]
    history = httpx.get(f"{comfy.url}/history/{prompt_id}", timeout=10).json()
    (output,) = history[prompt_id]["outputs"].values()
    (ref,) = outputs_of(output)
    params = {"filename": ref.filename, "subfolder": ref.subfolder, "type": ref.type}
    data = httpx.get(f"{comfy.url}/view", params=params, timeout=10).content
    wan = graph[node_of(graph, "WanImageToVideo")]["inputs"]
    poster = video.mp4_poster(data, max_pixels=10**7)
    assert poster.size == (wan["width"], wan["height"])
    assert read_settings(data).seed == graph[node_of(graph, "KSampler")]["inputs"]["seed"]
