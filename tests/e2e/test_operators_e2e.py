"""The operators and the sensor in real Airflow (``dag.test()``) against the sandbox over TCP."""

from __future__ import annotations

import time

import pytest

from planasonix_provider.airflow_lines import has
from planasonix_provider.api import PlanasonixClient
from planasonix_provider.sandbox.testing import SandboxHandle
from tests.e2e.conftest import run_dag, xcom
from tests.lines import lacks, needs

pytestmark = pytest.mark.e2e


def client(sandbox: SandboxHandle) -> PlanasonixClient:
    return PlanasonixClient(sandbox.base_url, sandbox.api_key)


def only_job(sandbox: SandboxHandle, connection_id: str) -> dict:
    with client(sandbox) as api:
        jobs = list(api.list_jobs(connection_id=connection_id))
    assert len(jobs) == 1, [j.id for j in jobs]
    return jobs[0].model_dump(mode="json")


def test_deferrable_sync_succeeds_with_results_in_xcom(sandbox: SandboxHandle) -> None:
    conn = "conn_e2e_sync_deferrable"
    sandbox.control.set_scenario(conn, duration=0.6, rows=500, tables=["public.orders"])
    run, tis = run_dag("e2e_sync_deferrable")
    assert tis["sync"].state == "success"
    result = xcom(tis["sync"])
    job = only_job(sandbox, conn)
    assert result["job_id"] == job["id"]
    assert result["status"] == "succeeded"
    assert result["connection_id"] == conn
    assert result["tables"] == [
        {"name": "public.orders", "rows_loaded": 500, "checksum": result["tables"][0]["checksum"]}
    ]
    assert result["tables"][0]["checksum"].startswith("sha256:")
    assert result["warnings"] == []
    assert result["url"] == f"{sandbox.base_url}/jobs/{job['id']}"
    assert xcom(tis["sync"], "planasonix_job_id") == job["id"]
    assert xcom(tis["sync"], "planasonix_url") == result["url"]
    # The Airflow identity travels with the job, merged with the user's metadata.
    assert job["metadata"]["team"] == "sales"
    assert job["metadata"]["airflow_dag_id"] == "e2e_sync_deferrable"
    assert job["metadata"]["airflow_task_id"] == "sync"
    assert job["metadata"]["airflow_run_id"] == run.run_id
    assert job["metadata"]["airflow_try_number"] == 1


def test_worker_mode_sync_succeeds(sandbox: SandboxHandle) -> None:
    sandbox.control.set_scenario("conn_e2e_sync_worker", duration=0.6)
    _, tis = run_dag("e2e_sync_worker")
    assert tis["sync"].state == "success"
    assert xcom(tis["sync"])["status"] == "succeeded"
    assert sandbox.control.jobs_started(connection_id="conn_e2e_sync_worker") == 1


def test_failed_job_fails_the_task(sandbox: SandboxHandle) -> None:
    conn = "conn_e2e_sync_failed"
    sandbox.control.set_scenario(
        conn, duration=0.3, outcome="fail", error_code="source_unreachable", error_message="boom"
    )
    _, tis = run_dag("e2e_sync_failed")
    assert tis["sync"].state == "failed"
    assert only_job(sandbox, conn)["status"] == "failed"
    assert xcom(tis["sync"]) is None


def test_remotely_cancelled_job_is_never_a_success(sandbox: SandboxHandle) -> None:
    conn = "conn_e2e_sync_cancelled"
    sandbox.control.set_scenario(conn, duration=0.3, outcome="cancel")
    _, tis = run_dag("e2e_sync_cancelled")
    assert tis["sync"].state == "failed"
    assert only_job(sandbox, conn)["status"] == "cancelled"


@pytest.mark.parametrize("mode", ["deferrable", "worker"])
def test_timeout_cancels_the_job_and_fails(sandbox: SandboxHandle, mode: str) -> None:
    conn = f"conn_e2e_sync_timeout_{mode}"
    sandbox.control.set_scenario(conn, duration=30)
    started = time.monotonic()
    _, tis = run_dag(f"e2e_sync_timeout_{mode}")
    assert tis["sync"].state == "failed"
    assert time.monotonic() - started < 25  # the deadline ended the wait, not the job
    assert only_job(sandbox, conn)["status"] in ("cancelling", "cancelled")


