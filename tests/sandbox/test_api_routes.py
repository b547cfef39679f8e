"""Every v1 route through the provider's own client, against the sandbox over TCP."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest
import yaml

from planasonix_provider.api import NotFoundError, PlanasonixClient
from planasonix_provider.sandbox.testing import SandboxHandle
from tests.sandbox.conftest import CONN, wait_for


def test_trigger_sync_answers_a_queued_job_that_echoes_the_request(
    client: PlanasonixClient,
) -> None:
    job = client.trigger_sync(
        CONN, pipeline_id="pl_01hqxyz", priority="high", metadata={"dag_run_id": "r1", "n": 3}
    )
    assert job.id.startswith("job_")
    assert job.status == "queued"
    assert job.type == "connection_sync"
    assert job.connection_id == CONN
    assert job.pipeline_id == "pl_01hqxyz"
    assert job.metadata == {"dag_run_id": "r1", "n": 3}
    assert job.created_at is not None and job.created_at.utcoffset() == timedelta(0)
    assert job.queued_at == job.created_at
    assert job.error is None


def test_raw_trigger_envelope_and_status_code(sandbox: SandboxHandle) -> None:
    response = httpx.post(
        f"{sandbox.base_url}/api/v1/connections/{CONN}/sync",
        headers={"Authorization": f"Bearer {sandbox.api_key}"},
    )
    assert response.status_code == 202
    body = response.json()
    assert set(body) == {"data"} and set(body["data"]) == {"job"}
    assert body["data"]["job"]["created_at"].endswith("Z")
    assert response.headers["x-request-id"].startswith("req_")


def test_job_runs_to_success_with_growing_metrics_then_results(
    sandbox: SandboxHandle, client: PlanasonixClient
) -> None:
    sandbox.control.set_scenario(CONN, duration=8.0, queued_for=0.5, rows=1000)
    job = client.trigger_sync(CONN)
    assert client.get_job_results(job.id) is None  # 409 means "not ready"
    running = wait_for(lambda: (j := client.get_job(job.id)).status == "running" and j)
    assert running.started_at is not None and running.finished_at is None
    seen = []
    while (current := client.get_job(job.id)).status == "running":
        assert current.metrics is not None
        seen.append(current.metrics.rows_extracted or 0)
        time.sleep(0.1)
    assert len(seen) >= 3 and seen == sorted(seen) and seen[-1] > seen[0]
    assert current.status == "succeeded"
    assert current.metrics is not None and current.metrics.rows_loaded == 2000
    assert current.duration_seconds == pytest.approx(0.8, abs=0.05)
    results = client.get_job_results(job.id)
    assert results is not None and results.status == "succeeded"
    assert [t.name for t in results.tables] == ["public.orders", "public.order_items"]
    assert all(t.rows_loaded == 1000 for t in results.tables)
    assert all(t.checksum and t.checksum.startswith("sha256:") for t in results.tables)
    assert len(results.tables[0].checksum or "") == len("sha256:") + 64


def test_results_409_uses_the_error_envelope(sandbox: SandboxHandle) -> None:
    sandbox.control.set_scenario(CONN, duration=50)
    headers = {"Authorization": f"Bearer {sandbox.api_key}"}
    job = httpx.post(f"{sandbox.base_url}/api/v1/connections/{CONN}/sync", headers=headers)
    job_id = job.json()["data"]["job"]["id"]
    response = httpx.get(f"{sandbox.base_url}/api/v1/jobs/{job_id}/results", headers=headers)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "job_not_finished"


def test_cancel_mid_run_then_idempotent_on_terminal(
    sandbox: SandboxHandle, client: PlanasonixClient
) -> None:
    sandbox.control.set_scenario(CONN, duration=50, queued_for=0)
    job = client.trigger_sync(CONN)
    wait_for(lambda: client.get_job(job.id).status == "running")
    cancelling = client.cancel_job(job.id)
    assert cancelling.status == "cancelling"
    assert cancelling.cancel_requested_at is not None
    done = wait_for(lambda: (j := client.get_job(job.id)).status == "cancelled" and j)
    assert done.finished_at is not None
    again = client.cancel_job(job.id)
    assert again.status == "cancelled"
    assert again.cancel_requested_at == cancelling.cancel_requested_at
    results = client.get_job_results(job.id)
    assert results is not None and results.status == "cancelled" and results.tables == []


def test_cancel_of_a_succeeded_job_returns_it_unchanged(client: PlanasonixClient) -> None:
    job = client.trigger_sync(CONN)
    wait_for(lambda: client.get_job(job.id).status == "succeeded")
    after = client.cancel_job(job.id)
    assert after.status == "succeeded" and after.cancel_requested_at is None


def test_list_jobs_filters(sandbox: SandboxHandle, client: PlanasonixClient) -> None:
    before = datetime.now(timezone.utc) - timedelta(seconds=1)
    for conn in ("conn_a", "conn_b"):  # queued long enough for the status filter to see it
        sandbox.control.set_scenario(conn, queued_for=5.0)
    a = client.trigger_sync("conn_a", pipeline_id="pl_a")
    b = client.trigger_sync("conn_b", pipeline_id="pl_b")
    bf = client.trigger_backfill(
        "conn_c",
        start_at=datetime(2025, 1, 1, tzinfo=timezone.utc),
        end_at=datetime(2025, 1, 10, tzinfo=timezone.utc),
    )
    assert [j.id for j in client.list_jobs(connection_id="conn_a")] == [a.id]
    assert [j.id for j in client.list_jobs(pipeline_id="pl_b")] == [b.id]
    assert [j.id for j in client.list_jobs(type="backfill")] == bf.job_ids
    assert {j.id for j in client.list_jobs(type="connection_sync")} == {a.id, b.id}
    assert {j.id for j in client.list_jobs(status="queued")} >= {a.id, b.id}
    wait_for(lambda: client.get_job(a.id).status == "succeeded")
    assert a.id in {j.id for j in client.list_jobs(status="succeeded")}
    assert len(list(client.list_jobs(since=before))) == 3
    assert list(client.list_jobs(until=before)) == []
    future = datetime.now(timezone.utc) + timedelta(hours=1)
    assert list(client.list_jobs(since=future)) == []


def test_list_jobs_paginates_over_several_pages(client: PlanasonixClient) -> None:
    ids = [client.trigger_sync("conn_pages").id for _ in range(7)]
    listed = [j.id for j in client.list_jobs(connection_id="conn_pages", page_size=3)]
    assert listed == list(reversed(ids))  # newest first, no gaps, no repeats


def test_list_jobs_raw_page_meta(sandbox: SandboxHandle, client: PlanasonixClient) -> None:
    for _ in range(3):
        client.trigger_sync(CONN)
    headers = {"Authorization": f"Bearer {sandbox.api_key}"}
    first = httpx.get(f"{sandbox.base_url}/api/v1/jobs?limit=2", headers=headers).json()
    assert first["meta"]["page"]["limit"] == 2 and len(first["data"]) == 2
    cursor = first["meta"]["page"]["cursor"]
    second = httpx.get(
        f"{sandbox.base_url}/api/v1/jobs", params={"limit": 2, "cursor": cursor}, headers=headers
    ).json()
    assert len(second["data"]) == 1 and second["meta"]["page"]["cursor"] is None
    default = httpx.get(f"{sandbox.base_url}/api/v1/jobs", headers=headers).json()
    assert default["meta"]["page"] == {"limit": 50, "cursor": None}


def test_backfills_list_get_and_filters(client: PlanasonixClient) -> None:
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    one = client.trigger_backfill(
        "conn_a", start_at=start, end_at=start + timedelta(days=60), metadata={"reason": "x"}
    )
    two = client.trigger_backfill("conn_b", start_at=start, end_at=start + timedelta(days=1))
    assert one.id.startswith("bf_") and one.status in ("queued", "running")
    assert one.start_at == start and one.metadata == {"reason": "x"}
    assert [b.id for b in client.list_backfills()] == [two.id, one.id]
    assert [b.id for b in client.list_backfills(connection_id="conn_b")] == [two.id]
    got = client.get_backfill(one.id)
    assert got.job_ids == one.job_ids and len(got.job_ids) == 2
    wait_for(lambda: client.get_backfill(two.id).status == "completed")
    assert [b.id for b in client.list_backfills(status="completed")] == [two.id]


def test_unknown_ids_are_404(client: PlanasonixClient) -> None:
    for call in (
        lambda: client.get_job("job_nope"),
        lambda: client.get_backfill("bf_nope"),
        lambda: client.cancel_job("job_nope"),
        lambda: client.get_job_results("job_nope"),
        lambda: client.get_webhook("wh_nope"),
    ):
        with pytest.raises(NotFoundError):
            call()


def test_openapi_spec_through_the_client(sandbox: SandboxHandle, client: PlanasonixClient) -> None:
    text = client.get_openapi_spec()
    spec = yaml.safe_load(text)
    assert spec["openapi"].startswith("3.1")
    assert "/api/v1/jobs/{jobId}" in spec["paths"]
    assert not any(p.startswith("/_sandbox") for p in spec["paths"])
    raw = httpx.get(
        f"{sandbox.base_url}/api/v1/openapi.yaml",
        headers={"Authorization": f"Bearer {sandbox.api_key}"},
    )
    assert raw.headers["content-type"].startswith("application/yaml")


@pytest.mark.parametrize("path", ["/api/v1/jobs", "/api/v1/openapi.yaml", "/_sandbox/counters"])
@pytest.mark.parametrize("auth", [None, "Bearer wrong", "Basic abc", "bearer"])
def test_auth_is_required_everywhere(sandbox: SandboxHandle, path: str, auth: str | None) -> None:
    headers = {"Authorization": auth} if auth else {}
    response = httpx.get(sandbox.base_url + path, headers=headers)
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "unauthorized" and error["request_id"].startswith("req_")
    assert sandbox.api_key not in response.text


def test_handle_repr_hides_the_key(sandbox: SandboxHandle) -> None:
    assert sandbox.api_key not in repr(sandbox)
    assert sandbox.api_key in sandbox.airflow_conn_json
