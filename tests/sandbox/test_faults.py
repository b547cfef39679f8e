"""Injected faults: statuses with counts, Retry-After, latency, drops, probability, after-mode."""

from __future__ import annotations

import time

import httpx
import pytest

from planasonix_provider.api import (
    PlanasonixClient,
    PlanasonixError,
    RateLimitedError,
    RetryPolicy,
)
from planasonix_provider.sandbox.testing import SandboxHandle, run_sandbox
from tests.sandbox.conftest import CONN, make_client


def _headers(handle: SandboxHandle) -> dict[str, str]:
    return {"Authorization": f"Bearer {handle.api_key}"}


def test_status_fault_with_count_is_retried_through(
    sandbox: SandboxHandle, client: PlanasonixClient
) -> None:
    job = client.trigger_sync(CONN)
    fault_id = sandbox.control.add_fault(method="GET", path="/api/v1/jobs/*", status=503, count=2)
    assert fault_id.startswith("flt_")
    assert sandbox.control.faults()[0]["remaining"] == 2
    assert client.get_job(job.id).id == job.id  # two 503s, then the real answer
    counters = sandbox.control.counters()
    assert counters["requests"]["GET /api/v1/jobs/{job_id}"] == 3
    assert sandbox.control.faults() == []


def test_status_fault_answers_the_envelope_without_processing(sandbox: SandboxHandle) -> None:
    sandbox.control.add_fault(method="POST", path="/api/v1/connections/*/sync", status=500)
    response = httpx.post(
        f"{sandbox.base_url}/api/v1/connections/{CONN}/sync", headers=_headers(sandbox)
    )
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "injected_fault"
    assert sandbox.control.jobs_started() == 0
    sandbox.control.clear_faults()
    assert sandbox.control.faults() == []


def test_retry_after_header(sandbox: SandboxHandle) -> None:
    sandbox.control.add_fault(path="/api/v1/jobs", status=429, retry_after="7", count=1)
    response = httpx.get(f"{sandbox.base_url}/api/v1/jobs", headers=_headers(sandbox))
    assert response.status_code == 429 and response.headers["retry-after"] == "7"
    with make_client(sandbox, retry=RetryPolicy(max_attempts=1)) as api:
        sandbox.control.add_fault(path="/api/v1/jobs", status=429, retry_after="2", count=1)
        with pytest.raises(RateLimitedError) as caught:
            list(api.list_jobs())
        assert caught.value.retry_after == 2


def test_latency_fault(sandbox: SandboxHandle) -> None:
    sandbox.control.add_fault(method="GET", path="/api/v1/jobs", latency=0.4, count=1)
    started = time.monotonic()
    slow = httpx.get(f"{sandbox.base_url}/api/v1/jobs", headers=_headers(sandbox))
    assert slow.status_code == 200 and time.monotonic() - started >= 0.4
    started = time.monotonic()
    httpx.get(f"{sandbox.base_url}/api/v1/jobs", headers=_headers(sandbox))
    assert time.monotonic() - started < 0.3


def test_drop_fault_closes_the_connection(sandbox: SandboxHandle) -> None:
    sandbox.control.add_fault(path="/api/v1/jobs", drop=True, count=1)
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        httpx.get(f"{sandbox.base_url}/api/v1/jobs", headers=_headers(sandbox))
    assert (
        httpx.get(f"{sandbox.base_url}/api/v1/jobs", headers=_headers(sandbox)).status_code == 200
    )


def test_faults_do_not_apply_to_the_control_plane(sandbox: SandboxHandle) -> None:
    sandbox.control.add_fault(method="*", path="*", status=503)
    assert sandbox.control.counters()["requests_total"] == 0
    response = httpx.get(f"{sandbox.base_url}/api/v1/jobs", headers=_headers(sandbox))
    assert response.status_code == 503


def _pattern(seed: int) -> list[int]:
    with run_sandbox(seed=seed) as handle:
        handle.control.add_fault(path="/api/v1/jobs", status=503, probability=0.5)
        return [
            httpx.get(f"{handle.base_url}/api/v1/jobs", headers=_headers(handle)).status_code
            for _ in range(24)
        ]


def test_probability_faults_follow_the_seed() -> None:
    first, again, other = _pattern(11), _pattern(11), _pattern(12)
    assert first == again
    assert 0 < first.count(503) < 24 and set(first) == {200, 503}
    assert first != other


def test_after_mode_500_creates_the_job_once(
    sandbox: SandboxHandle, client: PlanasonixClient
) -> None:
    sandbox.control.add_fault(
        method="POST", path="/api/v1/connections/*/sync", status=500, after=True, count=1
    )
    with pytest.raises(PlanasonixError) as caught:
        client.trigger_sync(CONN, metadata={"dag_run_id": "run-1"})
    assert "may" in str(caught.value).lower()
    assert sandbox.control.jobs_started(metadata_key="dag_run_id", metadata_value="run-1") == 1
    assert sandbox.control.jobs_started(connection_id=CONN) == 1
    assert len(list(client.list_jobs(connection_id=CONN))) == 1


def test_after_mode_drop_creates_the_job_but_loses_the_answer(sandbox: SandboxHandle) -> None:
    sandbox.control.add_fault(method="POST", path="/api/v1/connections/*", drop=True, after=True)
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        httpx.post(f"{sandbox.base_url}/api/v1/connections/{CONN}/sync", headers=_headers(sandbox))
    assert sandbox.control.jobs_started() == 1


def test_after_mode_latency_hits_a_client_read_timeout(sandbox: SandboxHandle) -> None:
    sandbox.control.add_fault(method="POST", latency=1.0, after=True, count=1)
    with make_client(sandbox, timeout=0.3) as api, pytest.raises(PlanasonixError):
        api.trigger_sync(CONN)
    assert sandbox.control.jobs_started() == 1


def test_invalid_fault_is_rejected(sandbox: SandboxHandle) -> None:
    with pytest.raises(httpx.HTTPStatusError) as caught:
        sandbox.control.add_fault(status=503, drop=True)
    assert caught.value.response.status_code == 400
    with pytest.raises(httpx.HTTPStatusError):
        sandbox.control.add_fault(nonsense=True)
