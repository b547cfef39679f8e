"""Request parsing shared by the v1 and control routes: bodies, limits, cursors, timestamps.

Bodies are parsed by hand (not by FastAPI signatures) so that every problem becomes the API's
400 envelope with a message naming the field, using the provider's own request models.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from planasonix_provider.sandbox.errors import ApiError, validation_error

M = TypeVar("M", bound=BaseModel)

DEFAULT_LIMIT = 50
MAX_LIMIT = 100


async def parse_body(request: Request, model: type[M], *, optional: bool = False) -> M:
    raw = await request.body()
    if not raw.strip():
        if optional:
            return model()
        raise ApiError(400, "invalid_request", "a JSON request body is required")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "invalid_json", f"the request body is not valid JSON: {exc}") from None
    if data is None and optional:
        return model()
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_request", "the request body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc) from None


def check_accepted(field: str, values: str | list[str] | None) -> None:
    """Refuse a value the sandbox does not take, as the real API would: a 400 naming it."""
    from planasonix_provider.sandbox.config import ACCEPTED_VALUES

    accepted = ACCEPTED_VALUES["events" if field == "event" else field]
    for value in [values] if isinstance(values, str) else values or []:
        if value not in accepted:
            raise ApiError(
                400,
                "invalid_request",
                f"{field}: {value!r} is not one of {', '.join(accepted)}",
            )


def parse_limit(request: Request) -> int:
    raw = request.query_params.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise ApiError(
            400, "invalid_request", f"limit: must be an integer from 1 to {MAX_LIMIT}, got {raw!r}"
        )
    return int(raw)


def encode_cursor(seq: int | None) -> str | None:
    if seq is None:
        return None
    return base64.urlsafe_b64encode(json.dumps({"s": seq}).encode()).decode().rstrip("=")


def parse_cursor(request: Request) -> int | None:
    raw = request.query_params.get("cursor")
    if raw is None or raw == "":
        return None
    try:
        decoded = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        seq = decoded["s"]
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
            raise ValueError(seq)
        return seq
    except (ValueError, TypeError, KeyError, binascii.Error, UnicodeDecodeError):
        raise ApiError(400, "invalid_cursor", "cursor: not a cursor this API returned") from None


def parse_time(request: Request, name: str) -> datetime | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ApiError(
            400, "invalid_request", f"{name}: not an RFC 3339 timestamp: {raw!r}"
        ) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ApiError(
            400, "invalid_request", f"{name}: must include a timezone (for example Z), got {raw!r}"
        )
    return moment


def data(payload: Any, status: int = 200) -> JSONResponse:
    return JSONResponse({"data": payload}, status_code=status)


def listing(items: list[Any], limit: int, next_seq: int | None) -> JSONResponse:
    return JSONResponse(
        {"data": items, "meta": {"page": {"limit": limit, "cursor": encode_cursor(next_seq)}}}
    )
