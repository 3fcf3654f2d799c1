"""ComfyClient against the ComfyUI simulator over HTTP and WebSocket."""

import io
import threading

import pytest
from PIL import Image

from core.comfy import health
from core.comfy.client import ComfyClient
from core.comfy.events import Executing, Progress
from core.comfy.presets import Presets
from core.comfy.tools import Tools
from core.errors import ComfyUnavailable, ExecutionFailed, GraphInvalid
from sim.comfy import ComfySimConfig
from testing.factories import image_graph
from testing.sims import comfy_sim

PRESETS = Presets.load()

WEBP_CLIP = Tools(video_format="webp")
"""Video as an animated WebP (the option beside the default MP4)."""


def graph(**fields):
    return image_graph(PRESETS, **fields)


@pytest.fixture
def client(comfy):
    with ComfyClient(comfy.url, timeout_s=5) as client:
        yield client


def test_run_streams_progress_in_order_and_returns_real_images(client):
    events = []
    result = client.run(graph(batch_size=2), on_event=events.append, timeout_s=30)
    steps = [e.value for e in events if isinstance(e, Progress)]
    assert steps == list(range(1, PRESETS.preset("low", "image").steps + 1))
    assert isinstance(events[-1], Executing) or any(isinstance(e, Progress) for e in events)
    assert len(result.outputs) == 2
    low = PRESETS.preset("low", "image")
    image = Image.open(io.BytesIO(client.view(result.outputs[0])))
    assert (image.format, image.size) == ("PNG", (low.width, low.height))


def test_different_seeds_give_different_pictures(client):
    first = client.view(client.run(graph(seed=1), timeout_s=30).outputs[0])
    second = client.view(client.run(graph(seed=2), timeout_s=30).outputs[0])
    assert first != second


def test_video_graph_runs_to_an_animated_webp(client):
    video = graph(kind="video", model=PRESETS.default_model("video"), preset="low", tools=WEBP_CLIP)
    (ref,) = client.run(video, timeout_s=60).outputs
    image = Image.open(io.BytesIO(client.view(ref)))
    assert image.format == "WEBP" and image.n_frames == PRESETS.preset("low", "video").length


def test_reference_image_upload_feeds_load_image(client):
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), "purple").save(buffer, format="PNG")
    name = client.upload_image(buffer.getvalue(), "ref.png")
    result = client.run(graph(reference_images=(name,)), timeout_s=30)
    assert result.outputs


def test_a_refused_graph_names_the_node_the_input_and_comfys_details(client):
    with pytest.raises(GraphInvalid, match=r"CheckpointLoaderSimple #1 input 'ckpt_name'") as info:
        client.submit(
            graph()
            | {
                "1": {
                    "class_type": "CheckpointLoaderSimple",
                    "inputs": {"ckpt_name": "missing.safetensors"},
                }
            }
        )
    assert info.value.node_errors["1"]["errors"][0]["type"] == "value_not_in_list"
    assert "Value not in list: ckpt_name: 'missing.safetensors' not in [" in str(info.value)
    assert info.value.details == ""  # ComfyUI's own: the loader is upstream of the output
    with pytest.raises(GraphInvalid, match=r"does not exist.: Node ID '#1'"):
        client.submit({"1": {"class_type": "NoSuchNode", "inputs": {}}})
    with pytest.raises(GraphInvalid, match="LoadImage .*Invalid image file: never-uploaded.png"):
        client.submit(graph(reference_images=("never-uploaded.png",)))
    with pytest.raises(GraphInvalid, match="Prompt has no outputs"):
        client.submit({})


def test_execution_error_raises_with_comfys_reason():
    with comfy_sim(ComfySimConfig(fail_at_step=3)) as sim, ComfyClient(sim.url) as client:
        with pytest.raises(ExecutionFailed, match="KSampler .* CUDA out of memory"):
            client.run(graph(), timeout_s=30)
        entry = next(iter(sim.state.history.values()))
        assert entry["status"]["status_str"] == "error"


def test_dropped_websocket_falls_back_to_history():
    with comfy_sim(ComfySimConfig(drop_ws=True, step_delay_s=0.02)) as sim:
        with ComfyClient(sim.url) as client:
            result = client.run(graph(), timeout_s=30)
    assert len(result.outputs) == 1


def test_interrupt_ends_a_hanging_run():
    with comfy_sim(ComfySimConfig(hang=True)) as sim, ComfyClient(sim.url) as client:
        timer = threading.Timer(0.5, client.interrupt)
        timer.start()
        with pytest.raises(ExecutionFailed, match="interrupted"):
            client.run(graph(), timeout_s=30)
        timer.join()


