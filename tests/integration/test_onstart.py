"""The onstart template, run for real by bash against a model server on loopback.

`curl` is a thin wrapper that records its command line and the config it reads on stdin,
then runs the real curl with huggingface.co and civitai.com pointed at the local server, so
the script's own choices (which token goes where, and how) are what the test sees.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from core.comfy.health import PROVISION_REPORT
from core.pool.launch import COMFY_ARGS, ONSTART_TEMPLATE

HF_TOKEN = "hf_test_token_do_not_log"
CIVITAI_TOKEN = "civitai_test_token_do_not_log"
CURL_WRAPPER = """#!/bin/bash
printf '%s\\n' "$*" >>"$FAKE_ARGV_LOG"
config=$(cat)
printf '%s\\n' "$config" >>"$FAKE_STDIN_LOG"
args=()
for arg in "$@"; do
  arg="${arg/https:\\/\\/huggingface.co\\//$FAKE_BASE/hf/}"
  arg="${arg/https:\\/\\/civitai.com\\//$FAKE_BASE/cv/}"
  args+=("$arg")
done
printf '%s' "$config" | /usr/bin/curl "${args[@]}"
"""
FAKE_COMFYUI = "import pathlib, sys\npathlib.Path('argv.txt').write_text(' '.join(sys.argv))\n"


@dataclass
class ModelServer:
    """Files by path; HEAD answers Hugging Face's X-Linked-* headers for `/hf/` files."""

    files: dict[str, bytes] = field(default_factory=dict)
    corrupt_gets: dict[str, int] = field(default_factory=dict)
    """Path -> how many GETs still serve wrong bytes."""
    requests: list[tuple[str, str, str, str]] = field(default_factory=list)
    """(method, path, Range, Authorization) of every request."""
    in_flight: int = 0
    most_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    two_in_flight: threading.Event = field(default_factory=threading.Event)
    hold_s: float = 0.0
    """How long a GET waits for a second one to run beside it (to see parallel streams)."""


def _handler(server: ModelServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _record(self) -> bytes | None:
            with server.lock:
                server.requests.append(
                    (
                        self.command,
                        self.path,
                        self.headers.get("Range", ""),
                        self.headers.get("Authorization", ""),
                    )
                )
            return server.files.get(self.path)

        def do_HEAD(self) -> None:
            data = self._record()
            if data is None:
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(302 if self.path.startswith("/hf/") else 200)
            if self.path.startswith("/hf/"):
                self.send_header("X-Linked-Etag", f'"{hashlib.sha256(data).hexdigest()}"')
                self.send_header("X-Linked-Size", str(len(data)))
            self.send_header("Location", self.path)
            self.end_headers()

        def do_GET(self) -> None:
            data = self._record()
            if data is None:
                self.send_response(404)
                self.end_headers()
                return
            with server.lock:
                server.in_flight += 1
                server.most_in_flight = max(server.most_in_flight, server.in_flight)
                if server.in_flight >= 2:
                    server.two_in_flight.set()
                if server.corrupt_gets.get(self.path, 0) > 0:
                    server.corrupt_gets[self.path] -= 1
                    data = bytes(len(data))
            try:
                server.two_in_flight.wait(server.hold_s)
                start = int(self.headers.get("Range", "bytes=0-")[6:].split("-")[0] or 0)
                self.send_response(206 if start else 200)
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                self.wfile.write(data[start:])
            finally:
                with server.lock:
                    server.in_flight -= 1

    return Handler


@pytest.fixture
def models() -> Iterator[tuple[ModelServer, str]]:
    state = ModelServer()
    http = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{http.server_address[1]}"
    finally:
        http.shutdown()
        http.server_close()


@dataclass
class Run:
    comfy: Path
    log: str
    argv: str
    stdin: str

    def report(self) -> dict:
        return json.loads((self.comfy / "input" / PROVISION_REPORT).read_text())


def run_onstart(tmp_path: Path, base: str, models: dict[str, str], **env: str) -> Run:
    """Run the template once with `models` (`AIK_MODEL_<n>` values) and extra `env`."""
    comfy = tmp_path / "ComfyUI"
    comfy.mkdir(exist_ok=True)
    (comfy / "main.py").write_text(FAKE_COMFYUI)
    (comfy / "argv.txt").unlink(missing_ok=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "curl").write_text(CURL_WRAPPER)
    (bin_dir / "curl").chmod(0o755)
    logs = {name: tmp_path / f"{name}.log" for name in ("onstart", "argv", "stdin")}
    for path in logs.values():
        path.write_text("")
    full_env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "WORKSPACE": str(tmp_path),
        "AIK_LOG": str(logs["onstart"]),
        "FAKE_ARGV_LOG": str(logs["argv"]),
        "FAKE_STDIN_LOG": str(logs["stdin"]),
        "FAKE_BASE": base,
        "COMFYUI_ARGS": COMFY_ARGS,
        **{f"AIK_MODEL_{index}": value for index, value in models.items()},
        **env,
    }
    subprocess.run(["bash", str(ONSTART_TEMPLATE)], env=full_env, check=True, timeout=60)
    argv = comfy / "argv.txt"
    deadline = time.monotonic() + 10
    while not argv.exists() and time.monotonic() < deadline:
        time.sleep(0.05)  # ComfyUI is started in the background by the script
    return Run(
        comfy,
        logs["onstart"].read_text(),
        logs["argv"].read_text(),
        logs["stdin"].read_text(),
    )


