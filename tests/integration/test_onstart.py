"""The onstart template, run for real by bash against a model server on loopback.

`curl` and `aria2c` are thin wrappers that record their command line and what they read on
stdin, then run the real programs with huggingface.co and civitai.com pointed at the local
server, so the script's own choices (which token goes where, and how) are what the test
sees. The `aria2c` wrapper also keeps the verification report as it was at each download.
Without aria2c on the PATH the script falls back to curl (one connection per file).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from core.comfy.health import PROVISION_REPORT
from core.pool.launch import COMFY_ARGS, ONSTART_TEMPLATE, WANT_FILE

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
ARIA2C_WRAPPER = """#!/bin/bash
printf '%s\\n' "$*" >>"$FAKE_ARGV_LOG"
input=$(cat)
printf '%s\\n' "$input" >>"$FAKE_STDIN_LOG"
report="$WORKSPACE/ComfyUI/input/aikings-provision.json"
# one write, so two aria2c runs side by side never interleave their lines
printf '%s\\n%s\\n' "$(head -n1 <<<"$input")" "$(cat "$report" 2>/dev/null)" >>"$FAKE_REPORTS_LOG"
input="${input//https:\\/\\/huggingface.co\\//$FAKE_BASE/hf/}"
input="${input//https:\\/\\/civitai.com\\//$FAKE_BASE/cv/}"
printf '%s\\n' "$input" | /usr/bin/aria2c "$@"
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
                asked = self.headers.get("Range", "")
                first, _, last = asked[6:].partition("-")
                start = int(first or 0)
                end = int(last) if last else len(data) - 1
                self.send_response(206 if asked else 200)
                if asked:
                    self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
                self.send_header("Content-Length", str(end + 1 - start))
                self.end_headers()
                self.wfile.write(data[start : end + 1])
            finally:
                with server.lock:
                    server.in_flight -= 1

    return Handler


NEEDS_ARIA2C = pytest.mark.skipif(
    not Path("/usr/bin/aria2c").is_file(),
    reason="needs Debian's aria2 (apt-get install aria2), what a rented instance runs; "
    ".ci/run installs it",
)


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
    reports: str
    """Each aria2c call's URL line and the report as it was then."""

    def report(self) -> dict:
        return json.loads((self.comfy / "input" / PROVISION_REPORT).read_text())


TOOLS = (
    "bash", "date", "rm", "python3", "basename", "awk", "tr", "stat", "sha256sum", "cut",
    "mkdir", "mv", "mktemp", "wc", "cat", "nohup", "head", "env", "tail", "sleep",
)  # fmt: skip
"""What the script runs besides curl and aria2c (the PATH of a run without aria2c)."""


def _path_without_aria2c(tmp_path: Path, bin_dir: Path) -> str:
    """A PATH of the script's tools, curl's wrapper and an apt-get that installs nothing."""
    tools = tmp_path / "tools"
    tools.mkdir(exist_ok=True)
    for name in TOOLS:
        found = sys.executable if name == "python3" else shutil.which(name)
        assert found is not None, name
        (tools / name).unlink(missing_ok=True)
        (tools / name).symlink_to(found)
    (tools / "apt-get").write_text("#!/bin/bash\nexit 100\n")
    (tools / "apt-get").chmod(0o755)
    (tools / "curl").unlink(missing_ok=True)
    (tools / "curl").symlink_to(bin_dir / "curl")
    return str(tools)