def test_unreachable_server_is_comfy_unavailable():
    with ComfyClient("http://127.0.0.1:9", timeout_s=1) as client:
        with pytest.raises(ComfyUnavailable):
            client.system_stats()
        with pytest.raises(ComfyUnavailable):
            client.run(graph(), timeout_s=2)


def test_health_check_variants():
    required = PRESETS.required_models()
    with comfy_sim() as sim:
        assert health.check(sim.url, required) is None
    missing = ComfySimConfig()
    missing.models["checkpoints"] = ["sdxl_base_1.0.safetensors"]
    with comfy_sim(missing) as sim:
        assert health.check(sim.url, required) == "missing: checkpoints/realvis_xl_4.0.safetensors"
        assert health.check(sim.url, {}, nodes=["IPAdapterAdvanced", "NoSuchNode"]) == (
            "missing: node NoSuchNode"
        )
    with comfy_sim(ComfySimConfig(unhealthy=True)) as sim:
        assert health.check(sim.url, required) == "ComfyUI not ready: /system_stats answered 502"
    assert health.check("http://127.0.0.1:9", required, timeout_s=1).startswith(
        "ComfyUI not answering"
    )


SDXL = "checkpoints/sdxl_base_1.0.safetensors"


@pytest.mark.parametrize(
    ("bad_files", "reason"),
    [
        ({}, None),
        (
            {SDXL: "short"},
            f"provisioning: {SDXL} failed its check after 2 downloads (3469039167 bytes, sha256 ",
        ),
        ({SDXL: "corrupt"}, f"provisioning: {SDXL} failed its check after 2 downloads ("),
    ],
)
def test_health_needs_every_file_to_pass_the_start_scripts_size_and_sha256_check(bad_files, reason):
    with comfy_sim(ComfySimConfig(bad_files=bad_files)) as sim:
        found = health.check(sim.url, PRESETS.required_models(), downloads=PRESETS.downloads())
    assert found == reason or (reason is not None and found.startswith(reason))


def test_health_waits_for_the_report_and_refuses_a_file_that_is_not_the_pinned_one():
    from sim.comfy.provision import ModelFile, Provisioning

    now = [0.0]
    wrong = ModelFile(SDXL, 6_938_078_334, "0" * 64, pinned=True)  # matched some older pin
    config = ComfySimConfig(
        models={"checkpoints": ["sdxl_base_1.0.safetensors"]},
        clock=lambda: now[0],
        provisioning=Provisioning(0.0, [wrong], download_s=50.0, comfy_start_s=10.0),
    )
    sdxl_only = {"checkpoints": {"sdxl_base_1.0.safetensors"}}
    downloads = {SDXL: PRESETS.downloads()[SDXL]}
    with comfy_sim(config) as sim:
        assert health.check(sim.url, sdxl_only, downloads=downloads).startswith(
            "ComfyUI not ready: /system_stats answered 502"  # restarting while it downloads
        )
        now[0] = 15.0
        assert health.check(sim.url, sdxl_only, downloads=downloads) == (
            "provisioning: model files not verified yet"
        )
        now[0] = 100.0
        assert health.check(sim.url, sdxl_only, downloads=downloads) == (
            f"provisioning: {SDXL} has sha256 000000000000, not the pinned 31e35c80fc48"
        )


def test_system_stats_models_and_history(client):
    assert client.system_stats()["devices"][0]["type"] == "cuda"
    assert "sdxl_base_1.0.safetensors" in client.models("checkpoints")
    result = client.run(graph(), timeout_s=30)
    assert client.history(result.prompt_id)["status"]["completed"] is True
    assert client.history("unknown") == {}


def test_try_command_runs_a_workflow_and_saves_the_files(comfy, tmp_path):
    import io as _io

    from cli import comfy_try as try_command

    out = _io.StringIO()
    assert try_command.main([comfy.url, "--seed", "3", "--out", str(tmp_path)], out=out) == 0
    lines = out.getvalue().splitlines()
    assert lines[0] == "health: ok" and "step 1/" in out.getvalue()
    saved = [line.split(" ", 1)[1] for line in lines if line.startswith("saved ")]
    assert saved
    for path in saved:
        with Image.open(path) as image:
            assert image.format == "PNG"
    failing = _io.StringIO()
    assert try_command.main(["http://127.0.0.1:9", "--out", str(tmp_path)], out=failing) == 1
    assert "failed:" in failing.getvalue()


