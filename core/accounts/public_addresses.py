"""Addresses a server-side request may go to: public ones only, checked where it connects.

A webhook's host is resolved once, every address it resolves to is checked, and the
connection is made to a checked address. Resolving twice (once to check, once more inside the
HTTP client to connect) let a name answer a public address to the check and a loopback or
private one to the connection (DNS rebinding), so the check lives in the client's network
backend (`public_only_client`), not before the request.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable

import httpcore
import httpx

from core.errors import ValidationFailed

INTERNAL = "A webhook cannot point at this server or its network."


def refuse_internal(hosts: Iterable[str]) -> None:
    """Refuse (ValidationFailed) a loopback name or an address that is not global; names
    other than localhost pass (they are checked once resolved)."""
    for host in hosts:
        if host.lower().rstrip(".") in ("localhost", "localhost.localdomain"):
            raise ValidationFailed(INTERNAL)
        try:
            address = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            continue
        if not address.is_global:
            raise ValidationFailed(INTERNAL)


def resolved_addresses(host: str) -> list[str]:
    """Every address `host` resolves to (ValidationFailed when it does not resolve)."""
    try:
        return [str(info[4][0]) for info in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)]
    except OSError as exc:
        raise ValidationFailed(f"The webhook's host {host} does not resolve.") from exc


class _PublicOnlyBackend(httpcore.NetworkBackend):
    """httpcore's own socket backend, connecting only to the global addresses it checked."""

    def __init__(self) -> None:
        self._sockets = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = resolved_addresses(host)
        refuse_internal([host, *addresses])  # every answer public, or none is used
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in addresses:
            try:
                return self._sockets.connect_tcp(
                    address,
                    port,
                    timeout,
                    local_address,
                    socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # resolved_addresses never answers an empty list quietly
        raise failure

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise ValidationFailed(INTERNAL)

    def sleep(self, seconds: float) -> None:
        self._sockets.sleep(seconds)


class _PublicOnlyTransport(httpx.HTTPTransport):
    """httpx's transport over `_PublicOnlyBackend`, with no proxy from the environment (a
    proxy would connect on our behalf, past the check)."""

    def __init__(self) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            network_backend=_PublicOnlyBackend(),
        )


def public_only_client(*, allow_private: bool) -> httpx.Client:
    """An HTTP client for requests to addresses users give: it connects only to global
    addresses (ValidationFailed otherwise), or anywhere when `allow_private` (a closed
    network, `WEBHOOK_ALLOW_PRIVATE`)."""
    if allow_private:
        return httpx.Client()
    return httpx.Client(transport=_PublicOnlyTransport(), trust_env=False)