def test_execution_timeout_in_worker_mode_cancels_the_job(sandbox: SandboxHandle) -> None:
    conn = "conn_e2e_sync_execution_timeout"
    sandbox.control.set_scenario(conn, duration=30)
    _, tis = run_dag("e2e_sync_execution_timeout")
    assert tis["sync"].state == "failed"
    assert only_job(sandbox, conn)["status"] in ("cancelling", "cancelled")


def test_warnings_are_returned_and_logged(sandbox: SandboxHandle) -> None:
    warning = {"code": "column_type_widened", "message": "discount_pct widened"}
    sandbox.control.set_scenario("conn_e2e_sync_warnings", duration=0.3, warnings=[warning])
    _, tis = run_dag("e2e_sync_warnings")
    assert tis["sync"].state == "success"
    assert xcom(tis["sync"])["warnings"] == [warning]


def test_fail_on_warnings_fails_the_task(sandbox: SandboxHandle) -> None:
    warning = {"code": "rows_skipped", "message": "3 rows skipped"}
    sandbox.control.set_scenario("conn_e2e_sync_fail_on_warnings", duration=0.3, warnings=[warning])
    _, tis = run_dag("e2e_sync_fail_on_warnings")
    assert tis["sync"].state == "failed"


def test_no_wait_returns_the_job_at_once(sandbox: SandboxHandle) -> None:
    sandbox.control.set_scenario("conn_e2e_sync_no_wait", duration=30)
    _, tis = run_dag("e2e_sync_no_wait")
    assert tis["sync"].state == "success"
    result = xcom(tis["sync"])
    assert result["status"] in ("queued", "running")
    assert (result["tables"], result["warnings"]) == ([], [])
    with client(sandbox) as api:
        api.cancel_job(result["job_id"])


def _fail_first_poll_once(sandbox: SandboxHandle, conn: str) -> None:
    """The first try's first poll gets a 403, which is not retried: that try fails after the job
    was started, and Airflow retries the task."""
    sandbox.control.set_scenario(conn, duration=2.0)
    sandbox.control.add_fault(method="GET", path="/api/v1/jobs/job_*", status=403, count=1)


@needs("task state store")
def test_retry_reattaches_to_the_job_of_the_first_try(sandbox: SandboxHandle) -> None:
    conn = "conn_e2e_sync_retry"
    _fail_first_poll_once(sandbox, conn)
    _, tis = run_dag("e2e_sync_retry")
    assert tis["sync"].state == "success"
    assert tis["sync"].try_number == 2
    assert sandbox.control.jobs_started(connection_id=conn) == 1
    assert xcom(tis["sync"])["job_id"] == only_job(sandbox, conn)["id"]


