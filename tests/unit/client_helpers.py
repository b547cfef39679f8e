"""Shared helpers for the client unit tests: example payloads, a scripted transport, a harness.

The harness drives the sync and the async client through one ``await api.call(...)`` so that a
test can be parametrized over both. Every Planasonix error that goes through it is checked for
the API key first: no test in this suite can see an error message that holds the key.

A third kind, ``"aiohttp"``, runs the async client with its aiohttp sender against a real HTTP
server on 127.0.0.1 (:class:`ScriptServer`) that plays the same :class:`Script`.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import inspect
import json
import os
import random
import socket
import struct
import threading
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, cast
from unittest import mock

import httpx
import pytest

from planasonix_provider import __version__
from planasonix_provider.api import (
    AsyncPlanasonixClient,
    PlanasonixClient,
    PlanasonixError,
    RetryPolicy,
)

BASE_URL = "https://api.planasonix.test"
API_KEY = "psk_live_7Hq2ZxLeakCanary9f8e7d6c"
USER_AGENT = f"planasonix-airflow-provider/{__version__}"

# --- The example payloads of reference/orchestration-api-v1.md, verbatim ----------------------

SYNC_REQUEST: dict[str, Any] = {
    "pipeline_id": "pl_01hqxyz",
    "priority": "normal",
    "metadata": {
        "triggered_by": "airflow_dag_nightly_sales",
        "dag_run_id": "scheduled__2025-03-27T02:00:00+00:00",
    },
}
SYNC_RESPONSE: dict[str, Any] = {
    "data": {
        "job": {
            "id": "job_01jq8syncabc",
            "type": "connection_sync",
            "status": "queued",
            "connection_id": "conn_01jq8k2m3n4p5q6r7s8t9u0v1",
            "pipeline_id": "pl_01hqxyz",
            "created_at": "2025-03-27T14:22:10Z",
            "queued_at": "2025-03-27T14:22:10Z",
        }
    }
}
BACKFILL_REQUEST: dict[str, Any] = {
    "start_at": "2025-01-01T00:00:00Z",
    "end_at": "2025-03-01T00:00:00Z",
    "tables": ["public.orders", "public.order_items"],
    "priority": "low",
    "metadata": {"reason": "post_incident_replay"},
}
BACKFILL_RESPONSE: dict[str, Any] = {
    "data": {
        "backfill": {
            "id": "bf_01jq8bfill01",
            "connection_id": "conn_01jq8k2m3n4p5q6r7s8t9u0v1",
            "status": "running",
            "start_at": "2025-01-01T00:00:00Z",
            "end_at": "2025-03-01T00:00:00Z",
            "tables": ["public.orders", "public.order_items"],
            "progress_percent": 0,
            "created_at": "2025-03-27T14:25:00Z",
        }
    }
}
BACKFILL_LIST: dict[str, Any] = {
    "data": [
        {
            "id": "bf_01jq8bfill01",
            "connection_id": "conn_01jq8k2m3n4p5q6r7s8t9u0v1",
            "status": "running",
            "start_at": "2025-01-01T00:00:00Z",
            "end_at": "2025-03-01T00:00:00Z",
            "progress_percent": 37,
            "created_at": "2025-03-27T14:25:00Z",
            "updated_at": "2025-03-27T14:28:44Z",
        }
    ],
    "meta": {"page": {"limit": 50, "cursor": "eyJiZiI6ImJmXzAxanE4YmZpbGwwMSJ9"}},
}
BACKFILL_GET: dict[str, Any] = {
    "data": {
        "id": "bf_01jq8bfill01",
        "connection_id": "conn_01jq8k2m3n4p5q6r7s8t9u0v1",
        "status": "running",
        "start_at": "2025-01-01T00:00:00Z",
        "end_at": "2025-03-01T00:00:00Z",
        "tables": ["public.orders", "public.order_items"],
        "progress_percent": 37,
        "rows_processed": 1849200,
        "error": None,
        "job_ids": ["job_01jq8chunk01", "job_01jq8chunk02"],
        "created_at": "2025-03-27T14:25:00Z",
        "updated_at": "2025-03-27T14:28:44Z",
    }
}
JOB_LIST: dict[str, Any] = {
    "data": [
        {
            "id": "job_01jq8syncabc",
            "type": "connection_sync",
            "status": "running",
            "connection_id": "conn_01jq8k2m3n4p5q6r7s8t9u0v1",
            "pipeline_id": "pl_01hqxyz",
            "created_at": "2025-03-27T14:22:10Z",
            "started_at": "2025-03-27T14:22:12Z",
        }
    ],
    "meta": {"page": {"limit": 50, "cursor": None}},
}
JOB_GET: dict[str, Any] = {
    "data": {
        "id": "job_01jq8syncabc",
        "type": "connection_sync",
        "status": "running",
        "connection_id": "conn_01jq8k2m3n4p5q6r7s8t9u0v1",
        "pipeline_id": "pl_01hqxyz",
        "created_at": "2025-03-27T14:22:10Z",
        "queued_at": "2025-03-27T14:22:10Z",
        "started_at": "2025-03-27T14:22:12Z",
        "finished_at": None,
        "duration_seconds": None,
        "metrics": {"rows_extracted": 45210, "rows_loaded": 44802, "bytes_read": 67108864},
        "error": None,
    }
}
JOB_RESULTS: dict[str, Any] = {
    "data": {
        "job_id": "job_01jq8syncabc",
        "status": "succeeded",
        "tables": [
            {
                "name": "public.orders",
                "rows_loaded": 44802,
                "checksum": (
                    "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
                ),
            }
        ],
        "warnings": [
            {
                "code": "column_type_widened",
                "message": "Column discount_pct coerced from NUMERIC(5,2) to NUMERIC(8,4)",
            }
        ],
    }
}
JOB_CANCEL: dict[str, Any] = {
    "data": {
        "id": "job_01jq8syncabc",
        "status": "cancelling",
        "cancel_requested_at": "2025-03-27T14:30:00Z",
    }
}
WEBHOOK_LIST: dict[str, Any] = {
    "data": [
        {
            "id": "wh_01jq8hook01",
            "url": "https://hooks.slack.com/services/T000/B000/XXXXXXXX",
            "events": ["job.succeeded", "job.failed", "backfill.completed"],
            "enabled": True,
            "created_at": "2025-03-20T09:00:00Z",
        }
    ]
}
WEBHOOK_CREATE_REQUEST: dict[str, Any] = {
    "url": "https://api.internal.example.com/planasonix/webhook",
    "events": ["job.succeeded", "job.failed"],
    "secret": "whsec_custom_optional_if_server_generates",
}
SIGNING_SECRET = "whsec_01jq8secretxxxxxxxxxxxxxxxx"
NEW_SIGNING_SECRET = "whsec_01jq8newsecretyyyyyyyyyyyyy"
WEBHOOK_CREATE: dict[str, Any] = {
    "data": {
        "id": "wh_01jq8hook02",
        "url": "https://api.internal.example.com/planasonix/webhook",
        "events": ["job.succeeded", "job.failed"],
        "signing_secret": SIGNING_SECRET,
        "enabled": True,
        "created_at": "2025-03-27T15:00:00Z",
    }
}
WEBHOOK_GET: dict[str, Any] = {
    "data": {
        "id": "wh_01jq8hook02",
        "url": "https://api.internal.example.com/planasonix/webhook",
        "events": ["job.succeeded", "job.failed"],
        "enabled": True,
        "last_delivery_at": "2025-03-27T14:55:01Z",
        "failure_count_24h": 0,
        "created_at": "2025-03-27T15:00:00Z",
    }
}
WEBHOOK_UPDATE_REQUEST: dict[str, Any] = {
    "url": "https://api.internal.example.com/v2/planasonix/webhook",
    "events": ["job.succeeded", "job.failed", "backfill.completed"],
    "enabled": True,
}
WEBHOOK_UPDATE: dict[str, Any] = {
    "data": {
        "id": "wh_01jq8hook02",
        "url": "https://api.internal.example.com/v2/planasonix/webhook",
        "events": ["job.succeeded", "job.failed", "backfill.completed"],
        "enabled": True,
        "updated_at": "2025-03-27T15:05:00Z",
    }
}
WEBHOOK_ROTATE: dict[str, Any] = {
    "data": {
        "id": "wh_01jq8hook02",
        "signing_secret": NEW_SIGNING_SECRET,
        "rotated_at": "2025-03-27T15:10:00Z",
    }
}
WEBHOOK_TEST = {"data": {"delivery_id": "whd_01jq8test01", "status": "pending"}}
WEBHOOK_DELIVERIES: dict[str, Any] = {
    "data": [
        {
            "id": "whd_01jq8del001",
            "event": "job.succeeded",
            "status": "delivered",
            "http_status": 200,
            "attempt": 1,
            "delivered_at": "2025-03-27T14:55:01Z",
        },
        {
            "id": "whd_01jq8del002",
            "event": "job.failed",
            "status": "failed",
            "http_status": 503,
            "attempt": 3,
            "last_error": "connection reset by peer",
            "delivered_at": None,
        },
    ]
}
OPENAPI_YAML = "openapi: 3.0.3\ninfo:\n  title: Planasonix Orchestration API\n  version: v1\n"


def payload(example: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of an example, safe to mutate in a test."""
    return copy.deepcopy(example)


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


