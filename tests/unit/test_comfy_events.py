"""WebSocket messages in ComfyUI's real shapes become typed events."""

import json

import pytest

from core.comfy.events import (
    Cached,
    Executed,
    Executing,
    ExecutionError,
    ExecutionStart,
    Interrupted,
    NodeProgress,
    OutputRef,
    Preview,
    Progress,
    ProgressState,
    Status,
    Success,
    Unknown,
    parse_event,
)


def msg(kind, **data):
    return json.dumps({"type": kind, "data": data})


@pytest.mark.parametrize(
    ("message", "event"),
    [
        (msg("status", status={"exec_info": {"queue_remaining": 2}}, sid="c1"), Status(2)),
        (msg("execution_start", prompt_id="p", timestamp=1), ExecutionStart("p")),
        (msg("execution_cached", nodes=["1", "2"], prompt_id="p"), Cached("p", ("1", "2"))),
        (msg("executing", node="5", display_node="5", prompt_id="p"), Executing("p", "5")),
        (msg("executing", node=None, prompt_id="p"), Executing("p", None)),
        (msg("progress", value=3, max=20, prompt_id="p", node="5"), Progress("p", "5", 3, 20)),
        (
            msg(
                "executed",
                node="7",
                display_node="7",
                prompt_id="p",
                output={"images": [{"filename": "a.png", "subfolder": "", "type": "output"}]},
            ),
            Executed("p", "7", (OutputRef("a.png", "", "output"),)),
        ),
        (msg("execution_success", prompt_id="p", timestamp=2), Success("p")),
        (
            msg(
                "execution_error",
                prompt_id="p",
                node_id="5",
                node_type="KSampler",
                exception_message="CUDA out of memory\n",
                exception_type="torch.OutOfMemoryError",
            ),
            ExecutionError("p", "5", "KSampler", "CUDA out of memory", "torch.OutOfMemoryError"),
        ),
        (msg("execution_interrupted", prompt_id="p", node_id="5"), Interrupted("p")),
        (msg("crystools.monitor", cpu_utilization=3), Unknown("crystools.monitor")),
        (b"\x00\x00\x00\x01binary preview", Unknown("binary")),
        (b"\x00\x00\x00\x01\x00\x00\x00\x01<jpeg>", Preview("image/jpeg", b"<jpeg>")),
        (b"\x00\x00\x00\x01\x00\x00\x00\x02<png>", Preview("image/png", b"<png>")),
        (b"\x00\x00\x00\x03\x00\x00\x00\x01text", Unknown("binary")),
        (b"\x00\x01", Unknown("binary")),
        ("not json", Unknown("invalid_json")),
        ("[1, 2]", Unknown("invalid_json")),
        # A nested field of the wrong shape reads as absent instead of raising.
        (msg("status", status="busy"), Status(0)),
        (msg("executed", node="7", prompt_id="p", output=["a.png"]), Executed("p", "7", ())),
        (
            msg(
                "progress_state",
                prompt_id="p",
                nodes={
                    "5": {"value": 3, "max": 18, "state": "running", "node_id": "5"},
                    "1": {"value": 1.0, "max": 1.0, "state": "finished", "node_id": "1"},
                },
            ),
            ProgressState(
                "p",
                (NodeProgress("5", "running", 3.0, 18.0), NodeProgress("1", "finished", 1.0, 1.0)),
            ),
        ),
        (msg("progress_state", prompt_id="p", nodes=[]), ProgressState("p", ())),
    ],
)
def test_parse(message, event):
    assert parse_event(message) == event


@pytest.mark.parametrize(
    ("name", "mime"),
    [
        ("clip_00001_.webp", "image/webp"),
        ("img_00001_.png", "image/png"),
        ("IMG_00001_.PNG", "image/png"),
        ("video/ComfyUI_00001_.mp4", "video/mp4"),
        ("clip_00001_.webm", "video/webm"),
        ("anim_00001_.gif", "image/gif"),
        ("photo.jpeg", "image/jpeg"),
        ("mesh_00001_.glb", "application/octet-stream"),
        ("no_extension", "application/octet-stream"),
    ],
)
def test_output_mime_follows_the_file_extension(name, mime):
    assert OutputRef(name).mime == mime
