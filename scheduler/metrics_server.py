"""The scheduler's metrics endpoint: `/metrics` and `/healthz` on loopback from a thread."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from prometheus_client import CollectorRegistry, make_wsgi_app


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a slow scrape never holds up shutdown


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Scrapes are not logged: a line every few seconds would bury the scheduler's events."""


def _routes(registry: CollectorRegistry) -> WSGIApplication:
    """`/metrics` from prometheus-client; `/healthz` answers without touching the database."""
    metrics_app: WSGIApplication = make_wsgi_app(registry)

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            return metrics_app(environ, start_response)
        status = "200 OK" if path == "/healthz" else "404 Not Found"
        start_response(status, [("Content-Type", "text/plain; charset=utf-8")])
        return [b"ok\n" if path == "/healthz" else b"not found\n"]

    return app


class MetricsServer:
    """Serves a registry on `host` (loopback by default) from a daemon thread.

    prometheus-client's `start_http_server` answers every path with the full metrics, so a
    liveness probe would read the database; this mounts its WSGI app at `/metrics` beside a
    `/healthz` that does not. Port 0 binds a free port; `port` says which.
    """

    def __init__(self, registry: CollectorRegistry, port: int, host: str = "127.0.0.1") -> None:
        self._server = make_server(
            host, port, _routes(registry), _ThreadingServer, handler_class=_QuietHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="metrics", daemon=True
        )

    @property
    def port(self) -> int:
        """The port actually bound."""
        return self._server.server_port

    def start(self) -> MetricsServer:
        """Serve in the background (the socket is already bound)."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (if started), close the socket and wait for the serving thread."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()
