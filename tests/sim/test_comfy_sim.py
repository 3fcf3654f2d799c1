"""The ComfyUI simulator answers as the real v0.3.64 does, over raw HTTP and WebSocket.

Each expectation is a shape seen on the real server (`../shared/comfy/`, and ComfyUI's
`server.py` / `execution.py`): validation errors from its `/object_info` facts, the routes
and fields clients read, the WebSocket messages in order, caching across prompts, previews
only with a preview method, and the proxy and start an instance puts in front of it.
"""

from __future__ import annotations

import json
import struct
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from core.comfy.presets import Presets
from sim.comfy import ComfySimConfig
from sim.comfy.provision import REPORT_NAME, ModelFile, Provisioning, true_file
from sim.comfy.schema import facts
from testing import factories
from testing.sims import ComfySim, comfy_sim

PRESETS = Presets.load()
CLIENT = "contract-client"
SDXL_PATH = "checkpoints/sdxl_base_1.0.safetensors"


def image_graph(**fields: Any) -> dict[str, Any]:
    return factories.image_graph(PRESETS, **fields)


def node_of(graph: dict[str, Any], class_type: str) -> str:
    return next(node_id for node_id, node in graph.items() if node["class_type"] == class_type)


def post_prompt(sim: ComfySim, graph: Any, **extra: Any) -> httpx.Response:
    return httpx.post(f"{sim.url}/prompt", json={"prompt": graph, **extra}, timeout=10)


def refused(sim: ComfySim, graph: Any) -> dict[str, Any]:
    reply = post_prompt(sim, graph)
    assert reply.status_code == 400, reply.text
    body: dict[str, Any] = reply.json()
    return body


def only_error(body: dict[str, Any], node_id: str) -> dict[str, Any]:
    (error,) = body["node_errors"][node_id]["errors"]
    return error


@contextmanager
def socket(sim: ComfySim, client_id: str = CLIENT) -> Iterator[ClientConnection]:
    with connect(f"{sim.url.replace('http', 'ws')}/ws?clientId={client_id}") as ws:
        yield ws


def until_idle(ws: ClientConnection, prompt_id: str) -> list[Any]:
    """Every message up to this prompt's final `executing {node: null}`; binary frames as bytes."""
    messages: list[Any] = []
    while True:
        raw = ws.recv(timeout=30)
        if isinstance(raw, bytes):
            messages.append(raw)
            continue
        message = json.loads(raw)
        messages.append(message)
        data = message["data"]
        if message["type"] == "executing" and data["node"] is None:
            if data.get("prompt_id") == prompt_id:
                return messages


def run(sim: ComfySim, graph: dict[str, Any]) -> tuple[str, list[Any]]:
    with socket(sim) as ws:
        reply = post_prompt(sim, graph, client_id=CLIENT)
        assert reply.status_code == 200, reply.text
        prompt_id = reply.json()["prompt_id"]
        return prompt_id, until_idle(ws, prompt_id)


def kinds(messages: list[Any]) -> list[str]:
    return ["binary" if isinstance(m, bytes) else m["type"] for m in messages]


# ---- validation: the real error shapes ------------------------------------------------------


def test_invalid_json_crashes_the_handler_into_a_plain_500(comfy):
    reply = httpx.post(f"{comfy.url}/prompt", content=b"{not json")
    assert reply.status_code == 500
    assert reply.headers["content-type"].startswith("text/plain")
    assert reply.text == "500 Internal Server Error\n\nServer got itself in trouble"


def test_an_empty_prompt_has_no_outputs(comfy):
    assert refused(comfy, {}) == {
        "error": {
            "type": "prompt_no_outputs",
            "message": "Prompt has no outputs",
            "details": "",
            "extra_info": {},
        },
        "node_errors": {},
    }