# --- A real loopback server that plays a Script, for the aiohttp kind -------------------------

#: Steps a server cannot play: these failures happen before the request reaches any server
#: (nothing listens, the connect or the pool wait times out), or, for a write timeout, aiohttp
#: has none to raise (``aiohttp_sender.client_timeout``).
UNPLAYABLE_STEPS: dict[type[httpx.TransportError], str] = {
    httpx.ConnectError: "a server that accepted the connection cannot refuse it",
    httpx.ConnectTimeout: "a server that accepted the connection cannot time its connect out",
    httpx.PoolTimeout: "a server cannot make the client's own pool wait time out",
    httpx.WriteTimeout: "aiohttp has no write timeout, so its sender never raises one",
}
#: The aiohttp kind's read timeout, given only to a client whose script plays ReadTimeout.
AIOHTTP_READ_TIMEOUT = 0.25
#: How long the server holds a ReadTimeout request for a client that does not hang up.
HOLD_LIMIT = 5.0


@dataclass
class WireRequest:
    """One HTTP/1.1 request as it came over the socket."""

    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = [v for n, v in self.headers if n.lower() == name.lower()]
        assert len(values) <= 1, f"{name} sent {len(values)} times: {values}"
        return values[0] if values else None

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]


async def read_request(reader: asyncio.StreamReader) -> WireRequest | None:
    """Read one request (head, then a Content-Length or chunked body); None at a clean EOF."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise AssertionError(
                f"the client hung up inside a request head: {exc.partial!r}"
            ) from exc
        return None
    except ConnectionResetError:
        return None
    request_line, *lines = head[:-4].decode("latin-1").split("\r\n")
    method, target, version = request_line.split(" ", 2)
    headers = []
    for line in lines:
        name, colon, value = line.partition(":")
        assert colon, f"malformed header line {line!r}"
        headers.append((name.strip(), value.strip()))
    request = WireRequest(method, target, version, headers, b"")
    if (request.header("transfer-encoding") or "").lower() == "chunked":
        chunks = []
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            chunks.append((await reader.readexactly(size + 2))[:-2])
        await reader.readuntil(b"\r\n")
        request.body = b"".join(chunks)
    elif length := int(request.header("content-length") or 0):
        request.body = await reader.readexactly(length)
    return request


def encode_response(response: httpx.Response) -> bytes:
    """An httpx response as HTTP/1.1 bytes, its length framing recomputed."""
    status = response.status_code
    body = response.read()
    lines = [f"HTTP/1.1 {status} {response.reason_phrase}".encode()]
    for name, value in response.headers.raw:
        if name.lower() not in (b"content-length", b"transfer-encoding", b"connection"):
            lines.append(name + b": " + value)
    if status in (204, 304):
        body = b""
    else:
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def reset(writer: asyncio.StreamWriter) -> None:
    """Drop a connection with a TCP RST instead of a FIN."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