def stop_group(group: int) -> None:
    """Stop what is left of a script's process group (its background watcher)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGTERM)


def run_onstart(
    tmp_path: Path,
    base: str,
    models: dict[str, str],
    *,
    aria2c: bool = True,
    watcher: list[int] | None = None,
    **env: str,
) -> Run:
    """Run the template once with `models` (`AIK_MODEL_<n>` values) and extra `env`;
    `aria2c=False` runs it where aria2c is missing and cannot be installed. The script's
    background watcher for later downloads is stopped with it, unless `watcher` is given: the
    process group to stop is then appended to it."""
    comfy = tmp_path / "ComfyUI"
    comfy.mkdir(exist_ok=True)
    (comfy / "main.py").write_text(FAKE_COMFYUI)
    (comfy / "argv.txt").unlink(missing_ok=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, wrapper in (("curl", CURL_WRAPPER), ("aria2c", ARIA2C_WRAPPER)):
        (bin_dir / name).write_text(wrapper)
        (bin_dir / name).chmod(0o755)
    logs = {name: tmp_path / f"{name}.log" for name in ("onstart", "argv", "stdin", "reports")}
    for path in logs.values():
        path.write_text("")
    full_env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}"
        if aria2c
        else _path_without_aria2c(tmp_path, bin_dir),
        "HOME": str(tmp_path),
        "WORKSPACE": str(tmp_path),
        "AIK_LOG": str(logs["onstart"]),
        "FAKE_ARGV_LOG": str(logs["argv"]),
        "FAKE_STDIN_LOG": str(logs["stdin"]),
        "FAKE_REPORTS_LOG": str(logs["reports"]),
        "FAKE_BASE": base,
        "COMFYUI_ARGS": COMFY_ARGS,
        **{f"AIK_MODEL_{index}": value for index, value in models.items()},
        **env,
    }
    script = subprocess.Popen(["bash", str(ONSTART_TEMPLATE)], env=full_env, start_new_session=True)
    try:
        assert script.wait(timeout=60) == 0
    finally:
        if watcher is None:
            stop_group(script.pid)
        else:
            watcher.append(script.pid)
    argv = comfy / "argv.txt"
    deadline = time.monotonic() + 10
    while not argv.exists() and time.monotonic() < deadline:
        time.sleep(0.05)  # ComfyUI is started in the background by the script
    return Run(
        comfy,
        logs["onstart"].read_text(),
        logs["argv"].read_text(),
        logs["stdin"].read_text(),
        logs["reports"].read_text(),
    )


def _blob(seed: str, size: int = 50_000) -> bytes:
    return (hashlib.sha256(seed.encode()).digest() * (size // 32 + 1))[:size]


@NEEDS_ARIA2C
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
    # aria2c resumes from the last whole 16 KiB block the partial file holds
    starts = [
        int(r[2][6:].split("-")[0])
        for r in server.requests
        if r[:2] == ("GET", "/hf/a.safetensors") and r[2].startswith("bytes=")
    ]
    assert starts and all(0 < start <= 20_000 for start in starts)
    assert server.most_in_flight >= 2
    assert run.report()["failed"] == []


@NEEDS_ARIA2C
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


@NEEDS_ARIA2C
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


@NEEDS_ARIA2C
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


@NEEDS_ARIA2C
def test_comfyui_restarts_with_the_preview_method_on_localhost_only(tmp_path, models):
    _server, base = models
    run = run_onstart(tmp_path, base, {})
    argv = (run.comfy / "argv.txt").read_text().split()
    assert argv[argv.index("--preview-method") + 1] == "auto"
    assert argv[argv.index("--listen") + 1] == "127.0.0.1"
    assert run.report() == {"version": 1, "files": {}, "failed": [], "pending": []}


def _reports_at_downloads(run: Run) -> dict[str, dict | None]:
    """URL fetched by aria2c -> the verification report as it was just before."""
    seen: dict[str, dict | None] = {}
    lines = run.reports.splitlines()
    for index, line in enumerate(lines[:-1]):
        if line.startswith("https://"):
            seen[line] = json.loads(lines[index + 1]) if lines[index + 1] else None
    return seen


@NEEDS_ARIA2C
def test_a_first_images_files_are_fetched_and_reported_before_the_rest(tmp_path, models):
    server, base = models
    first, other, video = _blob("first"), _blob("other"), _blob("video")
    server.files |= {"/hf/first": first, "/hf/other": other, "/hf/video": video}
    run = run_onstart(
        tmp_path,
        base,
        {
            "01": "checkpoints/first.safetensors=https://huggingface.co/first",
            "02": "loras/other.safetensors=https://huggingface.co/other",
            "03": "vae/video.safetensors=https://huggingface.co/video",
        },
        AIK_FIRST="1",
    )
    seen = _reports_at_downloads(run)
    assert seen["https://huggingface.co/first"] is None  # nothing reported before it
    for later in ("https://huggingface.co/other", "https://huggingface.co/video"):
        report = seen[later]
        assert report is not None
        assert report["pending"] == ["loras/other.safetensors", "vae/video.safetensors"]
        assert {path: entry["ok"] for path, entry in report["files"].items()} == {
            "checkpoints/first.safetensors": True
        }
    final = run.report()
    assert final["pending"] == [] and final["failed"] == []
    assert all(entry["ok"] for entry in final["files"].values()) and len(final["files"]) == 3
    assert all("-x8" in line.split() for line in run.argv.splitlines() if "-i -" in line)


def test_without_aria2c_each_file_comes_over_curl_resumable(tmp_path, models):
    server, base = models
    data = _blob("plain")
    server.files["/hf/plain"] = data
    run = run_onstart(
        tmp_path,
        base,
        {"1": "checkpoints/plain.safetensors=https://huggingface.co/plain"},
        aria2c=False,
    )
    assert run.report()["files"]["checkpoints/plain.safetensors"]["ok"]
    assert run.reports == ""  # aria2c never ran
    gets = [line for line in run.argv.splitlines() if " -o " in line]
    assert len(gets) == 1 and "-C -" in gets[0]
    assert (run.comfy / "models" / "checkpoints" / "plain.safetensors").read_bytes() == data


@NEEDS_ARIA2C
def test_files_asked_for_later_are_fetched_verified_and_reported_by_the_watcher(tmp_path, models):
    server, base = models
    lora, wrong = _blob("lora"), _blob("wrong")
    server.files |= {"/hf/sdxl": _blob("sdxl"), "/cv/lora": lora, "/cv/wrong": wrong}
    groups: list[int] = []
    try:
        run = run_onstart(
            tmp_path,
            base,
            {"1": "checkpoints/sdxl.safetensors=https://huggingface.co/sdxl"},
            watcher=groups,
            AIK_WATCH_S="0.1",
            CIVITAI_TOKEN=CIVITAI_TOKEN,
        )
        assert run.report()["files"].keys() == {"checkpoints/sdxl.safetensors"}
        checks = {
            "lora": f"{hashlib.sha256(lora).hexdigest()}:{len(lora)}",
            "wrong": f"{hashlib.sha256(b'other').hexdigest()}:{len(wrong)}",
        }
        want = (
            f"1\tloras/style.safetensors=https://civitai.com/lora\t{checks['lora']}\n"
            f"2\tloras/bad.safetensors=https://civitai.com/wrong\t{checks['wrong']}\n"
            "3\t../../etc/evil=https://civitai.com/lora\t\n"
            "4\tloras/plain.safetensors=http://civitai.com/lora\t\n"
            f"5\tultralytics/bbox/face.pt=https://civitai.com/lora\t{checks['lora']}\n"
            ".\n"
        )
        (run.comfy / "input" / WANT_FILE).write_text(want)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            report = run.report()
            if "loras/bad.safetensors" in report["files"] and not report["pending"]:
                break
            time.sleep(0.1)
        files = report["files"]
        assert files.keys() == {
            "checkpoints/sdxl.safetensors",
            "loras/style.safetensors",
            "loras/bad.safetensors",
            "ultralytics/bbox/face.pt",
        }
        assert (files["loras/style.safetensors"]["ok"], files["loras/bad.safetensors"]["ok"]) == (
            True,
            False,
        )
        assert report["failed"] == ["loras/bad.safetensors"]
        assert (run.comfy / "models" / "loras" / "style.safetensors").read_bytes() == lora
        assert not (run.comfy / "models" / "loras" / "bad.safetensors").exists()
        assert not (tmp_path / "etc").exists()
        asked = {path for method, path, _r, _a in server.requests if method == "GET"}
        assert asked == {"/hf/sdxl", "/cv/lora", "/cv/wrong"}  # never the refused lines
        auth = {path: a for method, path, _r, a in server.requests if method == "GET"}
        assert auth["/cv/lora"] == f"Bearer {CIVITAI_TOKEN}"
        assert CIVITAI_TOKEN not in (tmp_path / "onstart.log").read_text()
    finally:
        for group in groups:
            stop_group(group)


GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.test",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.test",
}


def _pack_repo(root: Path, name: str) -> tuple[str, list[str]]:
    """A git repository of two commits (a file each); its file:// URL and the commits."""
    repo = root / "repos" / name
    repo.mkdir(parents=True)
    env = {**os.environ, **GIT_ENV}
    subprocess.run(["git", "init", "-q", str(repo)], check=True, env=env)
    commits = []
    for number in (1, 2):
        (repo / f"node_{number}.py").write_text(f"# {name} {number}\n")
        subprocess.run(["git", "-C", str(repo), "add", "."], check=True, env=env)
        subprocess.run(["git", "-C", str(repo), "commit", "-qm", str(number)], check=True, env=env)
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"], check=True, capture_output=True
        )
        commits.append(head.stdout.decode().strip())
    return f"file://{repo}", commits


