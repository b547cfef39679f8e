"""Fixtures and figures of the reliability and security suite (issue #7).

One sandbox over real TCP serves the whole session; each test uses connection ids of its own, so
that counters and faults of one test never leak into another. Every fault a test injects goes
through :class:`Faults`, which reads back how often the sandbox really applied it; the totals end
up in ``test-artifacts/reliability-summary.json`` and in one line at the end of the run.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import format_datetime
from types import SimpleNamespace
from typing import Any

import pytest

from planasonix_provider.sandbox.testing import SandboxHandle, run_sandbox
from tests.conftest import REPO_ROOT
from tests.loopback import WireRequest, answer, serving

#: The connection every reliability test uses: a 1 s request timeout, 3 attempts, waits <= 2 s.
TIMEOUT = 1.0
RETRY_ATTEMPTS = 3
RETRY_MAX_WAIT = 2.0
#: A connection with a tight retry cap, for the "retries stay within the caps" checks.
TIGHT_CONN = "planasonix_tight"
TIGHT_MAX_WAIT = 0.2
#: Jobs that end quickly, so that a cell costs its faults and not its job.
FAST = {"duration": 0.3, "queued_for": 0.05}
POLL = 0.1
SLACK = 4.0  # seconds of scheduling noise allowed on a shared 2-core machine


def conn_json(base_url: str, api_key: str | None, **extra: Any) -> str:
    conn: dict[str, Any] = {"conn_type": "planasonix", "host": base_url, "extra": extra}
    if api_key is not None:
        conn["password"] = api_key
    return json.dumps(conn)


def default_extra() -> dict[str, Any]:
    return {"timeout": TIMEOUT, "retry_attempts": RETRY_ATTEMPTS, "retry_max_wait": RETRY_MAX_WAIT}


# --- Figures for the closing note -------------------------------------------------------------


@dataclass
class Figures:
    scenarios: int = 0
    faults_injected: int = 0
    faults_by_kind: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    jobs_started: int = 0
    backfills_started: int = 0
    soak: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def outcome(self, scenario: str, outcome: str) -> None:
        with self.lock:
            self.scenarios += 1
            self.outcomes[outcome] += 1

    def as_json(self) -> dict[str, Any]:
        return {
            "scenarios_run": self.scenarios,
            "faults_injected": self.faults_injected,
            "faults_by_kind": dict(sorted(self.faults_by_kind.items())),
            "outcomes": dict(sorted(self.outcomes.items())),
            "jobs_started": self.jobs_started,
            "backfills_started": self.backfills_started,
            "soak": self.soak,
        }


FIGURES = Figures()


def fault_kind(spec: dict[str, Any]) -> str:
    if spec.get("drop"):
        return "drop"
    if spec.get("status"):
        return f"{spec['status']}{'+retry-after' if spec.get('retry_after') else ''}"
    return "latency"


class Faults:
    """Injects sandbox faults and counts how many times each was really applied."""

    def __init__(self, sandbox: SandboxHandle) -> None:
        self.control = sandbox.control
        self.added: dict[str, dict[str, Any]] = {}

    def add(self, **spec: Any) -> str:
        fault_id = self.control.add_fault(**spec)
        self.added[fault_id] = spec
        return fault_id

    def hits(self) -> dict[str, int]:
        """Hits per fault id; a fault used up by its ``count`` is gone, so it hit ``count``."""
        live = {f["id"]: f["hits"] for f in self.control.faults()}
        return {
            fault_id: live.get(fault_id, spec.get("count") or 0)
            for fault_id, spec in self.added.items()
        }

    def unused(self) -> list[str]:
        return [fid for fid, hits in self.hits().items() if hits == 0]

    def settle(self) -> None:
        hits = self.hits()
        with FIGURES.lock:
            for fault_id, count in hits.items():
                FIGURES.faults_injected += count
                FIGURES.faults_by_kind[fault_kind(self.added[fault_id])] += count
        self.control.clear_faults()
        self.added.clear()


def retry_after_date(seconds: float) -> str:
    from datetime import datetime, timedelta, timezone

    return format_datetime(datetime.now(timezone.utc) + timedelta(seconds=seconds), usegmt=True)


# --- Fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def rel_sandbox(request: pytest.FixtureRequest) -> Iterator[SandboxHandle]:
    """Run the whole suite against the other answer shapes with
    ``--planasonix-sandbox-profile=variant``."""
    profile = request.config.getoption("planasonix_sandbox_profile")
    with run_sandbox(seed=11, speed=1.0, profile=profile) as handle:
        yield handle
        counters = handle.control.counters()
        FIGURES.jobs_started += counters["jobs_started"]["total"]
        FIGURES.backfills_started += counters["backfills_started"]["total"]


@pytest.fixture
def sandbox(rel_sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxHandle]:
    """The sandbox as ``planasonix_default`` (1 s timeout, 3 attempts, 2 s wait cap)."""
    rel_sandbox.control.clear_faults()
    monkeypatch.setenv(
        "AIRFLOW_CONN_PLANASONIX_DEFAULT",
        conn_json(rel_sandbox.base_url, rel_sandbox.api_key, **default_extra()),
    )
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{TIGHT_CONN.upper()}",
        conn_json(
            rel_sandbox.base_url,
            rel_sandbox.api_key,
            timeout=TIMEOUT,
            retry_attempts=RETRY_ATTEMPTS,
            retry_max_wait=TIGHT_MAX_WAIT,
        ),
    )
    yield rel_sandbox
    rel_sandbox.control.clear_faults()


@pytest.fixture
def faults(sandbox: SandboxHandle) -> Iterator[Faults]:
    injector = Faults(sandbox)
    yield injector
    injector.settle()


@pytest.fixture
def dag_sandbox(sandbox: SandboxHandle, airflow_db: None) -> SandboxHandle:
    return sandbox


def fake_context(task_id: str = "task") -> dict[str, Any]:
    ti = SimpleNamespace(
        dag_id="reliability", run_id="manual__1", task_id=task_id, map_index=-1, try_number=1
    )
    return {"ti": ti}


async def run_trigger(trigger: Any, timeout: float = 90.0) -> dict[str, Any]:
    """Run a trigger to its first event, as the triggerer would, and return the payload."""

    async def first() -> dict[str, Any]:
        async for event in trigger.run():
            return dict(event.payload)
        raise AssertionError("the trigger ended without an event")

    return await asyncio.wait_for(first(), timeout)


def wait_until(check: Any, timeout: float = 15.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last {value!r})")
        time.sleep(interval)


# --- A stub API for answers the sandbox never gives -------------------------------------------


@dataclass
class StubAPI:
    """A tiny HTTP server on 127.0.0.1 that answers canned responses per (method, path)."""

    url: str = ""
    routes: dict[tuple[str, str], tuple[int, dict[str, str], bytes]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(
        self,
        method: str,
        path: str,
        status: int,
        body: bytes | str | Any,
        content_type: str = "application/json",
    ) -> None:
        if isinstance(body, str):
            raw = body.encode()
        elif isinstance(body, bytes):
            raw = body
        else:
            raw = json.dumps(body).encode()
        self.routes[(method, path)] = (status, {"Content-Type": content_type}, raw)

    def count(self, method: str, path: str) -> int:
        with self.lock:
            return self.requests.count((method, path))


@pytest.fixture
def stub_api() -> Iterator[StubAPI]:
    state = StubAPI()

    def respond(request: WireRequest) -> bytes:
        if request.method not in ("GET", "POST"):
            return answer(501)
        with state.lock:
            state.requests.append((request.method, request.path))
        status, headers, body = state.routes.get(
            (request.method, request.path), (404, {"Content-Type": "text/plain"}, b"no such stub")
        )
        return answer(status, body, headers)

    with serving(respond) as server:
        state.url = server.url
        yield state


# --- Closing figures --------------------------------------------------------------------------


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not FIGURES.scenarios and not FIGURES.faults_injected:
        return
    out = REPO_ROOT / "test-artifacts" / "reliability-summary.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(FIGURES.as_json(), indent=2) + "\n", encoding="utf-8")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES.scenarios and not FIGURES.faults_injected:
        return
    f = FIGURES
    outcomes = ", ".join(f"{k}={v}" for k, v in sorted(f.outcomes.items()))
    terminalreporter.write_line(
        f"reliability: {f.scenarios} scenarios, {f.faults_injected} faults injected, "
        f"{f.jobs_started} jobs and {f.backfills_started} backfills started; outcomes: {outcomes}"
        + (f"; soak: {f.soak}" if f.soak else "")
    )