def test_a_node_without_class_type_and_an_unknown_class_name_their_node(comfy):
    graph = image_graph()
    graph["3"].pop("class_type")
    assert refused(comfy, graph)["error"] == {
        "type": "invalid_prompt",
        "message": "Cannot execute because a node is missing the class_type property.",
        "details": "Node ID '#3'",
        "extra_info": {},
    }
    body = refused(comfy, {"1": {"class_type": "NoSuchNode", "inputs": {}}})
    assert body["error"]["message"] == "Cannot execute because node NoSuchNode does not exist."
    assert body["node_errors"] == {}


def test_an_enum_typo_is_value_not_in_list_with_the_real_list(comfy):
    graph = image_graph()
    sampler = node_of(graph, "KSampler")
    graph[sampler]["inputs"]["scheduler"] = "Karras"
    body = refused(comfy, graph)
    error = only_error(body, sampler)
    schedulers = facts()["KSampler"]["input"]["required"]["scheduler"][0]
    assert (error["type"], error["message"]) == ("value_not_in_list", "Value not in list")
    assert error["details"] == f"scheduler: 'Karras' not in {schedulers}"
    assert error["extra_info"]["input_config"][0] == schedulers
    assert error["extra_info"]["received_value"] == "Karras"
    assert body["node_errors"][sampler]["class_type"] == "KSampler"
    assert body["node_errors"][sampler]["dependent_outputs"] == [node_of(graph, "SaveImage")]
    assert body["error"]["type"] == "prompt_outputs_failed_validation"


def test_a_long_enum_list_is_summarised_as_comfyui_does(comfy):
    graph = image_graph()
    sampler = node_of(graph, "KSampler")
    graph[sampler]["inputs"]["sampler_name"] = "dpmpp-2m"
    error = only_error(refused(comfy, graph), sampler)
    count = len(facts()["KSampler"]["input"]["required"]["sampler_name"][0])
    assert count > 20
    assert error["details"] == f"sampler_name: 'dpmpp-2m' not in (list of length {count})"
    assert error["extra_info"]["input_config"] is None


@pytest.mark.parametrize(
    ("class_type", "name", "value", "kind", "message"),
    [
        ("KSampler", "seed", 2**64, "value_bigger_than_max", "max of 18446744073709551615"),
        ("KSampler", "steps", 0, "value_smaller_than_min", "Value 0 smaller than min of 1"),
        ("KSampler", "steps", 10_001, "value_bigger_than_max", "bigger than max of 10000"),
        ("KSampler", "cfg", 100.5, "value_bigger_than_max", "Value 100.5 bigger than max of 100.0"),
        ("EmptyLatentImage", "width", 16_392, "value_bigger_than_max", "bigger than max of 16384"),
        ("EmptyLatentImage", "height", 8, "value_smaller_than_min", "smaller than min of 16"),
        ("IPAdapterAdvanced", "weight", 5.5, "value_bigger_than_max", "bigger than max of 5"),
        ("EmptyHunyuanLatentVideo", "length", 0, "value_smaller_than_min", "smaller than min of 1"),
    ],
)  # fmt: skip
def test_ranges_come_from_the_real_facts(comfy, class_type, name, value, kind, message):
    if class_type == "EmptyHunyuanLatentVideo":
        graph = image_graph(kind="video", model=PRESETS.default_model("video"))
    elif class_type == "IPAdapterAdvanced":
        comfy.state.files[("input", "", "ref.png")] = b"png"
        graph = image_graph(reference_images=("ref.png",))
    else:
        graph = image_graph()
    target = node_of(graph, class_type)
    graph[target]["inputs"][name] = value
    error = only_error(refused(comfy, graph), target)
    assert (error["type"], error["details"]) == (kind, name)
    assert message in error["message"]
    assert error["extra_info"]["received_value"] == value


def test_values_at_the_real_limits_are_accepted(comfy):
    graph = image_graph()
    graph[node_of(graph, "KSampler")]["inputs"]["seed"] = 2**64 - 1
    latent = graph[node_of(graph, "EmptyLatentImage")]["inputs"]
    latent["width"], latent["height"], latent["batch_size"] = 16384, 16, 1
    graph[node_of(graph, "KSampler")]["inputs"]["steps"] = 1
    prompt_id, _messages = run(comfy, graph)
    assert httpx.get(f"{comfy.url}/history/{prompt_id}").json()[prompt_id]["status"]["completed"]