def test_every_message_type_arrives_in_comfys_order_with_previews():
    from core.comfy.events import (
        Cached,
        Executed,
        ExecutionStart,
        Preview,
        ProgressState,
        Status,
        Success,
    )

    with comfy_sim(ComfySimConfig(preview_method="auto")) as sim, ComfyClient(sim.url) as client:
        events = []
        client.run(graph(), on_event=events.append, timeout_s=30)
        second = []
        client.run(graph(seed=12), on_event=second.append, timeout_s=30)
    skipped = Preview | Status | Progress | ProgressState
    kinds = [type(e).__name__ for e in events if not isinstance(e, skipped)]
    assert kinds[:2] == ["ExecutionStart", "Cached"]
    assert kinds[-2:] == ["Executed", "Success"]
    assert set(kinds[2:-2]) == {"Executing"}
    assert isinstance(events[0], Status)  # the greeting sent on connect
    executed = next(e for e in events if isinstance(e, Executed))
    assert executed.outputs and isinstance(events[-1], Success)
    assert all(e.prompt_id == executed.prompt_id for e in events if isinstance(e, ExecutionStart))
    previews = [e for e in events if isinstance(e, Preview)]
    assert len(previews) == PRESETS.preset("low", "image").steps
    with Image.open(io.BytesIO(previews[0].data)) as frame:
        assert (previews[0].mime, frame.format) == ("image/jpeg", "JPEG")
    assert any(isinstance(e, ProgressState) and e.nodes for e in events)
    (cached,) = [e for e in second if isinstance(e, Cached)]
    assert "1" in cached.nodes and "5" not in cached.nodes  # the checkpoint stayed loaded
    executing = {e.node for e in second if isinstance(e, Executing)}
    assert "1" not in executing and "5" in executing  # the sampler ran again


def test_an_identical_graph_is_served_from_comfys_cache_with_the_first_files(client):
    first = client.run(graph(seed=5), timeout_s=30)
    events = []
    again = client.run(graph(seed=5), on_event=events.append, timeout_s=30)
    assert again.outputs == first.outputs
    assert client.view(again.outputs[0]) == client.view(first.outputs[0])
    assert not any(isinstance(e, Progress) for e in events)


def test_the_instances_token_opens_it_and_any_other_is_refused():
    with comfy_sim(ComfySimConfig(token="instance-token")) as sim:
        good = {"Authorization": "Bearer instance-token"}
        with ComfyClient(sim.url, headers=good) as client:
            assert client.run(graph(), timeout_s=30).outputs
            assert health.check(sim.url, PRESETS.required_models(), headers=good) is None
        with ComfyClient(sim.url, headers={"Authorization": "Bearer pool-token"}) as client:
            with pytest.raises(ComfyUnavailable, match="refused our credentials"):
                client.system_stats()
            with pytest.raises(ComfyUnavailable):
                client.run(graph(), timeout_s=5)
        assert "401" in health.check(sim.url, PRESETS.required_models())


def test_outputs_carry_comfys_prompt_metadata(client):
    import json

    image_graph = graph(batch_size=2)
    refs = client.run(image_graph, timeout_s=30).outputs
    for ref in refs:
        with Image.open(io.BytesIO(client.view(ref))) as image:
            assert json.loads(image.text["prompt"]) == image_graph
    video_graph = graph(
        kind="video", model=PRESETS.default_model("video"), preset="low", tools=WEBP_CLIP
    )
    (clip,) = client.run(video_graph, timeout_s=60).outputs
    with Image.open(io.BytesIO(client.view(clip))) as webp:
        tag = webp.getexif()[0x0110]
    assert tag.startswith("prompt:") and json.loads(tag[len("prompt:") :]) == video_graph


@pytest.mark.parametrize(
    ("node", "kind", "message"),
    [
        ({"class_type": "VAEDecode", "inputs": {"samples": ["1", 0], "vae": ["1", 2]}},
         "return_type_mismatch", "Return type mismatch between linked nodes"),
        ({"class_type": "VAEDecode", "inputs": {"samples": ["5"], "vae": ["1", 2]}},
         "bad_linked_input", "Bad linked input, must be a length-2 list of [node_id, slot_index]"),
        ({"class_type": "VAEDecode", "inputs": {"vae": ["1", 2]}},
         "required_input_missing", "Required input is missing"),
    ],
)  # fmt: skip
def test_validation_errors_have_comfys_shapes(client, node, kind, message):
    bad = graph()
    decode = next(nid for nid, n in bad.items() if n["class_type"] == "VAEDecode")
    bad[decode] = node
    with pytest.raises(GraphInvalid, match=f"VAEDecode #{decode} input 'samples'") as info:
        client.submit(bad)
    (error,) = info.value.node_errors[decode]["errors"]
    assert (error["type"], error["message"], error["extra_info"]["input_name"]) == (
        kind,
        message,
        "samples",
    )
    top = info.value.body["error"]
    assert top["type"] == "prompt_outputs_failed_validation"
    assert top["details"] == ""  # the failing node is upstream of the output node


