"""OpenLineage from the operators in real Airflow: ``airflow dags test`` with the OpenLineage
provider's file transport, against the sandbox over TCP.

A subprocess, because the OpenLineage listener reads its transport when Airflow loads plugins,
once per process. The subprocess imports this tree's package (``PYTHONPATH``), not whatever
checkout the venv was installed from.

The Planasonix work is a child run of the task: its START and COMPLETE (or FAIL) events, with
the Planasonix job type, the task run as parent and the tables as outputs; the task's own events
keep the Planasonix id and no datasets.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from planasonix_provider.sandbox.testing import SandboxHandle

pytest.importorskip(
    "airflow.providers.openlineage",
    reason="the OpenLineage provider is not installed (the openlineage extra; Python >= 3.11)",
)

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
TABLES = ["public.orders", "public.customers"]
DESTINATION = "postgres://warehouse:5432"
SOURCE = "mysql://shop:3306"
NAMESPACE = "e2e"


def run_with_lineage(
    dag_id: str, tmp_path: Path, sandbox: SandboxHandle, task_id: str = "sync"
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``airflow dags test`` one DAG; return the OpenLineage events of its task ``task_id`` and
    those of the Planasonix child runs under it, in the order they were written."""
    events_file = tmp_path / "openlineage.jsonl"
    conn = json.dumps(
        {
            "conn_type": "planasonix",
            "host": sandbox.base_url,
            "password": sandbox.api_key,
            "extra": {
                "lineage_source_namespace": SOURCE,
                "lineage_destination_namespace": DESTINATION,
            },
        }
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(
            os.pathsep
        ),
        "AIRFLOW_CONN_PLANASONIX_DEFAULT": conn,
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(events_file), "append": True}
        ),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": NAMESPACE,
    }
    done = subprocess.run(
        [str(Path(sys.executable).parent / "airflow"), "dags", "test", dag_id],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert events_file.exists(), f"the OpenLineage file transport wrote nothing:\n{done.stderr}"
    events = [json.loads(line) for line in events_file.read_text().splitlines() if line.strip()]
    task_job = f"{dag_id}.{task_id}"
    task = [e for e in events if e["job"]["name"] == task_job]
    children = [e for e in events if e["job"]["name"].startswith(f"{task_job}.planasonix_")]
    assert "could not emit the Planasonix" not in done.stdout + done.stderr
    return task, children


def request_delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {route: n - before.get(route, 0) for route, n in after.items() if n != before.get(route)}


def api_get(sandbox: SandboxHandle, path: str) -> dict[str, Any]:
    """A resource as the API shows it (after the request counters were read)."""
    response = httpx.get(
        f"{sandbox.base_url}/api/v1{path}",
        headers={"Authorization": f"Bearer {sandbox.api_key}"},
    )
    response.raise_for_status()
    data: dict[str, Any] = response.json()["data"]
    return data


def moment(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def assert_child_of(child: list[dict[str, Any]], task_event: dict[str, Any]) -> None:
    """Both child events name the task's run as parent, and the task's root as root."""
    assert len({e["run"]["runId"] for e in child}) == 1
    task_parent = task_event["run"]["facets"]["parent"]
    for event in child:
        assert event["job"]["namespace"] == NAMESPACE
        parent = event["run"]["facets"]["parent"]
        assert parent["run"]["runId"] == task_event["run"]["runId"]
        assert (parent["job"]["namespace"], parent["job"]["name"]) == (
            NAMESPACE,
            task_event["job"]["name"],
        )
        # The root is the DAG run: the task's own parent.
        assert parent["root"]["run"]["runId"] == task_parent["run"]["runId"]
        assert parent["root"]["job"]["name"] == task_parent["job"]["name"]


def job_type(event: dict[str, Any]) -> tuple[str, str, str]:
    facet = event["job"]["facets"]["jobType"]
    return facet["integration"], facet["jobType"], facet["processingType"]


def test_a_sync_is_a_child_run_with_its_tables(sandbox: SandboxHandle, tmp_path: Path) -> None:
    conn = "conn_e2e_lineage_sync"
    sandbox.control.set_scenario(conn, duration=0.4, rows=42, tables=TABLES)
    before = sandbox.control.counters()["requests"]
    task, child = run_with_lineage("e2e_lineage_sync", tmp_path, sandbox)
    after = sandbox.control.counters()["requests"]
    # Lineage is built from the results already fetched: no request beyond those of a sync.
    delta = request_delta(before, after)
    assert delta.pop("POST /api/v1/connections/{connection_id}/sync") == 1
    assert delta.pop("GET /api/v1/jobs/{job_id}/results") == 1
    assert set(delta) <= {"GET /api/v1/jobs/{job_id}"}, delta

    # The task: a START each time a deferrable task starts (before deferring, on resuming),
    # then COMPLETE with the Planasonix id and, since the child carries them, no datasets.
    assert {e["eventType"] for e in task[:-1]} == {"START"}
    complete = task[-1]
    assert complete["eventType"] == "COMPLETE"
    assert complete["outputs"] == [] and complete["inputs"] == []
    job_id = complete["run"]["facets"]["externalQuery"]["externalQueryId"]
    assert complete["run"]["facets"]["externalQuery"]["source"] == "planasonix"
    assert job_type(complete) == ("AIRFLOW", "TASK", "BATCH")  # the provider's, on the task

    # The child: START then COMPLETE, before the task's COMPLETE, timed by the job.
    assert [e["eventType"] for e in child] == ["START", "COMPLETE"]
    assert_child_of(child, complete)
    assert {e["job"]["name"] for e in child} == {f"e2e_lineage_sync.sync.planasonix_sync.{conn}"}
    assert {job_type(e) for e in child} == {("PLANASONIX", "SYNC", "BATCH")}
    for event in child:
        assert event["run"]["facets"]["externalQuery"] == {
            **event["run"]["facets"]["externalQuery"],
            "externalQueryId": job_id,
            "source": "planasonix",
        }
        assert "errorMessage" not in event["run"]["facets"]
    job = api_get(sandbox, f"/jobs/{job_id}")
    assert moment(child[0]["eventTime"]) == moment(job["started_at"])
    assert moment(child[1]["eventTime"]) == moment(job["finished_at"])
    assert child[0]["outputs"] == []
    outputs = {(o["namespace"], o["name"]): o for o in child[1]["outputs"]}
    assert set(outputs) == {(DESTINATION, t) for t in TABLES}
    for output in outputs.values():
        assert output["outputFacets"]["outputStatistics"]["rowCount"] == 42
    assert {(i["namespace"], i["name"]) for i in child[1]["inputs"]} == {
        (SOURCE, t) for t in TABLES
    }

    # Opt-in: the OpenLineage parent and root run ids travel in the job's metadata.
    metadata = sandbox.control.get_internal_job(job_id)["metadata"]
    assert metadata["openlineage_parent_run_id"] == complete["run"]["runId"]
    assert metadata["openlineage_parent_job_name"] == "e2e_lineage_sync.sync"
    assert metadata["openlineage_parent_job_namespace"] == NAMESPACE
    root = complete["run"]["facets"]["parent"]["root"]
    assert metadata["openlineage_root_run_id"] == root["run"]["runId"]
    assert metadata["openlineage_root_job_name"] == root["job"]["name"] == "e2e_lineage_sync"


def test_a_failed_sync_is_a_failed_child_run(sandbox: SandboxHandle, tmp_path: Path) -> None:
    conn = "conn_e2e_lineage_failed"
    sandbox.control.set_scenario(
        conn, duration=0.2, outcome="fail", error_code="source_unreachable", error_message="boom"
    )
    task, child = run_with_lineage("e2e_lineage_failed", tmp_path, sandbox)
    assert [e["eventType"] for e in task] == ["START", "FAIL"]
    failed = task[-1]
    assert "boom" in failed["run"]["facets"]["errorMessage"]["message"]
    job_id = failed["run"]["facets"]["externalQuery"]["externalQueryId"]
    assert failed["outputs"] == []

    assert [e["eventType"] for e in child] == ["START", "FAIL"]
    assert_child_of(child, failed)
    assert {job_type(e) for e in child} == {("PLANASONIX", "SYNC", "BATCH")}
    assert {e["run"]["facets"]["externalQuery"]["externalQueryId"] for e in child} == {job_id}
    assert "errorMessage" not in child[0]["run"]["facets"]
    message = child[1]["run"]["facets"]["errorMessage"]["message"]
    assert "source_unreachable" in message and "boom" in message
    assert child[1]["outputs"] == []
    job = api_get(sandbox, f"/jobs/{job_id}")
    assert moment(child[0]["eventTime"]) == moment(job["started_at"])
    assert moment(child[1]["eventTime"]) == moment(job["finished_at"])


def test_a_backfill_is_a_child_run_with_its_tables(sandbox: SandboxHandle, tmp_path: Path) -> None:
    conn = "conn_e2e_assets_backfill"
    sandbox.control.set_scenario(conn, duration=0.2, rows=10, tables=TABLES)
    before = sandbox.control.counters()["requests"]
    task, child = run_with_lineage("e2e_assets_backfill", tmp_path, sandbox, task_id="backfill")
    delta = request_delta(before, sandbox.control.counters()["requests"])
    assert delta.pop("POST /api/v1/connections/{connection_id}/backfill") == 1
    shard_results = delta.pop("GET /api/v1/jobs/{job_id}/results")
    assert set(delta) <= {"GET /api/v1/backfills/{backfill_id}"}, delta

    complete = task[-1]
    assert complete["eventType"] == "COMPLETE" and complete["outputs"] == []
    backfill_id = complete["run"]["facets"]["externalQuery"]["externalQueryId"]
    assert backfill_id.startswith("bf")

    assert [e["eventType"] for e in child] == ["START", "COMPLETE"]
    assert_child_of(child, complete)
    assert {e["job"]["name"] for e in child} == {
        f"e2e_assets_backfill.backfill.planasonix_backfill.{conn}"
    }
    assert {job_type(e) for e in child} == {("PLANASONIX", "BACKFILL", "BATCH")}
    rows = {
        o["name"]: o["outputFacets"]["outputStatistics"]["rowCount"] for o in child[1]["outputs"]
    }
    assert rows == {t: 10 * shard_results for t in TABLES}
    backfill = api_get(sandbox, f"/backfills/{backfill_id}")
    assert moment(child[0]["eventTime"]) == moment(backfill["created_at"])
    assert moment(child[1]["eventTime"]) == moment(backfill["updated_at"])