def test_numeric_strings_are_converted_and_the_graph_runs_converted(comfy):
    graph = image_graph()
    sampler = node_of(graph, "KSampler")
    graph[sampler]["inputs"] |= {"steps": "3", "cfg": "6.5", "seed": "42"}
    prompt_id, _messages = run(comfy, graph)
    entry = httpx.get(f"{comfy.url}/history/{prompt_id}").json()[prompt_id]
    ran = entry["prompt"][2][sampler]["inputs"]
    assert (ran["steps"], ran["cfg"], ran["seed"]) == (3, 6.5, 42)
    progress = [m for m in _messages if isinstance(m, dict) and m["type"] == "progress"]
    assert [m["data"]["value"] for m in progress] == [1, 2, 3]


def test_a_value_that_does_not_convert_is_invalid_input_type(comfy):
    graph = image_graph()
    sampler = node_of(graph, "KSampler")
    graph[sampler]["inputs"]["steps"] = "abc"
    error = only_error(refused(comfy, graph), sampler)
    assert error["type"] == "invalid_input_type"
    assert error["message"] == "Failed to convert an input value to a INT value"
    assert error["details"] == "steps, abc, invalid literal for int() with base 10: 'abc'"


def test_a_link_to_a_missing_node_upstream_names_the_downstream_input(comfy):
    graph = image_graph()
    decode, save = node_of(graph, "VAEDecode"), node_of(graph, "SaveImage")
    graph[decode]["inputs"]["samples"] = ["99", 0]
    body = refused(comfy, graph)
    error = only_error(body, decode)
    assert (error["type"], error["message"], error["details"]) == (
        "exception_during_inner_validation",
        "Exception when validating inner node",
        "'99'",
    )
    info = error["extra_info"]
    assert (info["input_name"], info["linked_node"], info["exception_type"]) == (
        "images",
        [decode, 0],
        "KeyError",
    )
    assert info["input_config"] == ["IMAGE", facts()["SaveImage"]["input"]["required"]["images"][1]]
    assert save not in body["node_errors"]
    assert body["error"]["details"] == ""  # the failure is upstream of the output node


def test_a_link_to_a_missing_slot_is_an_index_error(comfy):
    graph = image_graph()
    decode = node_of(graph, "VAEDecode")
    graph[decode]["inputs"]["samples"] = [node_of(graph, "KSampler"), 5]
    error = only_error(refused(comfy, graph), decode)
    assert error["details"] == "tuple index out of range"
    assert error["extra_info"]["exception_type"] == "IndexError"


def test_a_dangling_link_on_the_output_node_itself_is_exception_during_validation(comfy):
    graph = image_graph()
    save = node_of(graph, "SaveImage")
    graph[save]["inputs"]["images"] = ["99", 0]
    body = refused(comfy, graph)
    error = only_error(body, save)
    assert error["type"] == "exception_during_validation"
    assert set(error["extra_info"]) == {"exception_type", "traceback"}
    assert body["error"]["details"] == "Exception when validating node: '99'"


def test_top_level_details_list_the_output_nodes_own_errors(comfy):
    graph = image_graph()
    save = node_of(graph, "SaveImage")
    del graph[save]["inputs"]["images"]
    body = refused(comfy, graph)
    assert body["error"]["details"] == "Required input is missing: images"
    assert only_error(body, save)["extra_info"] == {"input_name": "images"}


def test_a_link_of_the_wrong_type_is_a_return_type_mismatch(comfy):
    graph = image_graph()
    decode, loader = node_of(graph, "VAEDecode"), node_of(graph, "CheckpointLoaderSimple")
    graph[decode]["inputs"]["samples"] = [loader, 0]
    error = only_error(refused(comfy, graph), decode)
    assert error["type"] == "return_type_mismatch"
    assert error["details"] == "samples, received_type(MODEL) mismatch input_type(LATENT)"
    assert (error["extra_info"]["received_type"], error["extra_info"]["linked_node"]) == (
        "MODEL",
        [loader, 0],
    )