def _blob(seed: str, size: int = 50_000) -> bytes:
    return (hashlib.sha256(seed.encode()).digest() * (size // 32 + 1))[:size]


def test_models_download_in_parallel_resume_and_each_is_verified(tmp_path, models):
    server, base = models
    pinned, hub, plain = _blob("pinned"), _blob("hub"), _blob("plain")
    server.files |= {"/hf/a.safetensors": pinned, "/hf/b.safetensors": hub, "/cv/c": plain}
    server.hold_s = 5.0  # sequential downloads would each wait this out alone
    partial = tmp_path / "ComfyUI" / "models" / "checkpoints" / "a.safetensors.part"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(pinned[:20_000])
    run = run_onstart(
        tmp_path,
        base,
        {
            "1": "checkpoints/a.safetensors=https://huggingface.co/a.safetensors",
            "2": "vae/b.safetensors=https://huggingface.co/b.safetensors",
            "3": "loras/c.safetensors=https://civitai.com/c",
        },
        AIK_CHECK_1=f"{hashlib.sha256(pinned).hexdigest()}:{len(pinned)}",
    )
    files = run.report()["files"]
    assert {path: (entry["ok"], entry["expected"]) for path, entry in files.items()} == {
        "checkpoints/a.safetensors": (True, "pinned"),
        "vae/b.safetensors": (True, "source"),
        "loras/c.safetensors": (True, "none"),
    }
    assert files["vae/b.safetensors"]["sha256"] == hashlib.sha256(hub).hexdigest()
    assert (run.comfy / "models" / "checkpoints" / "a.safetensors").read_bytes() == pinned
    assert ("GET", "/hf/a.safetensors", "bytes=20000-") in [r[:3] for r in server.requests]
    assert server.most_in_flight >= 2
    assert run.report()["failed"] == []


def test_a_file_that_fails_its_check_is_fetched_once_more_then_reported(tmp_path, models):
    server, base = models
    flaky, broken = _blob("flaky"), _blob("broken")
    server.files |= {"/hf/flaky": flaky, "/hf/broken": broken}
    server.corrupt_gets |= {"/hf/flaky": 1, "/hf/broken": 5}
    run = run_onstart(
        tmp_path,
        base,
        {
            "1": "checkpoints/flaky.safetensors=https://huggingface.co/flaky",
            "2": "checkpoints/broken.safetensors=https://huggingface.co/broken",
        },
    )
    report = run.report()
    flaky_entry = report["files"]["checkpoints/flaky.safetensors"]
    broken_entry = report["files"]["checkpoints/broken.safetensors"]
    assert (flaky_entry["ok"], flaky_entry["attempts"]) == (True, 2)
    assert (broken_entry["ok"], broken_entry["attempts"]) == (False, 2)
    assert report["failed"] == ["checkpoints/broken.safetensors"]
    assert not (run.comfy / "models" / "checkpoints" / "broken.safetensors").exists()
    gets = [path for method, path, _range, _auth in server.requests if method == "GET"]
    assert gets.count("/hf/broken") == 2
    assert "checkpoints/broken.safetensors failed its check" in run.log


def test_tokens_go_to_their_own_host_on_stdin_never_to_a_command_line_or_the_log(tmp_path, models):
    server, base = models
    server.files |= {"/hf/gated": _blob("gated"), "/cv/community": _blob("community")}
    server.files["/elsewhere"] = _blob("elsewhere")
    run = run_onstart(
        tmp_path,
        base,
        {
            "1": "checkpoints/gated.safetensors=https://huggingface.co/gated",
            "2": "loras/community.safetensors=https://civitai.com/community",
            "3": f"vae/other.safetensors={base}/elsewhere",
        },
        HF_TOKEN=HF_TOKEN,
        CIVITAI_TOKEN=CIVITAI_TOKEN,
    )
    sent = {(path, auth) for _method, path, _range, auth in server.requests}
    assert ("/hf/gated", f"Bearer {HF_TOKEN}") in sent
    assert ("/cv/community", f"Bearer {CIVITAI_TOKEN}") in sent
    assert {auth for path, auth in sent if path == "/elsewhere"} == {""}
    assert HF_TOKEN in run.stdin and CIVITAI_TOKEN in run.stdin
    for secret in (HF_TOKEN, CIVITAI_TOKEN):
        assert secret not in run.argv
        assert secret not in run.log
        assert secret not in json.dumps(run.report())
    assert all(entry["ok"] for entry in run.report()["files"].values())


def test_files_verified_before_are_neither_fetched_nor_hashed_again(tmp_path, models):
    """What makes a prebuilt image start without downloads: its files carry their stamps."""
    server, base = models
    server.files["/hf/model"] = _blob("model")
    wanted = {"1": "checkpoints/model.safetensors=https://huggingface.co/model"}
    first = run_onstart(tmp_path, base, wanted)
    assert first.report()["files"]["checkpoints/model.safetensors"]["ok"]
    server.requests.clear()
    second = run_onstart(tmp_path, base, wanted)
    assert server.requests == []
    entry = second.report()["files"]["checkpoints/model.safetensors"]
    assert (entry["ok"], entry["expected"], entry["attempts"]) == (True, "stamp", 0)


def test_comfyui_restarts_with_the_preview_method_on_localhost_only(tmp_path, models):
    _server, base = models
    run = run_onstart(tmp_path, base, {})
    argv = (run.comfy / "argv.txt").read_text().split()
    assert argv[argv.index("--preview-method") + 1] == "auto"
    assert argv[argv.index("--listen") + 1] == "127.0.0.1"
    assert run.report() == {"version": 1, "files": {}, "failed": []}
