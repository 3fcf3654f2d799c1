"""Is a ComfyUI server usable? It answers `/system_stats` and has the models we need."""

from __future__ import annotations

from collections.abc import Collection, Mapping

import httpx


def check(
    base_url: str,
    required: Mapping[str, Collection[str]],
    *,
    timeout_s: float = 5.0,
    headers: Mapping[str, str] | None = None,
    nodes: Collection[str] = (),
) -> str | None:
    """None when healthy; otherwise a short reason (not answering, missing models or nodes)."""
    try:
        with httpx.Client(
            base_url=base_url.rstrip("/"), timeout=timeout_s, headers=dict(headers or {})
        ) as http:
            stats = http.get("/system_stats")
            if stats.status_code != 200:
                return f"ComfyUI not ready: /system_stats answered {stats.status_code}"
            missing: list[str] = []
            for folder, names in sorted(required.items()):
                listed = http.get(f"/models/{folder}")
                installed = set(listed.json()) if listed.status_code == 200 else set()
                missing += [f"{folder}/{name}" for name in sorted(set(names) - installed)]
            if nodes:
                known = set(http.get("/object_info").json())
                missing += [f"node {name}" for name in sorted(set(nodes) - known)]
    except (httpx.HTTPError, ValueError) as exc:
        return f"ComfyUI not answering: {type(exc).__name__}: {exc}"
    return f"missing: {', '.join(missing)}" if missing else None
