"""Raw ASGI middleware: request ids, bearer auth, body size, request counters and faults.

It is raw ASGI rather than ``BaseHTTPMiddleware`` because a dropped connection must reach uvicorn
as "response started, never completed", which uvicorn answers by closing the socket: the client
then sees a transport error, never a 500. Faults apply to /api/v1 only, after auth.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Sequence
from typing import Any

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from planasonix_provider.sandbox.config import FaultSpec
from planasonix_provider.sandbox.errors import (
    MAX_BODY_BYTES,
    REQUEST_ID_KEY,
    ApiError,
    error_response,
    new_request_id,
)
from planasonix_provider.sandbox.state import Store

API_PREFIX = "/api/v1"


class SandboxMiddleware:
    def __init__(self, app: ASGIApp, *, store: Store, api_key: str, routes: Sequence[BaseRoute]):
        self.app = app
        self.store = store
        self.expected = f"Bearer {api_key}".encode()
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        scope[REQUEST_ID_KEY] = request_id
        send = _with_request_id(send, request_id)
        if not self._authorized(scope):
            await error_response(
                request_id,
                401,
                "unauthorized",
                "missing or invalid API key: send 'Authorization: Bearer <key>'",
                {"WWW-Authenticate": "Bearer"},
                as_string=self.store.profile.string_errors,
            )(scope, receive, send)
            return
        length = _content_length(scope)
        if length is not None and length > MAX_BODY_BYTES:
            await error_response(
                request_id,
                413,
                "payload_too_large",
                f"body over {MAX_BODY_BYTES} bytes",
                as_string=self.store.profile.string_errors,
            )(scope, receive, send)
            return
        receive = _limited(receive)
        path: str = scope["path"]
        if not path.startswith(API_PREFIX + "/"):
            await self.app(scope, receive, send)
            return
        self.store.requests[f"{scope['method']} {self._template(scope)}"] += 1
        fault = self.store.match_fault(scope["method"], path)
        if fault is None:
            await self.app(scope, receive, send)
        elif fault.after:
            await self._after(fault, scope, receive, send, request_id)
        else:
            await self._before(fault, scope, receive, send, request_id)

    def _authorized(self, scope: Scope) -> bool:
        for name, value in scope["headers"]:
            if name == b"authorization":
                return hmac.compare_digest(value, self.expected)
        return False

    def _template(self, scope: Scope) -> str:
        partial = None
        for route in self.routes:
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return str(getattr(route, "path", scope["path"]))
            if match == Match.PARTIAL and partial is None:
                partial = str(getattr(route, "path", scope["path"]))
        return partial or "<unmatched>"

    async def _before(
        self, fault: FaultSpec, scope: Scope, receive: Receive, send: Send, request_id: str
    ) -> None:
        if fault.latency:
            await asyncio.sleep(fault.latency)
        if fault.drop:
            await _drop(send)
        elif fault.status is not None:
            await _fault_response(fault, request_id, self.store.profile.string_errors)(
                scope, receive, send
            )
        else:
            await self.app(scope, receive, send)

    async def _after(
        self, fault: FaultSpec, scope: Scope, receive: Receive, send: Send, request_id: str
    ) -> None:
        """Process the request for real, then lose or replace its answer."""
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        await self.app(scope, receive, hold)
        if fault.latency:
            await asyncio.sleep(fault.latency)
        if fault.drop:
            await _drop(send)
        elif fault.status is not None:
            await _fault_response(fault, request_id, self.store.profile.string_errors)(
                scope, receive, send
            )
        else:
            for message in held:
                await send(message)


def _fault_response(fault: FaultSpec, request_id: str, as_string: bool) -> Any:
    headers = {"Retry-After": fault.retry_after} if fault.retry_after else None
    assert fault.status is not None
    return error_response(
        request_id,
        fault.status,
        "injected_fault",
        f"fault injected by the Planasonix sandbox (HTTP {fault.status})",
        headers,
        as_string=as_string,
    )


async def _drop(send: Send) -> None:
    # A started response that never completes: uvicorn closes the socket without a body.
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [(b"content-length", b"1"), (b"connection", b"close")],
        }
    )


def _with_request_id(send: Send, request_id: str) -> Send:
    raw = request_id.encode()

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = dict(message)
            message["headers"] = [*message.get("headers", []), (b"x-request-id", raw)]
        await send(message)

    return wrapped


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _limited(receive: Receive) -> Receive:
    """Counts streamed (chunked) bodies too, which carry no content-length."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > MAX_BODY_BYTES:
                raise ApiError(413, "payload_too_large", f"body over {MAX_BODY_BYTES} bytes")
        return message

    return wrapped
