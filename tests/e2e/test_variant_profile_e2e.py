"""The main operator scenarios in real Airflow against the sandbox's ``variant`` profile: string
errors, no metadata echo, results stubs, shards created over time without results (issue 13)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from planasonix_provider.api import PlanasonixClient
from planasonix_provider.sandbox.testing import SandboxHandle, run_sandbox
from tests.e2e.conftest import run_dag, xcom

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def variant_session() -> Iterator[SandboxHandle]:
    with run_sandbox(seed=13, speed=1.0, profile="variant") as handle:
        yield handle


@pytest.fixture
def variant(
    variant_session: SandboxHandle, airflow_db: None, monkeypatch: pytest.MonkeyPatch
) -> SandboxHandle:
    variant_session.control.clear_faults()
    monkeypatch.setenv("AIRFLOW_CONN_PLANASONIX_DEFAULT", variant_session.airflow_conn_json)
    return variant_session


@pytest.mark.parametrize("dag_id", ["e2e_sync_deferrable", "e2e_sync_worker"])
def test_a_sync_succeeds_without_metadata_echo(variant: SandboxHandle, dag_id: str) -> None:
    conn = f"conn_{dag_id}"
    variant.control.set_scenario(conn, duration=0.6, rows=500, tables=["public.orders"])
    _, tis = run_dag(dag_id)
    assert tis["sync"].state == "success"
    result = xcom(tis["sync"])
    assert result["status"] == "succeeded"
    assert [t["rows_loaded"] for t in result["tables"]] == [500]
    with PlanasonixClient(variant.base_url, variant.api_key) as api:
        (job,) = api.list_jobs(connection_id=conn)
    assert job.metadata is None


def test_a_failed_job_with_a_string_error_fails_the_task(variant: SandboxHandle) -> None:
    variant.control.set_scenario("conn_e2e_sync_failed", duration=0.3, outcome="fail")
    _, tis = run_dag("e2e_sync_failed")
    assert tis["sync"].state == "failed"


def test_a_backfill_whose_shards_have_no_results_succeeds(variant: SandboxHandle) -> None:
    variant.control.set_scenario("conn_e2e_backfill", duration=0.3, rows=100, queued_for=0)
    _, tis = run_dag("e2e_backfill")
    assert tis["backfill"].state == "success"
    summary = xcom(tis["backfill"])
    assert summary["status"] == "completed"
    assert len(summary["job_ids"]) >= 2  # created one after another
    assert summary["shards_reported"] == []
    assert summary["shards_without_results"] == summary["job_ids"]
    assert summary["tables"] == []


def test_a_sync_timeout_cancels_the_job(variant: SandboxHandle) -> None:
    variant.control.set_scenario("conn_e2e_sync_timeout_worker", duration=30)
    _, tis = run_dag("e2e_sync_timeout_worker")
    assert tis["sync"].state == "failed"
    with PlanasonixClient(variant.base_url, variant.api_key) as api:
        (job,) = api.list_jobs(connection_id="conn_e2e_sync_timeout_worker")
        assert api.get_job(job.id).status in ("cancelling", "cancelled")
