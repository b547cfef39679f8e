"""One error envelope for every failure, FastAPI's own included.

Why: the client reads ``{"error": {"code", "message", "request_id"}}``; a bare FastAPI ``detail``
or a stack trace would test the client against an answer the real API never gives.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("planasonix_provider.sandbox")

REQUEST_ID_KEY = "planasonix.request_id"
MAX_BODY_BYTES = 1024 * 1024

_STATUS_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
}


class ApiError(Exception):
    """An error answer; raised anywhere inside a request, rendered by :func:`install`."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers


def new_request_id() -> str:
    return "req_" + os.urandom(10).hex()


def error_body(
    code: str, message: str, request_id: str, *, as_string: bool = False
) -> dict[str, Any]:
    """The error envelope; ``as_string`` is the other shape a profile answers in: a bare
    message, with the request id beside it."""
    if as_string:
        return {"error": message, "request_id": request_id}
    return {"error": {"code": code, "message": message, "request_id": request_id}}


def error_response(
    request_id: str,
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    *,
    as_string: bool = False,
) -> JSONResponse:
    body = error_body(code, message, request_id, as_string=as_string)
    return JSONResponse(body, status_code=status, headers=headers)


def _string_errors(request: Request) -> bool:
    store = getattr(request.app.state, "store", None)
    return bool(store is not None and store.profile.string_errors)


def request_id_of(request: Request) -> str:
    value = request.scope.get(REQUEST_ID_KEY)
    return value if isinstance(value, str) else new_request_id()


def describe(errors: list[Any]) -> str:
    """Validation errors as ``field: message; ...``, without the input (it may hold secrets)."""
    problems = []
    for error in errors:
        loc = [str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path")]
        problems.append(f"{'.'.join(loc) or 'body'}: {error.get('msg', 'invalid')}")
    return "; ".join(problems) or "invalid request"


def validation_error(exc: ValidationError) -> ApiError:
    errors = list(exc.errors(include_url=False, include_input=False, include_context=False))
    return ApiError(400, "invalid_request", describe(errors))


def install(app: FastAPI) -> None:
    """Register the handlers that turn every exception into the envelope."""

    async def on_api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return error_response(
            request_id_of(request),
            exc.status,
            exc.code,
            exc.message,
            exc.headers,
            as_string=_string_errors(request),
        )

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        status = exc.status_code
        code = _STATUS_CODES.get(status, "error")
        if status == 404:
            message = f"no such route: {request.method} {request.url.path}"
        elif status == 405:
            message = f"method {request.method} is not allowed on {request.url.path}"
        else:
            message = str(exc.detail)
        headers = dict(exc.headers) if exc.headers else None
        return error_response(
            request_id_of(request),
            status,
            code,
            message,
            headers,
            as_string=_string_errors(request),
        )

    async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        message = describe(list(exc.errors()))
        return error_response(
            request_id_of(request),
            400,
            "invalid_request",
            message,
            as_string=_string_errors(request),
        )

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error in the sandbox", exc_info=exc)
        return error_response(
            request_id_of(request),
            500,
            "internal_error",
            "unexpected error in the sandbox",
            as_string=_string_errors(request),
        )

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(Exception, on_unexpected)
