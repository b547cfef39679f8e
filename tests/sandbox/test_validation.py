"""Every bad request is a 400 (or 404/405/413) with the error envelope, never a 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from planasonix_provider.sandbox.testing import SandboxHandle
from tests.sandbox.conftest import CONN

SYNC = f"/api/v1/connections/{CONN}/sync"
BACKFILL = f"/api/v1/connections/{CONN}/backfill"
GOOD_WINDOW = {"start_at": "2025-01-01T00:00:00Z", "end_at": "2025-03-01T00:00:00Z"}

CASES: list[tuple[str, str, dict[str, Any], int, str]] = [
    (
        "POST",
        BACKFILL,
        {"json": {**GOOD_WINDOW, "start_at": "2025-01-01T00:00:00"}},
        400,
        "start_at",
    ),
    ("POST", BACKFILL, {"json": {**GOOD_WINDOW, "end_at": "2024-12-31T00:00:00Z"}}, 400, "end_at"),
    ("POST", BACKFILL, {"json": {**GOOD_WINDOW, "end_at": GOOD_WINDOW["start_at"]}}, 400, "end_at"),
    ("POST", BACKFILL, {"json": {**GOOD_WINDOW, "priority": "urgent"}}, 400, "priority"),
    ("POST", BACKFILL, {"json": {"start_at": "2025-01-01T00:00:00Z"}}, 400, "end_at"),
    ("POST", BACKFILL, {}, 400, "body"),
    ("POST", SYNC, {"json": {"priority": "urgent"}}, 400, "priority"),
    ("POST", SYNC, {"json": {"pipeline_id": 123}}, 400, "pipeline_id"),
    ("POST", SYNC, {"json": {"metadata": {"a": {"nested": 1}}}}, 400, "metadata"),
    ("POST", SYNC, {"json": {"unexpected": 1}}, 400, "unexpected"),
    ("POST", SYNC, {"json": [1, 2]}, 400, "object"),
    (
        "POST",
        SYNC,
        {"content": b"{not json", "headers": {"content-type": "application/json"}},
        400,
        "JSON",
    ),
    (
        "POST",
        "/api/v1/webhooks",
        {"json": {"url": "https://x.io/h", "events": ["job.exploded"]}},
        400,
        "events",
    ),
    (
        "POST",
        "/api/v1/webhooks",
        {"json": {"url": "ftp://x.io/h", "events": ["job.failed"]}},
        400,
        "url",
    ),
    (
        "POST",
        "/api/v1/webhooks",
        {"json": {"url": "not a url", "events": ["job.failed"]}},
        400,
        "url",
    ),
    ("POST", "/api/v1/webhooks", {"json": {"url": "https://x.io/h", "events": []}}, 400, "events"),
    ("GET", "/api/v1/jobs", {"params": {"limit": "0"}}, 400, "limit"),
    ("GET", "/api/v1/jobs", {"params": {"limit": "101"}}, 400, "limit"),
    ("GET", "/api/v1/jobs", {"params": {"limit": "abc"}}, 400, "limit"),
    ("GET", "/api/v1/backfills", {"params": {"limit": "-1"}}, 400, "limit"),
    ("GET", "/api/v1/jobs", {"params": {"cursor": "garbage!!"}}, 400, "cursor"),
    ("GET", "/api/v1/jobs", {"params": {"cursor": "eyJ4IjoxfQ"}}, 400, "cursor"),
    ("GET", "/api/v1/webhooks", {"params": {"cursor": "%%%"}}, 400, "cursor"),
    ("GET", "/api/v1/jobs", {"params": {"since": "2025-01-01T00:00:00"}}, 400, "since"),
    ("GET", "/api/v1/jobs", {"params": {"until": "yesterday"}}, 400, "until"),
    ("GET", "/api/v1/nothing-here", {}, 404, "no such route"),
    ("GET", "/elsewhere", {}, 404, "no such route"),
    ("DELETE", "/api/v1/jobs", {}, 405, "not allowed"),
    ("PUT", SYNC, {}, 405, "not allowed"),
    ("POST", SYNC, {"content": b"{" + b" " * (1024 * 1024 + 10) + b"}"}, 413, "bytes"),
]


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "needle"), CASES)
def test_bad_requests_answer_the_envelope(
    sandbox: SandboxHandle,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    status: int,
    needle: str,
) -> None:
    headers = {"Authorization": f"Bearer {sandbox.api_key}", **kwargs.pop("headers", {})}
    response = httpx.request(method, sandbox.base_url + path, headers=headers, **kwargs)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"code", "message", "request_id"}
    assert needle.lower() in error["message"].lower()
    assert error["request_id"].startswith("req_")
    assert "Traceback" not in response.text


def test_chunked_oversized_body_is_413(sandbox: SandboxHandle) -> None:
    def chunks() -> Any:
        for _ in range(20):
            yield b" " * 100_000

    response = httpx.post(
        sandbox.base_url + SYNC,
        headers={"Authorization": f"Bearer {sandbox.api_key}"},
        content=chunks(),
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_invalid_bodies_create_nothing(sandbox: SandboxHandle) -> None:
    headers = {"Authorization": f"Bearer {sandbox.api_key}"}
    httpx.post(sandbox.base_url + SYNC, headers=headers, json={"priority": "urgent"})
    assert sandbox.control.jobs_started() == 0
    ok = httpx.post(sandbox.base_url + SYNC, headers=headers, json={"priority": "low"})
    assert ok.status_code == 202 and sandbox.control.jobs_started() == 1
