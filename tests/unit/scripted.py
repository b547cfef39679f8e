"""Scripted answers for the client tests: an httpx mock transport that plays a list of steps.

Also what every client test checks its requests and errors with (bodies, query parameters, that
the API key is in no error).
"""

from __future__ import annotations

import json
import random
import traceback
from collections.abc import Callable
from typing import Any, cast

import httpx

from planasonix_provider import __version__
from planasonix_provider.api import RetryPolicy

BASE_URL = "https://api.planasonix.test"
API_KEY = "psk_live_7Hq2ZxLeakCanary9f8e7d6c"
USER_AGENT = f"planasonix-airflow-provider/{__version__}"


# --- Building answers ------------------------------------------------------------------------


def ok(body: Any = None, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers or None)


def api_error(
    status: int,
    code: str = "some_code",
    message: str = "something went wrong",
    request_id: str | None = "req_01jqTEST",
    **headers: str,
) -> httpx.Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if request_id is not None:
        error["request_id"] = request_id
    return httpx.Response(status, json={"error": error}, headers=headers or None)


def raw(status: int, content: bytes | str, content_type: str = "text/html") -> httpx.Response:
    return httpx.Response(status, content=content, headers={"content-type": content_type})


def page(items: list[dict[str, Any]], cursor: str | None, limit: int = 50) -> httpx.Response:
    return ok({"data": items, "meta": {"page": {"limit": limit, "cursor": cursor}}})


Step = httpx.Response | type[httpx.TransportError] | Callable[[httpx.Request], httpx.Response]


class Script:
    """A transport handler that answers with ``steps`` in order and records every request.

    A step is a response, an httpx transport error class (raised for that request), or a
    function of the request. ``repeat_last`` keeps answering with the last step.
    """

    def __init__(self, *steps: Step, repeat_last: bool = False) -> None:
        self.steps = list(steps)
        self.repeat_last = repeat_last
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        index = len(self.requests) - 1
        if index >= len(self.steps):
            if not self.repeat_last:
                raise AssertionError(
                    f"unexpected request #{index + 1}: {request.method} {request.url}"
                )
            index = len(self.steps) - 1
        step = self.steps[index]
        if isinstance(step, type) and issubclass(step, httpx.TransportError):
            raise step(f"simulated {step.__name__}", request=request)
        if isinstance(step, httpx.Response):
            # A fresh copy each time: a client takes over the stream of a response it receives.
            return httpx.Response(step.status_code, headers=step.headers, content=step.content)
        handler = cast(Callable[[httpx.Request], httpx.Response], step)
        return handler(request)

    @property
    def count(self) -> int:
        return len(self.requests)

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]


class ClosingTransport(httpx.MockTransport):
    """A mock transport that records whether its owner closed it (the pool)."""

    def __init__(self, handler: Callable[[httpx.Request], httpx.Response]) -> None:
        super().__init__(handler)
        self.closed = False

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


def fast_policy(
    max_attempts: int = 4, backoff_base: float = 0.1, max_wait: float = 5.0
) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=max_attempts,
        backoff_base=backoff_base,
        max_wait=max_wait,
        rng=random.Random(0),
    )


def body_of(request: httpx.Request) -> Any:
    """The JSON body of a request, or None when it has no body at all."""
    return json.loads(request.content) if request.content else None


def params_of(request: httpx.Request) -> dict[str, str]:
    return dict(request.url.params.multi_items())


def assert_no_secret(exc: BaseException, secret: str = API_KEY) -> None:
    """The key is in no message, repr or formatted traceback of ``exc`` and its causes."""
    seen: BaseException | None = exc
    while seen is not None:
        assert secret not in str(seen), f"API key leaked in {type(seen).__name__}: {seen}"
        assert secret not in repr(seen)
        seen = seen.__cause__ or seen.__context__
    assert secret not in "".join(traceback.format_exception(exc))
