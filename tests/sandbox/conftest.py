"""Shared fixtures: a fast sandbox over real TCP, a client for it, and a webhook receiver."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from planasonix_provider.api import PlanasonixClient, RetryPolicy
from planasonix_provider.sandbox.testing import SandboxHandle, run_sandbox
from tests.loopback import WireRequest, answer, serving

SPEED = 10.0
CONN = "conn_01jq8k2m3n4p5q6r7s8t9u0v1"


@pytest.fixture
def sandbox() -> Iterator[SandboxHandle]:
    with run_sandbox(speed=SPEED, seed=7) as handle:
        yield handle


def make_client(handle: SandboxHandle, **kwargs: Any) -> PlanasonixClient:
    kwargs.setdefault("retry", RetryPolicy(max_attempts=3, backoff_base=0.01, max_wait=0.05))
    kwargs.setdefault("timeout", 10.0)
    return PlanasonixClient(handle.base_url, handle.api_key, **kwargs)


@pytest.fixture
def client(sandbox: SandboxHandle) -> Iterator[PlanasonixClient]:
    with make_client(sandbox) as api:
        yield api


def wait_for(check: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02) -> Any:
    """Poll ``check`` until it returns something truthy; fail the test on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout}s (last value {value!r})")
        time.sleep(interval)


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str
    received: list[Received] = field(default_factory=list)
    #: Answer 503 to this many requests before answering 200.
    fail_next: int = 0
    attempts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def events(self) -> list[str]:
        with self.lock:
            return [r.headers.get("x-planasonix-event", "") for r in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A tiny HTTP server on 127.0.0.1 that records webhook deliveries."""
    state = Receiver(url="")

    def respond(request: WireRequest) -> bytes:
        if request.method != "POST":
            return answer(501)
        with state.lock:
            state.attempts += 1
            failing = state.fail_next > 0
            if failing:
                state.fail_next -= 1
            else:
                headers = {k.lower(): v for k, v in request.headers}
                state.received.append(Received(headers, request.body))
        return answer(503 if failing else 200)

    with serving(respond) as server:
        state.url = f"{server.url}/hook"
        yield state