def test_a_body_without_prompt_is_no_prompt(comfy):
    import httpx

    reply = httpx.post(f"{comfy.url}/prompt", json={"client_id": "x"})
    assert reply.status_code == 400
    assert reply.json() == {
        "error": {
            "type": "no_prompt",
            "message": "No prompt provided",
            "details": "No prompt provided",
            "extra_info": {},
        },
        "node_errors": {},
    }


def test_interrupt_naming_another_prompt_leaves_the_running_one_alone():
    with comfy_sim(ComfySimConfig(step_delay_s=0.02)) as sim, ComfyClient(sim.url) as client:
        timer = threading.Timer(0.2, client.interrupt, kwargs={"prompt_id": "someone-else"})
        timer.start()
        result = client.run(graph(), timeout_s=30)
        timer.join()
    assert result.outputs


def test_interrupt_naming_the_running_prompt_stops_it():
    with comfy_sim(ComfySimConfig(hang=True)) as sim, ComfyClient(sim.url) as client:

        def stop_running():
            while sim.state.running is None:
                threading.Event().wait(0.02)
            client.interrupt(sim.state.running.prompt_id)

        timer = threading.Thread(target=stop_running)
        timer.start()
        with pytest.raises(ExecutionFailed, match="interrupted"):
            client.run(graph(), timeout_s=30)
        timer.join()


def test_missing_ipadapter_files_refuse_the_graph_and_fail_the_health_check():
    config = ComfySimConfig()
    config.models["clip_vision"] = []
    with comfy_sim(config) as sim, ComfyClient(sim.url) as client:
        buffer = io.BytesIO()
        Image.new("RGB", (32, 32), "teal").save(buffer, format="PNG")
        name = client.upload_image(buffer.getvalue(), "ref.png")
        with pytest.raises(GraphInvalid, match=r"CLIPVisionLoader #3 input 'clip_name'"):
            client.run(graph(reference_images=(name,)), timeout_s=30)
        reason = health.check(sim.url, PRESETS.required_models())
    assert reason == (
        "missing: clip_vision/CLIP-ViT-H-14-laion2B-s32B-b79K.safetensors, "
        "clip_vision/clip_vision_h.safetensors"
    )


def test_dropped_socket_stops_events_and_history_finishes_the_run():
    events = []
    with comfy_sim(ComfySimConfig(drop_ws=True, step_delay_s=0.02)) as sim:
        with ComfyClient(sim.url) as client:
            result = client.run(graph(), on_event=events.append, timeout_s=30)
            entry = client.history(result.prompt_id)
    assert [e.value for e in events if isinstance(e, Progress)] == [1]
    assert entry["status"]["completed"] and len(result.outputs) == 1
    kinds = [kind for kind, _data in entry["status"]["messages"]]
    assert kinds == ["execution_start", "execution_cached", "execution_success"]


def _counting_opens(client, monkeypatch):
    opened: list[str] = []
    real = client._open_socket

    def counted(client_id):
        opened.append(client_id)
        return real(client_id)

    monkeypatch.setattr(client, "_open_socket", counted)
    return opened


def test_runs_after_a_success_reuse_its_socket(monkeypatch):
    events = []
    with comfy_sim(ComfySimConfig(step_delay_s=0)) as sim, ComfyClient(sim.url) as client:
        opened = _counting_opens(client, monkeypatch)
        first = client.run(graph(seed=1), timeout_s=30)
        second = client.run(graph(seed=2), on_event=events.append, timeout_s=30)
    assert len(opened) == 1
    assert first.prompt_id != second.prompt_id and len(second.outputs) == 1
    # The second run saw its own progress, none of the first's.
    assert [e.value for e in events if isinstance(e, Progress)] == list(
        range(1, PRESETS.preset("low", "image").steps + 1)
    )


def test_a_failed_run_does_not_hand_its_socket_on(monkeypatch):
    with comfy_sim(ComfySimConfig(fail_at_step=2)) as sim, ComfyClient(sim.url) as client:
        opened = _counting_opens(client, monkeypatch)
        for _ in range(2):
            with pytest.raises(ExecutionFailed):
                client.run(graph(), timeout_s=30)
    assert len(opened) == 2
