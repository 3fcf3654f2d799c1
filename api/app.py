"""The FastAPI application: routes, and every error turned into a JSON message.

No response carries a traceback: a `CoreError` becomes its message with a fitting status, a
malformed body a 422 naming the field, anything else a 500 with an error id that the log
holds the traceback under.
"""

from __future__ import annotations

import logging
import secrets

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.deps import Services
from api.routes import account, jobs, library, muses
from api.routes.muses import CardTooLarge
from core.errors import (
    ConfigError,
    CoreError,
    InsufficientCredits,
    NotFound,
    RemoteError,
    ValidationFailed,
)
from core.muses.service import DuplicateName

log = logging.getLogger(__name__)

_STATUS_OF: tuple[tuple[type[CoreError], int], ...] = (
    (NotFound, 404),
    (DuplicateName, 409),
    (CardTooLarge, 413),
    (InsufficientCredits, 402),
    (ValidationFailed, 422),  # PolicyRefusal included: the message says what to change
    (RemoteError, 503),
    (ConfigError, 503),
)


def status_of(error: CoreError) -> int:
    """The HTTP status for a core refusal."""
    return next((status for kind, status in _STATUS_OF if isinstance(error, kind)), 400)


def create_app(svc: Services) -> FastAPI:
    """The API over `svc`, with its OpenAPI document at /openapi.json and docs at /docs."""
    app = FastAPI(
        title="AI KINGS API",
        version="1",
        description="Generate, follow and fetch pictures with a personal token "
        "(Authorization: Bearer aik_…), created on the Account page.",
    )
    app.state.services = svc
    app.include_router(account.router)
    app.include_router(jobs.router)
    app.include_router(library.router)
    app.include_router(muses.router)

    @app.exception_handler(CoreError)
    async def _core(_request: Request, error: CoreError) -> JSONResponse:
        return JSONResponse({"error": str(error)}, status_code=status_of(error))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, error: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            {"error": str(error.detail)}, status_code=error.status_code, headers=error.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0] if error.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
        message = first.get("msg", "invalid request")
        return JSONResponse({"error": f"{where}: {message}" if where else message}, 422)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        error_id = secrets.token_hex(6)
        log.exception("api.error", extra={"error_id": error_id, "path": request.url.path})
        return JSONResponse(
            {"error": "Something went wrong on our side.", "error_id": error_id}, 500
        )

    return app