@lacks("task state store")
def test_without_a_state_store_a_retry_starts_a_new_job_and_says_so(
    sandbox: SandboxHandle, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    conn = "conn_e2e_sync_retry"
    _fail_first_poll_once(sandbox, conn)
    _, tis = run_dag("e2e_sync_retry")
    assert tis["sync"].state == "success"
    assert tis["sync"].try_number == 2
    assert sandbox.control.jobs_started(connection_id=conn) == 2
    out, err = capfd.readouterr()
    logged = out + err + caplog.text
    assert "has no task state store (Airflow 3.3.0+)" in logged
    assert "This retry starts a new Planasonix job" in logged


def test_reattach_on_retry_finds_the_only_running_job_on_every_line(
    sandbox: SandboxHandle, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """Below 3.3 by searching the job list, on 3.3+ through the task state store: one job."""
    conn = "conn_e2e_sync_retry_reattach"
    _fail_first_poll_once(sandbox, conn)
    _, tis = run_dag("e2e_sync_retry_reattach")
    assert tis["sync"].state == "success"
    assert tis["sync"].try_number == 2
    assert sandbox.control.jobs_started(connection_id=conn) == 1
    job = only_job(sandbox, conn)
    assert xcom(tis["sync"])["job_id"] == job["id"]
    out, err = capfd.readouterr()
    logged = out + err + caplog.text
    assert f"Reattaching to Planasonix job {job['id']}" in logged
    if not has("task state store"):
        assert "found by reattach_on_retry" in logged


def test_a_backfill_retry_reattaches_to_the_only_backfill_on_every_line(
    sandbox: SandboxHandle, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """Below 3.3 by listing the connection's backfills (not filtered by status), on 3.3+ through
    the task state store: one backfill."""
    conn = "conn_e2e_backfill_retry_reattach"
    sandbox.control.set_scenario(conn, duration=2.0, rows=10)
    sandbox.control.add_fault(method="GET", path="/api/v1/backfills/bf_*", status=403, count=1)
    _, tis = run_dag("e2e_backfill_retry_reattach")
    assert tis["backfill"].state == "success"
    assert tis["backfill"].try_number == 2
    with client(sandbox) as api:
        (backfill,) = api.list_backfills(connection_id=conn)
    assert xcom(tis["backfill"])["backfill_id"] == backfill.id
    out, err = capfd.readouterr()
    logged = out + err + caplog.text
    assert f"Reattaching to Planasonix backfill {backfill.id}" in logged
    if not has("task state store"):
        assert "found by reattach_on_retry" in logged


def test_backfill_succeeds_with_rows_aggregated_over_its_jobs(sandbox: SandboxHandle) -> None:
    sandbox.control.set_scenario("conn_e2e_backfill", duration=0.3, rows=100)
    _, tis = run_dag("e2e_backfill")
    assert tis["backfill"].state == "success"
    summary = xcom(tis["backfill"])
    assert summary["status"] == "completed"
    assert summary["start_at"] == "2025-01-01T00:00:00Z"
    assert len(summary["job_ids"]) >= 2
    assert summary["tables"] == [
        {"name": "public.orders", "rows_loaded": 100 * len(summary["job_ids"])}
    ]


def test_backfill_failure_fails_the_task(sandbox: SandboxHandle) -> None:
    sandbox.control.set_scenario("conn_e2e_backfill_failed", duration=0.3, outcome="fail")
    _, tis = run_dag("e2e_backfill_failed")
    assert tis["backfill"].state == "failed"
    with client(sandbox) as api:
        (backfill,) = api.list_backfills(connection_id="conn_e2e_backfill_failed")
    assert backfill.status == "failed"


@pytest.mark.parametrize("mode", ["poke", "deferrable"])
def test_sensor_waits_for_a_job_started_elsewhere(sandbox: SandboxHandle, mode: str) -> None:
    sandbox.control.set_scenario(f"conn_e2e_sensor_{mode}", duration=0.8)
    _, tis = run_dag(f"e2e_sensor_{mode}")
    assert tis["start"].state == "success"
    assert tis["wait"].state == "success"
    result = xcom(tis["wait"])
    # The sync operator's shape, results included, in either mode.
    assert result["status"] == "succeeded"
    assert result["job_id"] == xcom(tis["start"], "planasonix_job_id")
    assert result["tables"] and set(result) == set(xcom(tis["start"]))


@pytest.mark.parametrize("mode", ["poke", "deferrable"])
def test_sensor_soft_fail_skips_on_failure(sandbox: SandboxHandle, mode: str) -> None:
    sandbox.control.set_scenario(f"conn_e2e_sensor_{mode}_soft_fail", duration=0.3, outcome="fail")
    _, tis = run_dag(f"e2e_sensor_{mode}_soft_fail")
    assert tis["wait"].state == "skipped"


def test_sensor_fails_on_a_failed_job(sandbox: SandboxHandle) -> None:
    sandbox.control.set_scenario(
        "conn_e2e_sensor_deferrable_failed", duration=0.3, outcome="cancel"
    )
    _, tis = run_dag("e2e_sensor_deferrable_failed")
    assert tis["wait"].state == "failed"
