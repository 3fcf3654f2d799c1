"""One reused ComfyClient per server and credentials; a bounded cache that closes what it drops."""

from __future__ import annotations

from core.comfy.client import shared_ssl_context
from core.comfy.clients import ComfyClients


def test_the_same_server_gets_the_same_client_every_job():
    clients = ComfyClients()
    first = clients("http://gpu-1:8188")
    assert clients("http://gpu-1:8188/") is first
    assert clients("http://gpu-2:8188") is not first
    clients.close()


def test_new_credentials_get_a_new_client_with_them():
    clients = ComfyClients()
    old = clients("http://gpu-1:8188", {"Authorization": "Bearer a"})
    assert clients("http://gpu-1:8188", {"Authorization": "Bearer a"}) is old
    new = clients("http://gpu-1:8188", {"Authorization": "Bearer b"})
    assert new is not old
    assert new.headers == {"Authorization": "Bearer b"}
    clients.close()


def test_the_least_recently_used_client_is_closed_when_the_cache_overflows():
    clients = ComfyClients(max_clients=2)
    first = clients("http://gpu-1:8188")
    second = clients("http://gpu-2:8188")
    clients("http://gpu-1:8188")  # used again: gpu-2 is now the oldest
    clients("http://gpu-3:8188")
    assert second._http.is_closed and not first._http.is_closed
    clients.close()
    assert first._http.is_closed


def test_every_client_shares_one_tls_context():
    clients = ComfyClients()
    client = clients("https://gpu-1:8188")
    assert shared_ssl_context() is shared_ssl_context()
    pool = client._http._transport._pool  # type: ignore[attr-defined]
    assert pool._ssl_context is shared_ssl_context()
    clients.close()
