"""The harness of the client tests: one client of a given kind on a scripted server.

``await api.call(...)`` drives the sync and the async client alike, so that a test can be
parametrized over both. Every Planasonix error that goes through it is checked for the API key
first: no test in this suite can see an error message that holds the key.

The kinds: ``"sync"`` and ``"async"`` (httpx over a mock transport that plays a
:class:`~tests.unit.scripted.Script`), and ``"aiohttp"``: the async client with its aiohttp
sender against a :class:`~tests.loopback.LoopbackServer` that plays the same script over TCP.
"""

from __future__ import annotations

import contextlib
import inspect
import os
from collections.abc import Iterator
from typing import Any
from unittest import mock

import httpx
import pytest

from planasonix_provider.api import (
    AsyncPlanasonixClient,
    PlanasonixClient,
    PlanasonixError,
    RetryPolicy,
)
from tests.loopback import LoopbackServer, Reply, WireRequest, encode_response
from tests.unit.scripted import (
    API_KEY,
    BASE_URL,
    ClosingTransport,
    Script,
    Step,
    assert_no_secret,
    fast_policy,
)

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


def script_server(script: Script, public_url: str = BASE_URL) -> LoopbackServer:
    """A loopback server that plays ``script``, started.

    Each request reaches the script as an ``httpx.Request`` for ``public_url`` + path + query,
    its Host header rewritten alike, so that recorded requests read as over a mock transport.
    A transport-error step is played as the network would: ``RemoteProtocolError`` closes the
    connection without an answer, ``ReadError`` resets it, ``ReadTimeout`` holds the request
    unanswered until the client hangs up.
    """
    public_url = public_url.rstrip("/")
    public_host = httpx.URL(public_url).netloc.decode("ascii")

    def respond(wire: WireRequest) -> Reply:
        headers = [
            (name, public_host if name.lower() == "host" else value) for name, value in wire.headers
        ]
        request = httpx.Request(
            wire.method, public_url + wire.target, headers=headers, content=wire.body or None
        )
        try:
            return encode_response(script(request))
        except httpx.ReadTimeout:
            return "hold"
        except httpx.ReadError:
            return "reset"
        except httpx.RemoteProtocolError:
            return "close"
        except httpx.TransportError as exc:
            raise AssertionError(f"a server cannot play {type(exc).__name__}") from None

    return LoopbackServer(respond).start()


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
    :func:`script_server`. That kind skips the test when the script holds a step that no server
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
        self.server: LoopbackServer | None = None
        policy = retry or fast_policy()

        async def record(delay: float) -> None:
            self.sleeps.append(delay)

        self.client: PlanasonixClient | AsyncPlanasonixClient
        if kind == "aiohttp":
            reason = unplayable_step(script)
            if reason is not None:
                pytest.skip(f"aiohttp kind over real TCP: {reason}")
            self.server = script_server(script)
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
