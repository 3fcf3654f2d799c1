"""Vast.ai: a typed HTTP client (`VastClient`) and the pool's `Provider` over it.

The dialect follows ../shared/VAST.md: Bearer auth, JSON bodies on every write (DELETE too),
`/api/v1/instances/` for listing with `next_token` paging, `{"instances": null}` for a gone
instance. The traps it avoids:

- A create is never retried: offers are single use and the first attempt may have succeeded.
  Only reads and destroys (idempotent) are retried, with backoff and jitter.
- A list that fails raises; it never answers "no instances".
- A 404 is "gone" only when its body does not say `auth_error` (Vast answers bad keys with 404).
- Vast refuses a call sooner than its endpoint's minimum interval (VAST.md §1.3); given
  `pacing`, the client waits each endpoint's interval out itself instead of earning 429s.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import httpx

from core.errors import (
    AuthFailed,
    InstanceNotFound,
    OfferUnavailable,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
)
from core.pool.provider import (
    BilledCharge,
    LaunchSpec,
    Offer,
    OfferFilter,
    RemoteInstance,
    RemoteState,
)

log = logging.getLogger(__name__)

FAILED_STATUSES = {"exited", "stopped", "frozen", "offline", "unknown"}
OCI_FAILURE = "OCI runtime create failed"
MAX_RETRY_AFTER_S = 60.0
"""The longest `Retry-After` waited out inline (as the official client does); longer raises."""
PAGE_SIZE = 25
"""Vast's largest instances page: the v1 list pages by `next_token`, 25 rows at most, and
each token comes with the page before it, so a listing is `ceil(n / 25)` calls in a row."""
LISTED_COLUMNS = (
    "id", "label", "actual_status", "status_msg", "gpu_name", "num_gpus", "dph_total",
    "public_ipaddr", "ports", "machine_id", "start_date",
)  # fmt: skip
"""The columns `VastProvider.list_instances` reads (`select_cols`): a full row carries the
onstart script and the environment (kilobytes each), which a tick at 1,000 instances would
otherwise download and parse 1,000 times."""
CHARGES_PAGE_SIZE = 100
"""The `vastai` client's largest charges page (the server allows 500)."""
MIN_INTERVAL_S: Mapping[str, float] = {
    "search": 6.0,  # 10 a minute
    "create": 4.5,
    "list": 1.0,
    "show": 2.0,
    "destroy": 3.0,
    "state": 1.0,
    "charges": 1.0,
}
"""Vast's documented minimum seconds between two calls to an endpoint by one caller (VAST.md
§1.3): the pacing the real API needs. A listing of n instances takes `ceil(n / 25) - 1` s."""
PACE_MARGIN_S = 0.05
"""Added to each interval: the clocks of Vast and of this host need not tick alike."""
SEARCH_QUOTA_EXCEEDED = "search_quota_exceeded"
"""A 429 for the daily search quota: it resets at UTC midnight, so retrying only burns calls."""


def map_status(actual_status: str | None, status_msg: str | None) -> RemoteState:
    """Vast's `actual_status` folded into the pool's three states.

    Null is normal while provisioning; a status Vast adds in future counts as pending (with a
    boot timeout behind it), never as failed or running.
    """
    if actual_status == "created" and status_msg and OCI_FAILURE in status_msg:
        return RemoteState.FAILED
    if actual_status == "running":
        return RemoteState.RUNNING
    if actual_status in FAILED_STATUSES:
        return RemoteState.FAILED
    return RemoteState.PENDING


def comfy_url(instance: dict[str, Any], port: int) -> str | None:
    """`http://<public ip>:<host port>` for the container's `port`, when Vast has mapped it.

    `ports` is null until running, may be a list in old shapes or map a port to null, and
    `HostPort` is a string; `public_ipaddr` may carry whitespace.
    """
    ports = instance.get("ports")
    address = (instance.get("public_ipaddr") or "").strip()
    if not isinstance(ports, dict) or not address:
        return None
    bindings = ports.get(f"{port}/tcp")
    if not isinstance(bindings, list) or not bindings:
        return None
    host_port = str(bindings[0].get("HostPort") or "").strip()
    return f"http://{address}:{host_port}" if host_port.isdigit() else None