def test_a_model_file_not_on_disk_is_not_in_the_list_of_installed_files(comfy):
    graph = image_graph()
    loader = node_of(graph, "CheckpointLoaderSimple")
    graph[loader]["inputs"]["ckpt_name"] = "missing.safetensors"
    error = only_error(refused(comfy, graph), loader)
    installed = sorted(comfy.state.config.models["checkpoints"])
    assert error["details"] == f"ckpt_name: 'missing.safetensors' not in {installed}"
    assert error["extra_info"]["input_config"][0] == installed


def test_an_image_never_uploaded_fails_load_images_own_check(comfy):
    body = refused(comfy, image_graph(reference_images=("never.png",)))
    (entry,) = [e for e in body["node_errors"].values() if e["class_type"] == "LoadImage"]
    assert entry["errors"] == [
        {
            "type": "custom_validation_failed",
            "message": "Custom validation failed for node",
            "details": "image - Invalid image file: never.png",
            "extra_info": {"input_name": "image"},
        }
    ]


# ---- routes and fields ----------------------------------------------------------------------


def test_object_info_serves_every_real_class_with_files_from_disk(comfy):
    everything = httpx.get(f"{comfy.url}/object_info").json()
    # The real server's 515 classes, plus the Impact Pack's two the face fix uses.
    assert set(everything) == set(facts()) and len(everything) == 515 + 2
    detector = everything["UltralyticsDetectorProvider"]["input"]["required"]["model_name"]
    assert detector == [["bbox/face_yolov8m.pt"]]  # what models/ultralytics/bbox holds
    one = httpx.get(f"{comfy.url}/object_info/CheckpointLoaderSimple").json()
    files = one["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"][0]
    assert files == sorted(comfy.state.config.models["checkpoints"])
    assert httpx.get(f"{comfy.url}/object_info/NoSuchNode").json() == {}
    assert httpx.get(f"{comfy.url}/api/object_info/KSampler").json()["KSampler"]["output"] == [
        "LATENT"
    ]


def test_history_keeps_prompt_extra_data_status_and_meta_and_max_items_keeps_the_newest(comfy):
    first, _ = run(comfy, image_graph(seed=1))
    second, _ = run(comfy, image_graph(seed=2))
    entry = httpx.get(f"{comfy.url}/history/{second}").json()[second]
    number, prompt_id, _prompt, extra_data, outputs = entry["prompt"]
    save = node_of(image_graph(), "SaveImage")
    assert (prompt_id, outputs, extra_data["client_id"]) == (second, [save], CLIENT)
    assert isinstance(extra_data["create_time"], int) and isinstance(number, int)
    assert entry["meta"] == {
        save: {"node_id": save, "display_node": save, "parent_node": None, "real_node_id": save}
    }
    assert [kind for kind, _ in entry["status"]["messages"]] == [
        "execution_start",
        "execution_cached",
        "execution_success",
    ]
    assert all("timestamp" in data for _, data in entry["status"]["messages"])
    assert list(httpx.get(f"{comfy.url}/history", params={"max_items": 1}).json()) == [second]
    assert list(httpx.get(f"{comfy.url}/history").json()) == [first, second]
    assert httpx.get(f"{comfy.url}/history/unknown").json() == {}


def test_the_queue_shows_the_running_prompt_with_its_extra_data():
    with comfy_sim(ComfySimConfig(hang=True)) as sim:
        reply = post_prompt(sim, image_graph(), client_id=CLIENT, extra_data={"note": "x"})
        prompt_id = reply.json()["prompt_id"]
        while sim.state.running is None:
            time.sleep(0.01)  # the worker picks the prompt up on its own loop
        queue = httpx.get(f"{sim.url}/queue").json()
        (item,) = queue["queue_running"]
        assert item[1] == prompt_id and len(item) == 5
        assert item[3]["client_id"] == CLIENT and item[3]["note"] == "x"
        assert httpx.get(f"{sim.url}/prompt").json() == {"exec_info": {"queue_remaining": 1}}
        httpx.post(f"{sim.url}/interrupt", json={})


