"""A handful of full ``dag.test()`` runs: faults on every operation, in both modes, end to end.

These complement the per-operation matrix (test_transient_faults.py), which drives the trigger and
the worker wait directly: here Airflow itself defers, resumes, retries and records the result.
"""

from __future__ import annotations

import pytest

from planasonix_provider.sandbox.testing import SandboxHandle
from tests.e2e.conftest import run_dag, xcom
from tests.lines import needs
from tests.reliability.conftest import FAST, FIGURES, TIMEOUT, Faults

pytestmark = pytest.mark.e2e


def only_job_id(sandbox: SandboxHandle, conn: str) -> str:
    assert sandbox.control.jobs_started(connection_id=conn) == 1
    from planasonix_provider.api import PlanasonixClient

    with PlanasonixClient(sandbox.base_url, sandbox.api_key) as api:
        (job,) = api.list_jobs(connection_id=conn)
    return job.id


def test_worker_mode_rides_out_faults_on_every_call(
    dag_sandbox: SandboxHandle, faults: Faults
) -> None:
    conn = "conn_rel_sync_worker_faults"
    dag_sandbox.control.set_scenario(conn, **FAST)
    faults.add(
        method="POST", path=f"/api/v1/connections/{conn}/sync", status=429, retry_after="1", count=1
    )
    faults.add(method="GET", path="/api/v1/jobs/job_*", status=503, count=2)
    faults.add(method="GET", path="/api/v1/jobs/*/results", status=502, count=1)
    _, tis = run_dag("rel_sync_worker_faults")
    assert tis["sync"].state == "success"
    assert xcom(tis["sync"])["job_id"] == only_job_id(dag_sandbox, conn)
    assert faults.unused() == []
    FIGURES.outcome("dag/worker/429+503x2+502", "success")


def test_deferrable_mode_rides_out_faults_on_every_call(
    dag_sandbox: SandboxHandle, faults: Faults
) -> None:
    conn = "conn_rel_sync_deferrable_faults"
    dag_sandbox.control.set_scenario(conn, **FAST)
    faults.add(method="POST", path=f"/api/v1/connections/{conn}/sync", latency=0.3, count=1)
    faults.add(method="GET", path="/api/v1/jobs/job_*", drop=True, count=1)
    faults.add(method="GET", path="/api/v1/jobs/job_*", status=504, count=1)
    faults.add(method="GET", path="/api/v1/jobs/*/results", latency=TIMEOUT + 0.5, count=1)
    _, tis = run_dag("rel_sync_deferrable_faults")
    assert tis["sync"].state == "success"
    assert xcom(tis["sync"])["job_id"] == only_job_id(dag_sandbox, conn)
    assert faults.unused() == []
    FIGURES.outcome("dag/deferrable/slow+drop+504+read-timeout", "success")


def test_backfill_deferrable_rides_out_faults(dag_sandbox: SandboxHandle, faults: Faults) -> None:
    conn = "conn_rel_backfill_deferrable_faults"
    dag_sandbox.control.set_scenario(conn, **FAST)
    faults.add(method="GET", path="/api/v1/backfills/bf_*", status=503, count=2)
    faults.add(method="GET", path="/api/v1/jobs/*/results", status=429, count=1)
    _, tis = run_dag("rel_backfill_deferrable_faults")
    assert tis["backfill"].state == "success"
    assert xcom(tis["backfill"])["status"] == "completed"
    assert faults.unused() == []
    FIGURES.outcome("dag/backfill-deferrable/503x2+429", "success")


# --- Nothing twice ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dag_id", "fault"),
    [
        ("rel_sync_deferrable_500_after", {"status": 500, "after": True}),
        ("rel_sync_worker_timeout_after", {"latency": TIMEOUT + 0.6, "after": True}),
    ],
    ids=["500-after-deferrable", "read-timeout-after-worker"],
)
def test_ambiguous_start_fails_clearly_and_starts_one_job(
    dag_sandbox: SandboxHandle,
    faults: Faults,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    dag_id: str,
    fault: dict[str, object],
) -> None:
    """The server created the job, then the answer was lost: the task must not start another."""
    conn = f"conn_{dag_id}"
    dag_sandbox.control.set_scenario(conn, **FAST)
    faults.add(method="POST", path=f"/api/v1/connections/{conn}/sync", count=1, **fault)
    _, tis = run_dag(dag_id)
    assert tis["sync"].state == "failed"
    assert dag_sandbox.control.jobs_started(connection_id=conn) == 1
    out, err = capfd.readouterr()
    logged = out + err + caplog.text
    assert "RequestMayHaveBeenProcessedError" in logged
    assert "a job may have started" in logged
    assert "It was not retried" in logged
    FIGURES.outcome(f"dag/{dag_id}", "failed clearly, one job")


@needs("task state store")
def test_airflow_retry_of_a_deferred_task_reattaches(
    dag_sandbox: SandboxHandle, faults: Faults
) -> None:
    """Try 1's trigger hits a 403 (not retried: an error event); try 2 reattaches to the job."""
    conn = "conn_rel_sync_deferrable_retry"
    dag_sandbox.control.set_scenario(conn, duration=1.0, queued_for=0.05)
    faults.add(method="GET", path="/api/v1/jobs/job_*", status=403, count=1)
    _, tis = run_dag("rel_sync_deferrable_retry")
    assert tis["sync"].state == "success"
    assert tis["sync"].try_number == 2
    assert xcom(tis["sync"])["job_id"] == only_job_id(dag_sandbox, conn)
    FIGURES.outcome("dag/deferrable-retry-after-403", "success, one job")