class Pacer:
    """Keeps a minimum interval between calls to each endpoint, across threads. Vast counts
    the interval from the call it accepted, on arrival: a call's slot is counted from the end
    of the one before (its reply came after Vast accepted it), so neither the network nor a
    busy host's scheduling between stamping a call and sending it can bring two arrivals
    closer than the interval. An endpoint's calls go one at a time."""

    def __init__(
        self,
        intervals: Mapping[str, float],
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.intervals = intervals
        self.clock = clock
        self.sleep = sleep
        self._next: dict[str, float] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    @contextmanager
    def slot(self, endpoint: str) -> Iterator[None]:
        """Hold `endpoint`'s slot for one call: entered once the interval since the end of
        its last call has passed; the next call's interval counts from the exit."""
        interval = self.intervals.get(endpoint)
        if not interval:
            yield
            return
        with self._locks_lock:
            lock = self._locks.setdefault(endpoint, threading.Lock())
        with lock:
            due = self._next.get(endpoint)
            now = self.clock()
            if due is not None and due > now:
                self.sleep(due - now)
            try:
                yield
            finally:
                self._next[endpoint] = self.clock() + interval + PACE_MARGIN_S


class VastClient:
    """The Vast.ai REST calls the pool makes, with Vast's error shapes mapped to ProviderError
    and, given `pacing` (seconds between calls by endpoint, e.g. `MIN_INTERVAL_S`), each
    endpoint's calls spaced out on `clock`."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        timeout_s: float = 30.0,
        attempts: int = 3,
        backoff_s: float = 0.5,
        max_backoff_s: float = 8.0,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
        pacing: Mapping[str, float] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.sleep = sleep
        self.pacer = Pacer(pacing or {}, clock=clock, sleep=lambda s: self.sleep(s))
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {api_key}", "User-Agent": "aikings/0.1"},
            timeout=timeout_s,
            transport=transport,
            follow_redirects=False,
        )

    def close(self) -> None:
        """Release the connection pool."""
        self._http.close()

    def __enter__(self) -> VastClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- endpoints ------------------------------------------------------------------------

    def search_offers(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        """`POST /api/v0/bundles/` with a `{field: {op: value}}` query; the offers found."""
        body = self._call("POST", "/api/v0/bundles/", "search", json_body=query, retry=True)
        return list(body.get("offers") or [])

    def create_instance(self, offer_id: str, payload: dict[str, Any]) -> int:
        """`PUT /api/v0/asks/{id}/`; the new instance id. Never retried (see module doc)."""
        body = self._call(
            "PUT", f"/api/v0/asks/{offer_id}/", "create", json_body=payload, retry=False
        )
        if not body.get("success") or "new_contract" not in body:
            raise ProviderError(f"create refused: {body.get('msg') or body}", status=200, body=body)
        return int(body["new_contract"])

    def list_instances(
        self,
        select_filters: dict[str, Any] | None = None,
        select_cols: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Every instance on the account matching `select_filters`, following `next_token`,
        with only the columns `select_cols` names (default all: Vast's `["*"]`)."""
        params = {
            "select_filters": json.dumps(select_filters or {}),
            "order_by": json.dumps([{"col": "id", "dir": "asc"}]),
            "limit": PAGE_SIZE,
        }
        if select_cols is not None:
            params["select_cols"] = json.dumps(list(select_cols))
        return self._all_pages("/api/v1/instances/", "list", params, "instances")

    def show_instance(self, instance_id: str) -> dict[str, Any] | None:
        """One instance, or None when Vast says it no longer exists."""
        body = self._call(
            "GET", f"/api/v0/instances/{instance_id}/", "show", params={"owner": "me"}, retry=True
        )
        found = body.get("instances")
        if isinstance(found, list):
            return found[0] if found else None
        return found if isinstance(found, dict) else None

    def destroy_instance(self, instance_id: str) -> None:
        """`DELETE /api/v0/instances/{id}/`; an instance already gone counts as destroyed."""
        try:
            self._call(
                "DELETE", f"/api/v0/instances/{instance_id}/", "destroy", json_body={}, retry=True
            )
        except InstanceNotFound:
            log.info("vast.destroy_already_gone", extra={"provider_id": instance_id})

    def set_instance_state(self, instance_id: str, state: str) -> None:
        """`PUT /api/v0/instances/{id}/` with `{"state": "stopped" | "running"}`.

        Retried like a read: asking twice for the same state is asking once.
        """
        self._call(
            "PUT",
            f"/api/v0/instances/{instance_id}/",
            "state",
            json_body={"state": state},
            retry=True,
        )

    def current_user(self) -> dict[str, Any]:
        """The account: `credit`, `balance` and the rest."""
        return self._call("GET", "/api/v0/users/current/", "user", retry=True)

    def charges(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """`GET /api/v0/charges/`: every per-instance charge row for [start, end), all pages.

        Vast's `day` range is whole unix seconds, both ends included, so the last second
        before `end` closes it.
        """
        filters = {
            "day": {"gte": int(start.timestamp()), "lte": int(end.timestamp()) - 1},
            "type": {"in": ["instance"]},
        }
        params = {
            "select_filters": json.dumps(filters),
            "latest_first": "true",
            "limit": CHARGES_PAGE_SIZE,
        }
        return self._all_pages("/api/v0/charges/", "charges", params, "results")

    # ---- transport ------------------------------------------------------------------------

    def _all_pages(
        self, path: str, endpoint: str, params: dict[str, Any], key: str
    ) -> list[dict[str, Any]]:
        """GET `path` page after page (`next_token` -> `after_token`); the rows under `key`.

        A page without a `key` array raises: a partial answer is never taken for the whole.
        """
        rows: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page_params = {**params, "after_token": token} if token else params
            body = self._call("GET", path, endpoint, params=page_params, retry=True)
            page = body.get(key)
            if not isinstance(page, list):
                raise ProviderError(f"{path} answered without a `{key}` array", body=body)
            rows.extend(page)
            token = body.get("next_token")
            if not token:
                return rows

    def _call(
        self,
        method: str,
        path: str,
        endpoint: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: dict[str, Any] | None = None,
        retry: bool,
    ) -> dict[str, Any]:
        """`method path` with up to `attempts` tries (one unless `retry`), each paced as
        `endpoint`'s calls are."""
        attempts = self.attempts if retry else 1
        for attempt in range(1, attempts + 1):
            try:
                with self.pacer.slot(endpoint):
                    return self._once(method, path, params, json_body)
            except (RateLimited, ProviderUnavailable) as exc:
                delay = self._delay(exc, attempt)
                if attempt == attempts or delay is None:
                    raise
                log.info(
                    "vast.retry",
                    extra={"path": path, "attempt": attempt, "delay_s": delay, "error": str(exc)},
                )
                self.sleep(delay)
        raise AssertionError("unreachable")  # the loop returns or raises

    def _delay(self, exc: ProviderError, attempt: int) -> float | None:
        """Seconds to wait before attempt `attempt + 1`, or None when waiting cannot help."""
        if isinstance(exc, RateLimited):
            if isinstance(exc.body, dict) and exc.body.get("error") == SEARCH_QUOTA_EXCEEDED:
                return None
            if exc.retry_after_s is not None:
                return exc.retry_after_s if exc.retry_after_s <= MAX_RETRY_AFTER_S else None
        base = min(self.max_backoff_s, self.backoff_s * 2.0 ** (attempt - 1))
        return base / 2 + random.uniform(0, base / 2)

    def _once(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None,
        json_body: dict[str, Any] | None,
    ) -> dict[str, Any]:
        if method in ("PUT", "POST", "DELETE") and json_body is None:
            json_body = {}
        try:
            response = self._http.request(method, path, params=params, json=json_body)
        except httpx.TimeoutException as exc:
            raise ProviderUnavailable(f"{method} {path} timed out: {exc}") from exc
        except httpx.TransportError as exc:
            raise ProviderUnavailable(f"{method} {path} failed: {exc}") from exc
        if response.is_redirect:
            location = response.headers.get("location", "")
            raise ProviderError(
                f"{method} {path} redirected to {urlsplit(location).netloc or location}; "
                "only same-origin calls are made",
                status=response.status_code,
            )
        return _parse(method, path, response)


def _parse(method: str, path: str, response: httpx.Response) -> dict[str, Any]:
    status = response.status_code
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text.strip()
    fields = body if isinstance(body, dict) else {}
    error = str(fields.get("error") or "")
    message = str(fields.get("msg") or fields.get("message") or fields.get("detail") or body)[:300]
    where = f"{method} {path}: HTTP {status}"
    context = {"status": status, "body": body, "request_id": response.headers.get("x-request-id")}
    if status == 429:
        raise RateLimited(
            f"{where} rate limited: {message}",
            retry_after_s=_retry_after(response.headers.get("retry-after")),
            **context,
        )
    if status >= 500:
        raise ProviderUnavailable(f"{where}: {message}", **context)
    if error == "auth_error" or status in (401, 403):
        raise AuthFailed(f"{where}: the Vast.ai API key was refused ({message})", **context)
    if error == "no_such_ask" or (status == 410 and "/asks/" in path):
        raise OfferUnavailable(f"{where}: {message}", **context)
    if status == 404:
        raise InstanceNotFound(f"{where}: {message}", **context)
    if status >= 400:
        raise ProviderError(f"{where}: {message}", **context)
    if not isinstance(body, dict):
        raise ProviderError(f"{where}: expected a JSON object, got {message!r}", **context)
    if body.get("success") is False:
        raise ProviderError(f"{where}: {message}", **context)
    return body


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class VastProvider:
    """The pool's Provider on Vast.ai: offers filtered for ComfyUI, instances by label."""

    def __init__(self, client: VastClient, *, comfy_port: int = 8188) -> None:
        self.client = client
        self.comfy_port = comfy_port

    def search_offers(self, offer_filter: OfferFilter) -> list[Offer]:
        """On-demand, verified, reachable machines within the price cap, cheapest first."""
        query: dict[str, Any] = {
            "verified": {"eq": True},
            "rentable": {"eq": True},
            "rented": {"eq": False},
            "external": {"eq": False},
            "num_gpus": {"eq": 1},
            "direct_port_count": {"gte": 1},
            "reliability": {"gte": offer_filter.min_reliability},
            "gpu_ram": {"gte": offer_filter.min_vram_gb * 1000},
            "disk_space": {"gte": offer_filter.min_disk_gb},
            "dph_total": {"lte": float(offer_filter.max_price_per_hour_usd)},
            "order": [["dph_total", "asc"]],
            "type": "on-demand",
            "allocated_storage": offer_filter.min_disk_gb,
            "limit": 20,
        }
        if offer_filter.min_inet_down_mbps > 0:
            query["inet_down"] = {"gte": offer_filter.min_inet_down_mbps}
        if offer_filter.gpu_names:
            query["gpu_name"] = {"in": list(offer_filter.gpu_names)}
        if offer_filter.excluded_machine_ids:
            query["machine_id"] = {"notin": [int(m) for m in offer_filter.excluded_machine_ids]}
        offers = [
            Offer(
                id=str(raw["id"]),
                machine_id=str(raw.get("machine_id")),
                gpu_name=str(raw.get("gpu_name")),
                num_gpus=int(raw.get("num_gpus") or 1),
                price_per_hour_usd=Decimal(str(raw.get("dph_total"))),
                vram_gb=int(raw.get("gpu_ram") or 0) // 1000,
                reliability=float(raw.get("reliability") or 0),
            )
            for raw in self.client.search_offers(query)
        ]
        return sorted(offers, key=lambda offer: offer.price_per_hour_usd)

    def create(self, offer: Offer, label: str, launch: LaunchSpec) -> str:
        """Rent `offer` under `label`, in the SDK's payload shape with `cancel_unavail` true."""
        payload = {
            "client_id": "me",
            "image": launch.image,
            "env": dict(launch.env),
            "price": None,
            "disk": launch.disk_gb,
            "label": label,
            "extra": None,
            "onstart": launch.onstart,
            "runtype": "ssh_direc ssh_proxy",
            "image_login": None,
            "python_utf8": False,
            "lang_utf8": False,
            "use_jupyter_lab": False,
            "jupyter_dir": None,
            "force": False,
            "cancel_unavail": True,
            "template_hash_id": None,
            "user": None,
        }
        return str(self.client.create_instance(offer.id, payload))

    def list_instances(self, label_prefix: str) -> list[RemoteInstance]:
        """Our instances: every listed one whose label starts with `label_prefix`."""
        # Vast filters labels by equality only, so list all and keep our prefix here.
        return [
            _remote(raw, self.comfy_port)
            for raw in self.client.list_instances(select_cols=LISTED_COLUMNS)
            if str(raw.get("label") or "").startswith(label_prefix)
        ]

    def destroy(self, provider_id: str) -> None:
        """Destroy: irreversible, and the only way to stop the disk's bill."""
        self.client.destroy_instance(provider_id)

    def stop(self, provider_id: str) -> None:
        """See `Provider.stop`; Vast keeps billing the disk until a destroy."""
        self.client.set_instance_state(provider_id, "stopped")

    def start(self, provider_id: str) -> None:
        """See `Provider.start`; on Vast a start whose GPU was taken stays "Scheduling"
        (`actual_status` stopped, `intended_status` running) indefinitely."""
        self.client.set_instance_state(provider_id, "running")

    def billed(self, start: datetime, end: datetime) -> list[BilledCharge]:
        """See `Provider.billed`: Vast's `/charges/` rows, one per instance (`instance-<id>`)."""
        return [
            BilledCharge(
                provider_id=str(row["source"]).removeprefix("instance-"),
                amount_usd=Decimal(str(row.get("amount") or 0)),
                label=(row.get("metadata") or {}).get("label"),
            )
            for row in self.client.charges(start, end)
            if row.get("type") == "instance" and str(row.get("source", "")).startswith("instance-")
        ]

    def close(self) -> None:
        """Release the HTTP connections."""
        self.client.close()


def _remote(raw: dict[str, Any], port: int) -> RemoteInstance:
    status = raw.get("actual_status")
    message = raw.get("status_msg")
    started = raw.get("start_date")
    price = raw.get("dph_total")
    return RemoteInstance(
        id=str(raw["id"]),
        state=map_status(status, message),
        gpu_name=raw.get("gpu_name"),
        num_gpus=int(raw.get("num_gpus") or 1),
        price_per_hour_usd=Decimal(str(price)) if price is not None else None,
        comfy_url=comfy_url(raw, port) if status == "running" else None,
        label=raw.get("label"),
        machine_id=str(raw["machine_id"]) if raw.get("machine_id") is not None else None,
        started_at=datetime.fromtimestamp(float(started), UTC) if started else None,
        status_message=message or status,
        stopped=status == "stopped",
    )