def test_view_types_a_file_by_its_name_and_refuses_paths_outside(comfy):
    prompt_id, _ = run(comfy, image_graph())
    output = httpx.get(f"{comfy.url}/history/{prompt_id}").json()[prompt_id]["outputs"]
    (image,) = next(iter(output.values()))["images"]
    reply = httpx.get(f"{comfy.url}/view", params=image)
    assert reply.headers["content-type"] == "image/png" and reply.content.startswith(b"\x89PNG")
    assert image["filename"] == "aikings_00001_.png"
    refused_path = httpx.get(f"{comfy.url}/view", params={"filename": "../secret.txt"})
    assert refused_path.status_code == 400


def test_an_upload_without_overwrite_keeps_both_files_of_one_name(comfy):
    def upload(data: bytes, **form: str) -> str:
        files = {"image": ("ref.png", data, "image/png")}
        reply = httpx.post(f"{comfy.url}/upload/image", files=files, data=form)
        name: str = reply.json()["name"]
        return name

    assert upload(b"one") == "ref.png"
    assert upload(b"one") == "ref.png"  # the same bytes: kept as it is
    assert upload(b"two") == "ref (1).png"
    assert upload(b"three", overwrite="true") == "ref.png"


# ---- WebSocket messages ---------------------------------------------------------------------


def test_a_run_sends_comfyuis_messages_in_its_order(comfy):
    graph = image_graph()
    with socket(comfy) as ws:
        greeting = json.loads(ws.recv(timeout=5))
        assert greeting == {
            "type": "status",
            "data": {"status": {"exec_info": {"queue_remaining": 0}}, "sid": CLIENT},
        }
        prompt_id = post_prompt(comfy, graph, client_id=CLIENT).json()["prompt_id"]
        messages = until_idle(ws, prompt_id)
    order = kinds(messages)
    assert order[:3] == ["status", "status", "execution_start"]  # queued, then started
    assert order[3] == "execution_cached"
    assert order[-3:] == ["execution_success", "status", "executing"]
    assert messages[-2]["data"] == {"status": {"exec_info": {"queue_remaining": 0}}}
    assert "binary" not in order  # started without --preview-method: no previews
    sampler = node_of(graph, "KSampler")
    states = [m["data"] for m in messages if isinstance(m, dict) and m["type"] == "progress_state"]
    assert states and all(s["prompt_id"] == prompt_id for s in states)
    final = states[-1]["nodes"]
    assert set(final) == set(graph) and {n["state"] for n in final.values()} == {"finished"}
    assert final[sampler]["max"] == PRESETS.preset("low", "image").steps
    executing = [
        m["data"]["node"] for m in messages if isinstance(m, dict) and m["type"] == "executing"
    ]
    assert executing[-1] is None and set(executing[:-1]) == set(graph)


def test_previews_are_sent_only_when_started_with_a_preview_method():
    with comfy_sim(ComfySimConfig(preview_method="auto")) as sim:
        _, messages = run(sim, image_graph())
        argv = httpx.get(f"{sim.url}/system_stats").json()["system"]["argv"]
    assert "--preview-method" in argv
    frames = [m for m in messages if isinstance(m, bytes)]
    assert len(frames) == PRESETS.preset("low", "image").steps
    assert struct.unpack(">II", frames[0][:8]) == (1, 1) and frames[0][8:10] == b"\xff\xd8"


