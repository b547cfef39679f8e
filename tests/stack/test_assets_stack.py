"""Asset events in a real deployment: a deferrable sync, finished through the triggerer, makes
the DAG scheduled on one of its tables run, and that DAG's task reads the rows from the event."""

from __future__ import annotations

from typing import Any

import pytest

from tests.stack.conftest import Stack, wait_until

pytestmark = [pytest.mark.stack, pytest.mark.timeout(600)]

CONSUMER = "stack_assets_consumer"


def asset_runs(stack: Stack) -> list[dict[str, Any]]:
    if stack.api.request("GET", f"/api/v2/dags/{CONSUMER}").status_code != 200:
        return []
    runs = stack.api.json("GET", f"/api/v2/dags/{CONSUMER}/dagRuns")["dag_runs"]
    return [run for run in runs if run["run_type"] == "asset_triggered"]


def test_a_deferrable_sync_runs_the_dag_scheduled_on_its_table(stack: Stack) -> None:
    stack.control.set_scenario("conn_stack_assets", duration=3, rows=321)
    # The consumer must be parsed (and so scheduled on the asset) before the event arrives.
    wait_until(
        f"{CONSUMER} to be parsed",
        lambda: stack.api.request("GET", f"/api/v2/dags/{CONSUMER}").status_code == 200,
        90,
    )
    assert asset_runs(stack) == []
    run_id = stack.api.trigger("stack_assets_producer")
    seen: list[str] = []
    sync = stack.api.wait_task(
        "stack_assets_producer", run_id, "sync", {"success", "failed"}, seen=seen
    )
    assert sync["state"] == "success", stack.diagnostics()
    assert "deferred" in seen, seen

    consumer_run = wait_until(
        f"an asset-triggered run of {CONSUMER}", lambda: asset_runs(stack), 120, 0.5
    )[0]
    ti = stack.api.wait_task(CONSUMER, consumer_run["dag_run_id"], "rows_loaded", {"success"})
    log = stack.api.log_text(CONSUMER, consumer_run["dag_run_id"], "rows_loaded", ti["try_number"])
    job_id = stack.api.json(
        "GET",
        f"/api/v2/dags/stack_assets_producer/dagRuns/{run_id}/taskInstances/sync/xcomEntries/"
        "planasonix_job_id",
    )["value"]
    assert f"Planasonix loaded 321 rows into public.orders (job {job_id})" in log, log[-3000:]
