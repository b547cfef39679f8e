"""Answers that break the contract: each is a clear PlanasonixError or forward-compatible.

The sandbox never sends these, so the client is fed through ``httpx.MockTransport``, and the hook
and the trigger through a stub HTTP server on 127.0.0.1 (real TCP).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planasonix_provider.api import PlanasonixClient, RetryPolicy
from planasonix_provider.api import operations as ops
from planasonix_provider.api.errors import (
    PlanasonixError,
    ResponseParseError,
    ServerError,
)
from planasonix_provider.api.retry import Wait as RetryAfter
from planasonix_provider.api.retry import result_or_wait as outcome
from planasonix_provider.hooks.planasonix import PlanasonixHook
from planasonix_provider.triggers.planasonix import PlanasonixJobTrigger
from tests.reliability.conftest import FIGURES, StubAPI, conn_json, run_trigger

JOB = {
    "id": "job_1",
    "type": "connection_sync",
    "status": "succeeded",
    "connection_id": "conn_1",
    "created_at": "2025-01-01T00:00:00Z",
}
HTML = "<html><head><title>502 Bad Gateway</title></head><body><h1>nginx</h1></body></html>"
HUGE = 6 * 1024 * 1024

#: name -> (HTTP status, body, content type, what the error must say; None: it must parse)
MALFORMED: dict[str, tuple[int, Any, str, str | None]] = {
    "not-json": (200, "hello, world", "text/plain", "not JSON"),
    "html-200": (200, HTML, "text/html", "not JSON: (text/html)"),
    "html-502": (502, HTML, "text/html", "no error envelope in the response: (text/html)"),
    "empty-200": (200, b"", "application/json", "empty body, expected JSON"),
    "json-null": (200, "null", "application/json", "body: Input should be an object"),
    "no-envelope": (200, JOB, "application/json", "data: Field required"),
    "missing-id": (200, {"data": {"status": "running"}}, "application/json", "data.id"),
    "missing-status": (200, {"data": {"id": "job_1"}}, "application/json", "data.status"),
    "wrong-types": (200, {"data": {"id": 5, "status": []}}, "application/json", "data.id"),
    "bad-timestamp": (
        200,
        {"data": {**JOB, "created_at": "yesterday"}},
        "application/json",
        "data.created_at",
    ),
    "naive-timestamp": (
        200,
        {"data": {**JOB, "created_at": "2025-01-01T00:00:00"}},
        "application/json",
        "data.created_at",
    ),
    "unknown-fields": (
        200,
        {"data": {**JOB, "shiny_new_field": {"x": 1}}, "meta": {"v": 2}},
        "application/json",
        None,
    ),
    "unknown-status": (200, {"data": {**JOB, "status": "paused"}}, "application/json", None),
    "huge-unknown-field": (
        200,
        {"data": {**JOB, "log": "x" * HUGE}},
        "application/json",
        None,
    ),
    "huge-html": (200, "<p>" + "y" * HUGE, "text/html", "not JSON: (text/html)"),
}


def body_bytes(body: Any) -> bytes:
    if isinstance(body, bytes):
        return body
    return body.encode() if isinstance(body, str) else json.dumps(body).encode()


def mock_client(status: int, body: Any, content_type: str) -> PlanasonixClient:
    raw = body_bytes(body)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=raw, headers={"Content-Type": content_type})

    return PlanasonixClient(
        "https://api.example.test",
        "pnx_test_key_abcdef",
        transport=httpx.MockTransport(handler),
        retry=RetryPolicy(max_attempts=2, max_wait=0.0),
        sleep=lambda _: None,
    )


@pytest.mark.parametrize("name", MALFORMED)
def test_client_get_job(name: str) -> None:
    status, body, content_type, expected = MALFORMED[name]
    with mock_client(status, body, content_type) as api:
        if expected is None:
            job = api.get_job("job_1")
            assert job.id == "job_1"
            assert job.model_extra is not None or job.status == "paused"
        else:
            with pytest.raises(PlanasonixError) as caught:
                api.get_job("job_1")
            message = str(caught.value)
            assert expected in message, message
            assert "get_job (GET /api/v1/jobs/job_1)" in message
            assert len(message) < 1000  # a huge body is quoted as an excerpt only
    FIGURES.outcome(f"malformed/client/{name}", "parsed" if expected is None else "clear error")


def test_unknown_fields_are_kept() -> None:
    _, body, content_type, _ = MALFORMED["unknown-fields"]
    with mock_client(200, body, content_type) as api:
        job = api.get_job("job_1")
    assert job.model_extra == {"shiny_new_field": {"x": 1}}


@pytest.mark.parametrize(
    ("operation", "body", "expected"),
    [
        (lambda api: list(api.list_jobs()), {"data": {"not": "a list"}}, "data: Input should"),
        (lambda api: list(api.list_jobs()), {"data": [{"id": "j"}]}, "data.0.status"),
        (
            lambda api: list(api.list_jobs()),
            {"data": [], "meta": {"page": {"cursor": 5}}},
            "meta.page.cursor",
        ),
        (lambda api: api.get_job_results("job_1"), {"data": {"job_id": "j"}}, "data.status"),
        (
            lambda api: api.get_job_results("job_1"),
            {"data": {"job_id": "j", "status": "succeeded", "tables": [{"rows_loaded": 1}]}},
            "data.tables.0.name",
        ),
        (lambda api: api.trigger_sync("c"), {"data": JOB}, "data.job: Field required"),
        (lambda api: api.get_backfill("b"), {"data": {"id": "b", "job_ids": "x"}}, "data.status"),
    ],
    ids=[
        "list-not-a-list",
        "list-item-no-status",
        "list-bad-cursor",
        "results-no-status",
        "results-table-no-name",
        "sync-no-holder",
        "backfill-bad",
    ],
)
def test_client_other_operations(operation: Any, body: Any, expected: str) -> None:
    with mock_client(200, body, "application/json") as api, pytest.raises(ResponseParseError) as c:
        operation(api)
    assert expected in str(c.value)


def test_results_stub_that_is_not_terminal_means_not_ready() -> None:
    body = {"data": {"job_id": "job_1", "status": "running"}}
    with mock_client(200, body, "application/json") as api:
        assert api.get_job_results("job_1") is None
    with mock_client(409, {"error": {"code": "not_ready", "message": "m"}}, "x/y") as api:
        assert api.get_job_results("job_1") is None


# --- Property-based: any JSON body, any status, never anything but a PlanasonixError ---------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
job_like = st.fixed_dictionaries(
    {},
    optional={
        "id": json_values,
        "status": st.sampled_from(["queued", "running", "succeeded", "zzz"]) | json_values,
        "created_at": st.sampled_from(["2025-01-01T00:00:00Z", "2025-01-01", "x"]) | json_values,
        "metrics": json_values,
        "error": json_values,
        "metadata": json_values,
        "job_id": json_values,
        "tables": json_values,
        "warnings": json_values,
        "job_ids": json_values,
        "job": json_values,
    },
)
bodies = (
    json_values
    | st.builds(lambda d: {"data": d}, json_values | job_like)
    | st.builds(lambda d: {"data": {"job": d}}, job_like)
    | st.builds(lambda d, m: {"data": [d], "meta": m}, job_like, json_values)
    | st.builds(lambda e: {"error": e}, json_values | job_like)
)
OPERATIONS = [
    ops.get_job("job_1"),
    ops.list_jobs_page(),
    ops.get_job_results("job_1"),
    ops.trigger_sync("conn_1"),
    ops.get_backfill("bf_1"),
    ops.cancel_job("job_1"),
]
STATUSES = [200, 201, 202, 400, 401, 403, 404, 409, 422, 429, 500, 502, 503, 504, 418]


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    body=bodies,
    status=st.sampled_from(STATUSES),
    operation=st.sampled_from(OPERATIONS),
    retry_after=st.none() | st.text(max_size=30),
)
def test_any_json_body_gives_a_result_or_a_planasonix_error(
    body: Any, status: int, operation: Any, retry_after: str | None
) -> None:
    headers = {"Content-Type": "application/json"}
    if retry_after is not None and retry_after.isprintable() and retry_after.isascii():
        headers["Retry-After"] = retry_after
    response = httpx.Response(status, content=json.dumps(body).encode(), headers=headers)
    try:
        result = outcome(operation, response, RetryPolicy(max_attempts=2, max_wait=1.0), 1)
    except PlanasonixError as exc:
        message = str(exc)
    else:
        message = "ok"
        assert not isinstance(result, RetryAfter) or 0 <= result.delay <= 1.0
    assert message


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(raw=st.binary(max_size=200), status=st.sampled_from(STATUSES))
def test_any_bytes_give_a_result_or_a_planasonix_error(raw: bytes, status: int) -> None:
    response = httpx.Response(status, content=raw)
    for operation in OPERATIONS:
        with contextlib.suppress(PlanasonixError):
            outcome(operation, response, RetryPolicy(max_attempts=1), 1)


# --- Over TCP: the hook and the trigger against a stub server ---------------------------------


@pytest.fixture
def stub_conn(stub_api: StubAPI, monkeypatch: pytest.MonkeyPatch) -> StubAPI:
    monkeypatch.setenv(
        "AIRFLOW_CONN_PLANASONIX_STUB",
        conn_json(stub_api.url, "pnx_stub_key_abcdef", timeout=5, retry_attempts=1),
    )
    return stub_api


@pytest.mark.parametrize("name", MALFORMED)
async def test_trigger_and_hook_over_tcp(stub_conn: StubAPI, name: str) -> None:
    status, body, content_type, expected = MALFORMED[name]
    stub_conn.answer("GET", "/api/v1/jobs/job_1", status, body, content_type)
    stub_conn.answer("POST", "/api/v1/jobs/job_1/cancel", 200, {"data": JOB})
    deadline = time.time() + 1.0
    trigger = PlanasonixJobTrigger(
        "job_1", planasonix_conn_id="planasonix_stub", poll_interval=0.05, deadline=deadline
    )
    payload = await run_trigger(trigger, timeout=30)
    hook = PlanasonixHook("planasonix_stub")
    try:
        if expected is None:
            assert payload["status"] in ("success", "timeout")  # unknown status: the deadline
            assert hook.client.get_job("job_1").id == "job_1"
        else:
            assert payload["status"] == "error"
            assert expected in payload["message"]
            if status >= 500:  # transient: polled on, then gave up
                assert "gave up after 5 failed polls" in payload["message"]
            with pytest.raises(ServerError if status >= 500 else ResponseParseError) as caught:
                hook.client.get_job("job_1")
            assert expected in str(caught.value)
    finally:
        hook.client.close()
    FIGURES.outcome(f"malformed/tcp/{name}", payload["status"])


async def test_unknown_status_keeps_waiting_logged_once_until_the_deadline(
    stub_conn: StubAPI, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    stub_conn.answer("GET", "/api/v1/jobs/job_1", 200, {"data": {**JOB, "status": "hibernating"}})
    stub_conn.answer("POST", "/api/v1/jobs/job_1/cancel", 200, {"data": JOB})
    started = time.monotonic()
    trigger = PlanasonixJobTrigger(
        "job_1", planasonix_conn_id="planasonix_stub", poll_interval=0.05, deadline=time.time() + 1
    )
    with caplog.at_level(logging.INFO):
        payload = await run_trigger(trigger, timeout=30)
    assert payload["status"] == "timeout"
    assert "resource" not in payload  # the event stays small (docs/trigger.md)
    assert 0.9 <= time.monotonic() - started < 5
    polls = stub_conn.count("GET", "/api/v1/jobs/job_1")
    assert polls >= 5
    out, err = capfd.readouterr()
    # Airflow's structlog writes to stdout (3.1+); 3.0's stdlib logger reaches both sinks.
    logged = out + err + caplog.text
    line = "has status 'hibernating', unknown to this provider"
    assert max(out.count(line) + err.count(line), caplog.text.count(line)) == 1, logged
    assert stub_conn.count("POST", "/api/v1/jobs/job_1/cancel") == 1  # the deadline cancels
    FIGURES.outcome("unknown-status", "waited until the deadline")