def test_an_identical_prompt_is_cached_and_returns_the_old_files_without_progress(comfy):
    graph = image_graph()
    first, _ = run(comfy, graph)
    files_before = len(comfy.state.files)
    second, messages = run(comfy, graph)
    cached = next(m for m in messages if isinstance(m, dict) and m["type"] == "execution_cached")
    assert sorted(cached["data"]["nodes"]) == sorted(graph)
    assert "progress" not in kinds(messages)
    nodes = [
        m["data"]["node"] for m in messages if isinstance(m, dict) and m["type"] == "executing"
    ]
    assert nodes == [None]
    executed = [m["data"] for m in messages if isinstance(m, dict) and m["type"] == "executed"]
    history = httpx.get(f"{comfy.url}/history").json()
    assert [e["output"] for e in executed] == list(history[first]["outputs"].values())
    assert history[second]["outputs"] == history[first]["outputs"]
    assert len(comfy.state.files) == files_before


def test_a_new_seed_reruns_the_sampler_but_not_the_loaded_models(comfy):
    run(comfy, image_graph(seed=1))
    _, messages = run(comfy, image_graph(seed=2))
    cached = next(m for m in messages if isinstance(m, dict) and m["type"] == "execution_cached")
    graph = image_graph()
    assert node_of(graph, "CheckpointLoaderSimple") in cached["data"]["nodes"]
    assert node_of(graph, "KSampler") not in cached["data"]["nodes"]
    assert "progress" in kinds(messages)


def test_an_error_ends_with_status_and_executing_null_too():
    with comfy_sim(ComfySimConfig(fail_at_step=2)) as sim:
        prompt_id, messages = run(sim, image_graph())
        entry = httpx.get(f"{sim.url}/history/{prompt_id}").json()[prompt_id]
    assert kinds(messages)[-3:] == ["execution_error", "status", "executing"]
    error = messages[-3]["data"]
    assert (error["node_type"], error["exception_type"]) == ("KSampler", "torch.OutOfMemoryError")
    assert set(error) >= {"executed", "traceback", "current_inputs", "current_outputs"}
    assert (entry["status"]["status_str"], entry["status"]["completed"]) == ("error", False)


# ---- in front of ComfyUI: the proxy and the instance's start --------------------------------