_server_loop: asyncio.AbstractEventLoop | None = None
_server_loop_lock = threading.Lock()


def server_loop() -> asyncio.AbstractEventLoop:
    """The event loop, in a daemon thread, of every :class:`ScriptServer`.

    Apart from the test's loop, so a server answers while the client under test is blocked, and
    a harness can be made from synchronous code.
    """
    global _server_loop
    with _server_loop_lock:
        if _server_loop is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="script-server", daemon=True).start()
            _server_loop = loop
    return _server_loop


class ScriptServer:
    """An HTTP/1.1 server on a free 127.0.0.1 port that plays a :class:`Script`.

    Each request reaches the script as an ``httpx.Request`` for ``public_url`` + path + query,
    its Host header rewritten alike, so that recorded requests read as over a mock transport.
    A transport-error step is played as the network would: ``RemoteProtocolError`` closes the
    connection without an answer, ``ReadError`` resets it, ``ReadTimeout`` holds the request
    unanswered until the client hangs up. Anything the server cannot play, or an unexpected
    request, is kept in ``errors`` and raised by :meth:`aclose`: it never passes silently.
    """

    def __init__(self, script: Script, public_url: str = BASE_URL) -> None:
        self.script = script
        self.public_url = public_url.rstrip("/")
        self.public_host = httpx.URL(public_url).netloc.decode("ascii")
        self.errors: list[BaseException] = []
        self._connections: dict[asyncio.Task[Any], asyncio.StreamWriter] = {}
        self._loop = server_loop()
        self._server = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(
            timeout=10
        )
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def _start(self) -> asyncio.Server:
        return await asyncio.start_server(self._serve, "127.0.0.1", 0)

    def as_httpx(self, wire: WireRequest) -> httpx.Request:
        headers = [
            (name, self.public_host if name.lower() == "host" else value)
            for name, value in wire.headers
        ]
        return httpx.Request(
            wire.method, self.public_url + wire.target, headers=headers, content=wire.body or None
        )

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections[task] = writer
        try:
            while (wire := await read_request(reader)) is not None:
                try:
                    response = self.script(self.as_httpx(wire))
                except httpx.TransportError as exc:
                    await self._play(type(exc), reader, writer)
                    return
                writer.write(encode_response(response))
                await writer.drain()
        except asyncio.CancelledError:
            pass  # stopped by aclose(); Python 3.11 logs a handler task that ends cancelled
        except Exception as exc:  # kept for aclose(); the client sees a dropped connection
            self.errors.append(exc)
        finally:
            writer.close()
            del self._connections[task]

    async def _play(
        self,
        failure: type[httpx.TransportError],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        if issubclass(failure, httpx.ReadTimeout):
            try:  # until the client times out and closes the connection
                await asyncio.wait_for(reader.read(), HOLD_LIMIT)
            except ConnectionResetError:
                pass
            except asyncio.TimeoutError:
                raise AssertionError(
                    f"the client waited more than {HOLD_LIMIT}s for a held request: "
                    "give it a read timeout"
                ) from None
        elif issubclass(failure, httpx.ReadError):
            reset(writer)
        elif not issubclass(failure, httpx.RemoteProtocolError):
            raise AssertionError(f"a server cannot play {failure.__name__}")
        # RemoteProtocolError: the connection closes (FIN) without an answer.

    async def _stop(self) -> None:
        self._server.close()
        for writer in self._connections.values():
            writer.close()  # the handler reads EOF and ends
        if self._connections:
            _, pending = await asyncio.wait(list(self._connections), timeout=2)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self._server.wait_closed()

    async def aclose(self) -> None:
        future = asyncio.run_coroutine_threadsafe(self._stop(), self._loop)
        await asyncio.wrap_future(future)
        if self.errors:
            raise self.errors[0]


def unplayable_step(script: Script) -> str | None:
    """Why a server cannot play one of the script's steps, or None."""
    for step in script.steps:
        if isinstance(step, type):
            for failure, reason in UNPLAYABLE_STEPS.items():
                if issubclass(step, failure):
                    return f"{step.__name__}: {reason}"
    return None


@contextlib.contextmanager
def direct_to_loopback() -> Iterator[None]:
    """No proxy from the environment for 127.0.0.1 (the aiohttp sender reads it when built)."""
    no_proxy = ",".join(
        v for v in (os.environ.get("NO_PROXY"), os.environ.get("no_proxy"), "127.0.0.1") if v
    )
    with mock.patch.dict(os.environ, {"NO_PROXY": no_proxy, "no_proxy": no_proxy}):
        yield


class Api:
    """One client on a scripted transport, with its waits recorded.

    ``kind`` is ``"sync"`` or ``"async"`` (httpx over :class:`ClosingTransport`), or
    ``"aiohttp"``: the async client with ``http_transport="aiohttp"`` against a
    :class:`ScriptServer`. That kind skips the test when the script holds a step that no server
    can play (see ``UNPLAYABLE_STEPS``).
    """

    def __init__(
        self,
        kind: str,
        script: Script,
        *,
        retry: RetryPolicy | None = None,
        api_key: str = API_KEY,
    ) -> None:
        self.kind = kind
        self.script = script
        self.sleeps: list[float] = []
        self.server: ScriptServer | None = None
        policy = retry or fast_policy()

        async def record(delay: float) -> None:
            self.sleeps.append(delay)

        self.client: PlanasonixClient | AsyncPlanasonixClient
        if kind == "aiohttp":
            reason = unplayable_step(script)
            if reason is not None:
                pytest.skip(f"aiohttp kind over real TCP: {reason}")
            self.server = ScriptServer(script)
            options: dict[str, Any] = {}
            if any(step is httpx.ReadTimeout for step in script.steps):
                options["timeout"] = httpx.Timeout(AIOHTTP_READ_TIMEOUT)
            with direct_to_loopback():
                self.client = AsyncPlanasonixClient(
                    self.server.url,
                    api_key,
                    http_transport="aiohttp",
                    retry=policy,
                    sleep=record,
                    **options,
                )
            self.base_url = self.server.url
            return
        self.base_url = BASE_URL
        self.transport = ClosingTransport(script)
        if kind == "sync":
            self.client = PlanasonixClient(
                BASE_URL, api_key, transport=self.transport, retry=policy, sleep=self.sleeps.append
            )
        elif kind == "async":
            self.client = AsyncPlanasonixClient(
                BASE_URL, api_key, transport=self.transport, retry=policy, sleep=record
            )
        else:
            raise ValueError(f"unknown kind {kind!r}")

    async def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call a client method; await it, and drain it when it is an iterator."""
        try:
            result = getattr(self.client, name)(*args, **kwargs)
            if inspect.isawaitable(result):
                return await result
            if hasattr(result, "__aiter__"):
                return [item async for item in result]
            if isinstance(result, Iterator):
                return list(result)
            return result
        except PlanasonixError as exc:
            assert_no_secret(exc)
            raise

    async def next_item(self, iterator: Any) -> Any:
        if hasattr(iterator, "__anext__"):
            return await iterator.__anext__()
        return next(iterator)

    async def close(self) -> None:
        """Close the client, then its server; raise what the server could not play."""
        if isinstance(self.client, AsyncPlanasonixClient):
            await self.client.aclose()
        else:
            self.client.close()
        if self.server is not None:
            await self.server.aclose()


KINDS = ["sync", "async"]
#: The kinds the client tests run on: the httpx ones, and aiohttp over real TCP.
ALL_KINDS = [*KINDS, "aiohttp"]


class ApiPool:
    """Makes :class:`Api` harnesses of one kind and closes them all at the end of a test."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.made: list[Api] = []

    def make(
        self, *steps: Step, retry: RetryPolicy | None = None, repeat_last: bool = False
    ) -> Api:
        api = Api(self.kind, Script(*steps, repeat_last=repeat_last), retry=retry)
        self.made.append(api)
        return api

    async def __aenter__(self) -> ApiPool:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        failures = []
        for api in self.made:
            try:
                await api.close()
            except Exception as exc:
                failures.append(exc)
        if failures:
            raise failures[0]
