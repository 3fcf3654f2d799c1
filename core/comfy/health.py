"""Is a ComfyUI server usable? It answers, has the models and nodes we need, and (on instances
our start script provisioned) every model file passed that script's size and sha256 check.

ComfyUI lists model files by name only (`/models/<folder>`): it can say that a file exists,
not that it is whole, so a truncated download would pass as present. `core/pool/onstart.sh`
therefore checks each file itself and, once done, writes `PROVISION_REPORT` into ComfyUI's
input folder, which ComfyUI serves at `/view?type=input` behind the same authenticating
proxy as everything else. The report holds each file's size, sha256 and verdict; this check
compares them with the values `data/presets.toml` pins. Until the report exists the instance
is still provisioning; the script writes it first once a first image's files are checked
(the others listed as `pending`, which jobs needing them wait for) and again at the end.
A failed first file keeps the instance from ever being ready, so the pool's boot timeout
replaces it and avoids the machine; a failed later file has the ready instance replaced.
A download the report neither checked nor lists pending is `absent`: the instance started
before it was added to the catalogue, and the pool asks its start script for it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from core.comfy.client import shared_ssl_context
from core.comfy.events import json_object
from core.comfy.presets import ModelDownload

PROVISION_REPORT = "aikings-provision.json"
"""The start script's verification report, in ComfyUI's input folder."""


@dataclass(frozen=True)
class Health:
    """A health check's answer: `reason` None when the server can take jobs; `pending` the
    downloads (`folder/file`) its start script has still to fetch (jobs needing them wait);
    `failed` the files that failed their check (the instance can never have them);
    `absent` the downloads its start script was never asked for (added to the catalogue
    after it started): counted in `pending` too, for the pool to ask for them."""

    reason: str | None
    pending: frozenset[str] = frozenset()
    failed: tuple[str, ...] = ()
    absent: frozenset[str] = frozenset()


def check(base_url: str, required: Mapping[str, Collection[str]], **options: Any) -> str | None:
    """None when healthy; otherwise a short reason (not answering, missing models or nodes,
    model files not yet verified or failing their check). Takes `examine`'s options;
    `downloads` (`folder/file` -> what the file must be) turns on the verification-report
    check, and files the report still lists as pending count as healthy here."""
    return examine(base_url, required, **options).reason


def examine(
    base_url: str,
    required: Mapping[str, Collection[str]],
    *,
    timeout_s: float = 5.0,
    headers: Mapping[str, str] | None = None,
    nodes: Collection[str] = (),
    downloads: Mapping[str, ModelDownload] | None = None,
) -> Health:
    """`check`, also naming the downloads still pending and those that failed: the server is
    healthy once ComfyUI answers with the nodes and every required model that is not pending,
    and every file the report has checked passed."""
    pending: frozenset[str] = frozenset()
    absent: frozenset[str] = frozenset()
    try:
        # The process's one TLS context: building one per check cost a tick at 1,000
        # instances ~25 ms of CPU per instance.
        with httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=timeout_s,
            headers=dict(headers or {}),
            verify=shared_ssl_context(),
        ) as http:
            stats = http.get("/system_stats")
            if stats.status_code != 200:
                return Health(f"ComfyUI not ready: /system_stats answered {stats.status_code}")
            # The report first: while files download, or when one failed, it says why.
            if downloads:
                problems, pending, failed, absent = _report_problems(http, downloads)
                pending |= absent
                if problems:
                    return Health(f"provisioning: {'; '.join(problems)}", pending, failed, absent)
            missing: list[str] = []
            for folder, names in sorted(required.items()):
                wanted = {name for name in names if f"{folder}/{name}" not in pending}
                if not wanted:
                    continue
                listed = http.get(f"/models/{folder}")
                installed = set(listed.json()) if listed.status_code == 200 else set()
                missing += [f"{folder}/{name}" for name in sorted(wanted - installed)]
            if nodes:
                known = set(http.get("/object_info").json())
                missing += [f"node {name}" for name in sorted(set(nodes) - known)]
            if missing:
                return Health(f"missing: {', '.join(missing)}", pending, absent=absent)
    except (httpx.HTTPError, ValueError) as exc:
        return Health(f"ComfyUI not answering: {type(exc).__name__}: {exc}", pending)
    return Health(None, pending, absent=absent)


def _report_problems(
    http: httpx.Client, downloads: Mapping[str, ModelDownload]
) -> tuple[list[str], frozenset[str], tuple[str, ...], frozenset[str]]:
    """(problems, pending files, failed files, absent files) of the verification report."""
    everything, none = frozenset(downloads), frozenset[str]()
    reply = http.get("/view", params={"filename": PROVISION_REPORT, "type": "input"})
    if reply.status_code == 404:
        return ["model files not verified yet"], everything, (), none
    if reply.status_code != 200:
        return [f"the verification report answered {reply.status_code}"], everything, (), none
    try:
        body = json_object(reply.json())
        files = json_object(body.get("files"))
        listed = body.get("pending") or []
        pending = frozenset(str(p) for p in listed if isinstance(p, str)) & set(downloads)
    except ValueError:
        return ["the verification report is not JSON"], everything, (), none
    problems, failed, absent = [], [], set()
    for path, expected in sorted(downloads.items()):
        if path in pending:
            continue
        entry = json_object(files.get(path))
        size, digest = entry.get("size_bytes"), str(entry.get("sha256") or "")
        if not entry:
            absent.add(path)
        elif entry.get("ok") is not True:
            attempts = entry.get("attempts", 1)
            failed.append(path)
            problems.append(
                f"{path} failed its check after {attempts} downloads "
                f"({size} bytes, sha256 {digest[:12]})"
            )
        elif expected.sha256 is not None and digest != expected.sha256:
            failed.append(path)
            problems.append(
                f"{path} has sha256 {digest[:12]}, not the pinned {expected.sha256[:12]}"
            )
        elif expected.size_bytes is not None and size != expected.size_bytes:
            failed.append(path)
            problems.append(f"{path} has {size} bytes, not the pinned {expected.size_bytes}")
    return problems, pending, tuple(failed), frozenset(absent)
