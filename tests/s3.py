"""A real S3-protocol server on loopback (moto's server mode) for the media tests: boto3
signs and sends real HTTP to it, and presigned URLs are fetched over HTTP like a browser.

moto serves presigned URLs without looking at their expiry (AWS, MinIO, R2 refuse an
expired one with 403 AccessDenied), so the server here adds that one rule in front of it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

EXPIRED = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code>'
    b"<Message>Request has expired</Message></Error>"
)

ACCESS_KEY = "test-access-key"
SECRET_KEY = "test-secret-key"
REGION = "us-east-1"


@dataclass(frozen=True)
class S3Server:
    """Where the loopback S3 server listens."""

    endpoint_url: str

    def settings_env(self, bucket: str) -> dict[str, str]:
        """The environment that points MEDIA_STORE=s3 at `bucket` on this server."""
        return {
            "MEDIA_STORE": "s3",
            "S3_BUCKET": bucket,
            "S3_ENDPOINT_URL": self.endpoint_url,
            "S3_REGION": REGION,
            "S3_ACCESS_KEY_ID": ACCESS_KEY,
            "S3_SECRET_ACCESS_KEY": SECRET_KEY,
        }

    def new_bucket(self) -> str:
        """A fresh, empty bucket's name."""
        import boto3

        name = f"aik-{uuid.uuid4().hex[:20]}"
        boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        ).create_bucket(Bucket=name)
        return name


def presign_expired(query: str, now: datetime) -> bool:
    """Whether a presigned request's X-Amz-Date + X-Amz-Expires lies before `now`."""
    fields = parse_qs(query)
    if "X-Amz-Date" not in fields or "X-Amz-Expires" not in fields:
        return False
    signed = datetime.strptime(fields["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return now > signed + timedelta(seconds=int(fields["X-Amz-Expires"][0]))


def refuse_expired(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """WSGI middleware: 403 AccessDenied for a presigned URL past its expiry, as S3 does."""

    def guarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if presign_expired(environ.get("QUERY_STRING", ""), datetime.now(UTC)):
            start_response("403 Forbidden", [("Content-Type", "application/xml")])
            return [EXPIRED]
        return app(environ, start_response)

    return guarded


class _ExpiringMotoServer(ThreadedMotoServer):
    """moto's threaded server with `refuse_expired` in front of its application."""

    def _server_entry(self) -> None:
        app = refuse_expired(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(
            self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()


@contextmanager
def s3_server() -> Iterator[S3Server]:
    """The S3 server on 127.0.0.1 at a free port (the kernel picks it), stopped afterwards."""
    server = _ExpiringMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield S3Server(f"http://{host}:{port}")
    finally:
        server.stop()