def _head(folder: Path) -> str:
    found = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True)
    return found.stdout.decode().strip()


def test_custom_node_packs_are_checked_out_at_their_pins_nested_ones_inside(tmp_path, models):
    _server, base = models
    pack, pack_commits = _pack_repo(tmp_path, "pack")
    sub, sub_commits = _pack_repo(tmp_path, "sub")
    nodes = tmp_path / "ComfyUI" / "custom_nodes"
    first = {
        "AIK_NODE_01": f"Pack={pack}@{pack_commits[0]}",
        "AIK_NODE_02": f"Pack/impact_subpack={sub}@{sub_commits[0]}",
    }
    run_onstart(tmp_path, base, {}, **first)
    assert _head(nodes / "Pack") == pack_commits[0]
    assert (nodes / "Pack" / "node_1.py").exists() and not (nodes / "Pack" / "node_2.py").exists()
    assert _head(nodes / "Pack" / "impact_subpack") == sub_commits[0]
    # A new pin replaces the pack at the old commit; the folder inside it comes back too.
    moved = first | {"AIK_NODE_01": f"Pack={pack}@{pack_commits[1]}"}
    run_onstart(tmp_path, base, {}, **moved)
    assert _head(nodes / "Pack") == pack_commits[1]
    assert _head(nodes / "Pack" / "impact_subpack") == sub_commits[0]
    # The same pins again: nothing is fetched (the folders are already at their commits).
    marker = nodes / "Pack" / "local_state.txt"
    marker.write_text("kept")
    run_onstart(tmp_path, base, {}, **moved)
    assert marker.read_text() == "kept"
