"""The loopback HTTP/1.1 server of the client tests: real TCP on 127.0.0.1, bytes as sent.

What a mock transport cannot show needs a peer over a socket: the bytes the client put on the
wire, a connection dropped (FIN or RST) after the request was read, a request held unanswered
until the client's read timeout, proxies. A :class:`LoopbackServer` answers each request with
what its ``respond`` function returns: bytes, or ``"close"`` (FIN, no answer), ``"reset"`` (RST,
no answer) or ``"hold"`` (no answer until the client hangs up).

Every server runs in one event loop on a daemon thread, apart from the test's loop, so that it
answers while the client under test is blocked, and so that sync code can use it too
(:func:`serving`, for a webhook receiver or a stub API in a sync test; :func:`answer` builds a
reply). Anything that goes wrong on the server's side (an unexpected request, a malformed one) is
kept and raised when the server is closed: it never passes silently.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

#: How long a held request waits for a client that does not hang up.
HOLD_LIMIT = 5.0

#: What a server does with one request: answer these bytes, or "close", "reset" or "hold".
Reply = bytes | str


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


def answer(status: int, body: bytes = b"", headers: Mapping[str, str] | None = None) -> bytes:
    """A reply of ``status`` with ``body`` and ``headers`` (Content-Length is added)."""
    return encode_response(httpx.Response(status, headers=dict(headers or {}), content=body))


def reset(writer: asyncio.StreamWriter) -> None:
    """Drop a connection with a TCP RST instead of a FIN."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


_server_loop: asyncio.AbstractEventLoop | None = None
_server_loop_lock = threading.Lock()


def server_loop() -> asyncio.AbstractEventLoop:
    """The event loop, in a daemon thread, of every :class:`LoopbackServer`."""
    global _server_loop
    with _server_loop_lock:
        if _server_loop is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="loopback-server", daemon=True).start()
            _server_loop = loop
    return _server_loop


class LoopbackServer:
    """An HTTP/1.1 server on 127.0.0.1 that answers each request with ``respond(request)``.

    Listens from :meth:`start` (or ``async with``) on ``port`` (0: a free one) until
    :meth:`aclose`; ``requests`` holds every request it read, in order.
    """

    def __init__(self, respond: Callable[[WireRequest], Reply], *, port: int = 0) -> None:
        self.respond = respond
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.requests: list[WireRequest] = []
        self.errors: list[BaseException] = []
        self._connections: dict[asyncio.Task[Any], asyncio.StreamWriter] = {}
        self._loop = server_loop()
        self._server: asyncio.Server | None = None

    def start(self) -> LoopbackServer:
        async def listen() -> asyncio.Server:
            return await asyncio.start_server(self._serve, "127.0.0.1", self.port)

        future = asyncio.run_coroutine_threadsafe(listen(), self._loop)
        self._server = future.result(timeout=10)
        self.port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        return self

    @property
    def targets(self) -> list[str]:
        return [f"{r.method} {r.target}" for r in self.requests]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections[task] = writer
        try:
            while (request := await read_request(reader)) is not None:
                self.requests.append(request)
                reply = self.respond(request)
                if reply == "close":
                    return
                if reply == "reset":
                    reset(writer)
                    return
                if reply == "hold":
                    await _hold(reader)
                    return
                assert isinstance(reply, bytes), f"unknown reply {reply!r}"
                writer.write(reply)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass  # the client hung up, or aclose() stopped the handler
        except Exception as exc:  # kept for aclose(); the client sees a dropped connection
            self.errors.append(exc)
        finally:
            writer.close()
            del self._connections[task]

    async def _stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for writer in self._connections.values():
            writer.close()  # the handler reads EOF and ends
        if self._connections:
            _, pending = await asyncio.wait(list(self._connections), timeout=2)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self._server.wait_closed()

    async def aclose(self, *, raise_errors: bool = True) -> None:
        """Stop listening and end every connection; then raise what went wrong on the server."""
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self._stop(), self._loop))
        if self.errors and raise_errors:
            raise self.errors[0]

    def close(self, *, raise_errors: bool = True) -> None:
        """:meth:`aclose`, from sync code (never from the server's own loop)."""
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=10)
        if self.errors and raise_errors:
            raise self.errors[0]

    async def __aenter__(self) -> LoopbackServer:
        return self.start()

    async def __aexit__(self, exc_type: object, *exc_info: object) -> None:
        await self.aclose(raise_errors=exc_type is None)


@contextmanager
def serving(respond: Callable[[WireRequest], Reply]) -> Iterator[LoopbackServer]:
    """A started :class:`LoopbackServer` for sync tests, closed (and its errors raised) after."""
    server = LoopbackServer(respond).start()
    try:
        yield server
    except BaseException:
        server.close(raise_errors=False)
        raise
    server.close()


async def _hold(reader: asyncio.StreamReader) -> None:
    """No answer, until the client times out and closes the connection."""
    try:
        await asyncio.wait_for(reader.read(), HOLD_LIMIT)
    except asyncio.TimeoutError:
        raise AssertionError(
            f"the client waited more than {HOLD_LIMIT}s for a held request: give it a read timeout"
        ) from None


def in_order(*replies: Reply | Callable[[WireRequest], Reply], repeat_last: bool = False) -> Any:
    """A ``respond`` that gives ``replies`` one per request (a callable is called with the
    request); an extra request is an error unless ``repeat_last``."""
    seen = 0

    def respond(request: WireRequest) -> Reply:
        nonlocal seen
        seen += 1
        if seen > len(replies):
            if not repeat_last or not replies:
                raise AssertionError(f"unexpected request #{seen}: {request}")
            reply = replies[-1]
        else:
            reply = replies[seen - 1]
        return reply(request) if callable(reply) else reply

    return respond
