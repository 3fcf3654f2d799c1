"""Is a ComfyUI server usable? It answers, has the models and nodes we need, and (on instances
our start script provisioned) every model file passed that script's size and sha256 check.

ComfyUI lists model files by name only (`/models/<folder>`): it can say that a file exists,
not that it is whole, so a truncated download would pass as present. `core/pool/onstart.sh`
therefore checks each file itself and, once done, writes `PROVISION_REPORT` into ComfyUI's
input folder, which ComfyUI serves at `/view?type=input` behind the same authenticating
proxy as everything else. The report holds each file's size, sha256 and verdict; this check
compares them with the values `data/presets.toml` pins. Until the report exists the instance
is still provisioning; a failed file keeps it from ever being ready, so the pool's boot
timeout replaces it and avoids the machine.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import httpx

from core.comfy.events import json_object
from core.comfy.presets import ModelDownload

PROVISION_REPORT = "aikings-provision.json"
"""The start script's verification report, in ComfyUI's input folder."""


def check(
    base_url: str,
    required: Mapping[str, Collection[str]],
    *,
    timeout_s: float = 5.0,
    headers: Mapping[str, str] | None = None,
    nodes: Collection[str] = (),
    downloads: Mapping[str, ModelDownload] | None = None,
) -> str | None:
    """None when healthy; otherwise a short reason (not answering, missing models or nodes,
    model files not yet verified or failing their check). `downloads` (`folder/file` ->
    what the file must be) turns on the verification-report check."""
    try:
        with httpx.Client(
            base_url=base_url.rstrip("/"), timeout=timeout_s, headers=dict(headers or {})
        ) as http:
            stats = http.get("/system_stats")
            if stats.status_code != 200:
                return f"ComfyUI not ready: /system_stats answered {stats.status_code}"
            # The report first: while files download, or when one failed, it says why.
            problems = _report_problems(http, downloads) if downloads else []
            if problems:
                return f"provisioning: {'; '.join(problems)}"
            missing: list[str] = []
            for folder, names in sorted(required.items()):
                listed = http.get(f"/models/{folder}")
                installed = set(listed.json()) if listed.status_code == 200 else set()
                missing += [f"{folder}/{name}" for name in sorted(set(names) - installed)]
            if nodes:
                known = set(http.get("/object_info").json())
                missing += [f"node {name}" for name in sorted(set(nodes) - known)]
            if missing:
                return f"missing: {', '.join(missing)}"
    except (httpx.HTTPError, ValueError) as exc:
        return f"ComfyUI not answering: {type(exc).__name__}: {exc}"
    return None


def _report_problems(http: httpx.Client, downloads: Mapping[str, ModelDownload]) -> list[str]:
    reply = http.get("/view", params={"filename": PROVISION_REPORT, "type": "input"})
    if reply.status_code == 404:
        return ["model files not verified yet"]
    if reply.status_code != 200:
        return [f"the verification report answered {reply.status_code}"]
    try:
        files = json_object(json_object(reply.json()).get("files"))
    except ValueError:
        return ["the verification report is not JSON"]
    problems = []
    for path, expected in sorted(downloads.items()):
        entry = json_object(files.get(path))
        size, digest = entry.get("size_bytes"), str(entry.get("sha256") or "")
        if not entry:
            problems.append(f"{path} was not fetched")
        elif entry.get("ok") is not True:
            attempts = entry.get("attempts", 1)
            problems.append(
                f"{path} failed its check after {attempts} downloads "
                f"({size} bytes, sha256 {digest[:12]})"
            )
        elif expected.sha256 is not None and digest != expected.sha256:
            problems.append(
                f"{path} has sha256 {digest[:12]}, not the pinned {expected.sha256[:12]}"
            )
        elif expected.size_bytes is not None and size != expected.size_bytes:
            problems.append(f"{path} has {size} bytes, not the pinned {expected.size_bytes}")
    return problems