def test_the_proxy_wants_the_instances_bearer_token():
    with comfy_sim(ComfySimConfig(token="t0ken")) as sim:
        assert httpx.get(f"{sim.url}/system_stats").status_code == 401
        wrong = httpx.get(f"{sim.url}/system_stats", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        right = httpx.get(f"{sim.url}/system_stats", headers={"Authorization": "Bearer t0ken"})
        assert right.status_code == 200
        with pytest.raises(Exception, match="rejected|403"):
            with connect(f"{sim.url.replace('http', 'ws')}/ws?clientId=x"):
                pass
        assert httpx.post(f"{sim.url}/_sim/faults", json={"hang": False}).status_code == 200


def test_a_comfyui_that_is_down_answers_502_from_the_proxy():
    with comfy_sim(ComfySimConfig(unhealthy=True)) as sim:
        assert httpx.get(f"{sim.url}/system_stats").status_code == 502
        assert post_prompt(sim, image_graph()).status_code == 502


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_start_restarts_comfyui_at_once_and_lists_no_models_until_downloaded():
    clock = Clock()
    path = "checkpoints/sdxl_base_1.0.safetensors"
    files = [ModelFile(path, *true_file(path), pinned=True)]
    config = ComfySimConfig(
        models={"checkpoints": ["sdxl_base_1.0.safetensors"]},
        clock=clock,
        provisioning=Provisioning(1000.0, files, download_s=60.0, comfy_start_s=20.0),
    )
    report = {"filename": REPORT_NAME, "type": "input"}
    with comfy_sim(config) as sim:
        assert httpx.get(f"{sim.url}/system_stats").status_code == 502  # restarting
        clock.now = 1030.0
        assert httpx.get(f"{sim.url}/system_stats").status_code == 200
        assert httpx.get(f"{sim.url}/models/checkpoints").json() == []
        assert httpx.get(f"{sim.url}/view", params=report).status_code == 404
        clock.now = 1060.0
        assert httpx.get(f"{sim.url}/models/checkpoints").json() == ["sdxl_base_1.0.safetensors"]
        entry = httpx.get(f"{sim.url}/view", params=report).json()["files"][path]
    assert entry == {
        "size_bytes": 6_938_078_334,
        "sha256": "31e35c80fc4829d14f90153f4c74cd59c90b779f6afe05a74cd6120b893f7e5b",
        "expected": "pinned",
        "ok": True,
        "attempts": 1,
    }


def test_a_short_file_is_reported_and_fails_the_loader_that_reads_it():
    path = "checkpoints/sdxl_base_1.0.safetensors"
    with comfy_sim(ComfySimConfig(bad_files={path: "short"})) as sim:
        report = httpx.get(
            f"{sim.url}/view", params={"filename": REPORT_NAME, "type": "input"}
        ).json()
        _, messages = run(sim, image_graph())
    assert report["failed"] == [path]
    assert report["files"][path]["size_bytes"] == 6_938_078_334 // 2
    error = next(
        m["data"] for m in messages if isinstance(m, dict) and m["type"] == "execution_error"
    )
    assert error["node_type"] == "CheckpointLoaderSimple"
    assert "MetadataIncompleteBuffer" in error["exception_message"]


def test_history_and_queue_take_clear_and_delete():
    with comfy_sim(ComfySimConfig(hang=True)) as sim:
        first = post_prompt(sim, image_graph(seed=1)).json()["prompt_id"]
        queued = [post_prompt(sim, image_graph(seed=s)).json()["prompt_id"] for s in (2, 3, 4)]
        while sim.state.running is None:
            time.sleep(0.01)
        httpx.post(f"{sim.url}/queue", json={"delete": [queued[0]]})
        pending = [item[1] for item in httpx.get(f"{sim.url}/queue").json()["queue_pending"]]
        assert pending == queued[1:]
        httpx.post(f"{sim.url}/queue", json={"clear": True})
        assert httpx.get(f"{sim.url}/queue").json()["queue_pending"] == []
        httpx.post(f"{sim.url}/interrupt", json={"prompt_id": first})
        while first not in sim.state.history:
            time.sleep(0.01)
        httpx.post(f"{sim.url}/history", json={"delete": [first]})
        assert httpx.get(f"{sim.url}/history").json() == {}
        assert httpx.post(f"{sim.url}/history", content=b"{oops").status_code == 500


def test_the_fleet_starts_each_comfyui_as_its_launch_asks():
    from sim.fleet import ComfyFleet, StartModel
    from sim.vast.state import SimInstance, Timings

    env = {
        "OPEN_BUTTON_TOKEN": "tok",
        "COMFYUI_ARGS": "--port 18188 --preview-method auto",
        "AIK_MODEL_1": f"{SDXL_PATH}=https://huggingface.co/x",
        "AIK_CHECK_1": f"{'a' * 64}:1000000000",
    }

    def instance(image: str, inet_down: float) -> SimInstance:
        return SimInstance(
            id=1,
            offer={"inet_down": inet_down},
            label="aik-x-1",
            image=image,
            env=env,
            onstart=None,
            disk=60,
            created_at=100.0,
            comfy_port=None,
            timings=Timings(1, 2, 3),
        )

    fleet = ComfyFleet(start=StartModel(comfy_start_s=5, prebuilt_images=frozenset({"pre"})))
    stock = fleet.configure(instance("vastai/comfy", 800.0), clock=lambda: 0.0)
    assert (stock.token, stock.preview_method) == ("tok", "auto")
    assert stock.models == {"checkpoints": ["sdxl_base_1.0.safetensors"]}
    assert stock.provisioning is not None and stock.provisioning.started_at == 106.0
    # one 1 GB file over an 800 Mbit/s link (8 connections of 500 Mbit/s), then its hash
    assert stock.provisioning.download_s == pytest.approx(8000 / 800 + 1.0)
    assert stock.provisioning.files[0].sha256 == "a" * 64
    prebuilt = fleet.configure(instance("pre", 800.0), clock=lambda: 0.0)
    assert prebuilt.provisioning is not None and prebuilt.provisioning.download_s == 0.0
