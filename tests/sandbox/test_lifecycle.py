"""Scenarios: failures, remote cancels, warnings; backfills sharding, progress and failure."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest

from planasonix_provider.api import PlanasonixClient
from planasonix_provider.sandbox.testing import SandboxHandle
from tests.sandbox.conftest import CONN, wait_for

START = datetime(2025, 1, 1, tzinfo=timezone.utc)


def test_fail_scenario_reports_error_code_and_message(
    sandbox: SandboxHandle, client: PlanasonixClient
) -> None:
    sandbox.control.set_scenario(
        "conn_bad", outcome="fail", duration=1, error_code="source_auth", error_message="denied"
    )
    job = client.trigger_sync("conn_bad")
    failed = wait_for(lambda: (j := client.get_job(job.id)).status == "failed" and j)
    assert failed.error is not None
    assert (failed.error.code, failed.error.message) == ("source_auth", "denied")
    assert failed.metrics is not None and 0 < (failed.metrics.rows_loaded or 0) < 2000
    results = client.get_job_results(job.id)
    assert results is not None and results.status == "failed" and results.tables == []


def test_remote_cancel_scenario(sandbox: SandboxHandle, client: PlanasonixClient) -> None:
    sandbox.control.set_scenario("conn_c", outcome="cancel", duration=1)
    job = client.trigger_sync("conn_c")
    done = wait_for(lambda: (j := client.get_job(job.id)).status == "cancelled" and j)
    assert done.error is None and done.cancel_requested_at is None
    assert done.finished_at is not None


def test_warnings_and_custom_tables_reach_the_results(
    sandbox: SandboxHandle, client: PlanasonixClient
) -> None:
    warning = {"code": "column_type_widened", "message": "discount_pct widened"}
    sandbox.control.set_scenario(
        "conn_w", duration=0.5, rows=5, tables=["s.t1", "s.t2", "s.t3"], warnings=[warning]
    )
    assert sandbox.control.scenarios()["conn_w"]["rows"] == 5
    job = client.trigger_sync("conn_w")
    results = wait_for(lambda: client.get_job_results(job.id))
    assert [t.name for t in results.tables] == ["s.t1", "s.t2", "s.t3"]
    assert [t.rows_loaded for t in results.tables] == [5, 5, 5]
    assert [(w.code, w.message) for w in results.warnings] == [
        ("column_type_widened", "discount_pct widened")
    ]
    sandbox.control.clear_scenario("conn_w")
    assert "conn_w" not in sandbox.control.scenarios()


def test_queued_job_cancelled_before_it_starts_never_starts(
    sandbox: SandboxHandle, client: PlanasonixClient
) -> None:
    sandbox.control.set_scenario(CONN, queued_for=50)
    job = client.trigger_sync(CONN)
    assert client.cancel_job(job.id).status == "cancelling"
    done = wait_for(lambda: (j := client.get_job(job.id)).status == "cancelled" and j)
    assert done.started_at is None


@pytest.mark.parametrize(("days", "shards"), [(1, 1), (30, 1), (31, 2), (90, 3), (400, 5)])
def test_backfill_shards_one_job_per_30_days_at_most_5(
    client: PlanasonixClient, days: int, shards: int
) -> None:
    bf = client.trigger_backfill("conn_s", start_at=START, end_at=START + timedelta(days=days))
    assert len(bf.job_ids) == shards
    assert all(client.get_job(j).type == "backfill" for j in bf.job_ids)


def test_backfill_progresses_shard_by_shard_to_completion(
    sandbox: SandboxHandle, client: PlanasonixClient
) -> None:
    sandbox.control.set_scenario("conn_bf", duration=3, queued_for=0, rows=100)
    bf = client.trigger_backfill(
        "conn_bf", start_at=START, end_at=START + timedelta(days=90), tables=["a.b"]
    )
    assert bf.progress_percent == 0 and bf.rows_processed == 0
    progress: list[float] = []

    def finished() -> bool:
        current = client.get_backfill(bf.id)
        progress.append(current.progress_percent or 0.0)
        return current.status == "completed"

    wait_for(finished, interval=0.05)
    final = client.get_backfill(bf.id)
    assert final.progress_percent == 100 and final.rows_processed == 300
    assert final.error is None and final.tables == ["a.b"]
    assert progress == sorted(progress) and len(set(progress)) >= 3
    shard_jobs = [client.get_job(j) for j in final.job_ids]
    assert all(j.status == "succeeded" for j in shard_jobs)
    starts = [j.started_at for j in shard_jobs]
    assert starts == sorted(starts)  # sequential shards


def test_backfill_failure_sets_error(sandbox: SandboxHandle, client: PlanasonixClient) -> None:
    sandbox.control.set_scenario("conn_bff", outcome="fail", duration=1, error_code="boom")
    bf = client.trigger_backfill("conn_bff", start_at=START, end_at=START + timedelta(days=45))
    failed = wait_for(lambda: (b := client.get_backfill(bf.id)).status == "failed" and b)
    assert failed.error is not None and failed.error.code == "boom"
    assert 0 < (failed.progress_percent or 0) < 100
    assert client.get_job(bf.job_ids[0]).status == "succeeded"
    assert client.get_job(bf.job_ids[-1]).status == "failed"


def test_cancelling_a_shard_cancels_the_backfill(
    sandbox: SandboxHandle, client: PlanasonixClient
) -> None:
    sandbox.control.set_scenario("conn_bfc", duration=30, queued_for=0)
    bf = client.trigger_backfill("conn_bfc", start_at=START, end_at=START + timedelta(days=70))
    wait_for(lambda: client.get_job(bf.job_ids[0]).status == "running")
    client.cancel_job(bf.job_ids[0])
    done = wait_for(lambda: (b := client.get_backfill(bf.id)).status == "cancelled" and b)
    assert all(client.get_job(j).status == "cancelled" for j in done.job_ids)


def test_connections_restricted_by_config() -> None:
    from planasonix_provider.api import NotFoundError
    from planasonix_provider.sandbox.testing import run_sandbox
    from tests.sandbox.conftest import make_client

    config = {"connections": ["conn_only"], "scenarios": {"conn_only": {"duration": 0.1}}}
    with run_sandbox(speed=10, config=config) as handle, make_client(handle) as api:
        assert api.trigger_sync("conn_only").status == "queued"
        with pytest.raises(NotFoundError) as caught:
            api.trigger_sync("conn_other")
        assert caught.value.code == "connection_not_found"
        with pytest.raises(NotFoundError):
            api.trigger_backfill("conn_other", start_at=START, end_at=START + timedelta(days=1))
        assert handle.control.scenarios()["conn_only"]["duration"] == 0.1


def test_default_scenario_timings_at_speed_one() -> None:
    from planasonix_provider.sandbox.testing import run_sandbox

    with run_sandbox() as handle:
        headers = {"Authorization": f"Bearer {handle.api_key}"}
        job = httpx.post(f"{handle.base_url}/api/v1/connections/{CONN}/sync", headers=headers)
        internal = handle.control.get_internal_job(job.json()["data"]["job"]["id"])
        assert internal["start_at"] - internal["created"] == pytest.approx(0.2)
        assert internal["finish_at"] - internal["start_at"] == pytest.approx(2.0)
        assert len(internal["rows"]) == 2 and all(
            900 <= r <= 1100 for r in internal["rows"].values()
        )
