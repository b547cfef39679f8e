"""OpenLineage from the operators in real Airflow: ``airflow dags test`` with the OpenLineage
provider's file transport, against the sandbox over TCP.

A subprocess, because the OpenLineage listener reads its transport when Airflow loads plugins,
once per process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from planasonix_provider.sandbox.testing import SandboxHandle

pytest.importorskip(
    "airflow.providers.openlineage",
    reason="the OpenLineage provider is not installed (the openlineage extra; Python >= 3.11)",
)

pytestmark = pytest.mark.e2e

TABLES = ["public.orders", "public.customers"]
DESTINATION = "postgres://warehouse:5432"
SOURCE = "mysql://shop:3306"


def run_with_lineage(dag_id: str, tmp_path: Path, sandbox: SandboxHandle) -> list[dict[str, Any]]:
    """``airflow dags test`` one DAG; return the OpenLineage events of its task ``sync``."""
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
        "AIRFLOW_CONN_PLANASONIX_DEFAULT": conn,
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(events_file), "append": True}
        ),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "e2e",
    }
    subprocess.run(
        [str(Path(sys.executable).parent / "airflow"), "dags", "test", dag_id],
        env=env,
        capture_output=True,
        timeout=180,
        check=False,
    )
    assert events_file.exists(), "the OpenLineage file transport wrote nothing"
    events = [json.loads(line) for line in events_file.read_text().splitlines() if line.strip()]
    return [e for e in events if e["job"]["name"] == f"{dag_id}.sync"]


def test_a_sync_reports_its_tables_with_row_counts(sandbox: SandboxHandle, tmp_path: Path) -> None:
    conn = "conn_e2e_lineage_sync"
    sandbox.control.set_scenario(conn, duration=0.4, rows=42, tables=TABLES)
    before = sandbox.control.counters()["requests"]
    events = run_with_lineage("e2e_lineage_sync", tmp_path, sandbox)
    after = sandbox.control.counters()["requests"]
    # Lineage is built from the results already fetched: no request beyond those of a sync.
    delta = {
        route: n - before.get(route, 0) for route, n in after.items() if n != before.get(route)
    }
    assert delta.pop("POST /api/v1/connections/{connection_id}/sync") == 1
    assert delta.pop("GET /api/v1/jobs/{job_id}/results") == 1
    assert set(delta) <= {"GET /api/v1/jobs/{job_id}"}, delta
    # A deferrable task starts twice (before deferring and on resuming): a START each time.
    assert {e["eventType"] for e in events[:-1]} == {"START"}
    assert events[-1]["eventType"] == "COMPLETE"
    complete = events[-1]
    outputs = {(o["namespace"], o["name"]): o for o in complete["outputs"]}
    assert set(outputs) == {(DESTINATION, t) for t in TABLES}
    for output in outputs.values():
        assert output["outputFacets"]["outputStatistics"]["rowCount"] == 42
    assert {(i["namespace"], i["name"]) for i in complete["inputs"]} == {
        (SOURCE, t) for t in TABLES
    }
    job_id = complete["run"]["facets"]["externalQuery"]["externalQueryId"]
    assert complete["run"]["facets"]["externalQuery"]["source"] == "planasonix"
    # Opt-in: the OpenLineage parent and root run ids travel in the job's metadata.
    job = sandbox.control.get_internal_job(job_id)
    metadata = job["metadata"]
    assert metadata["openlineage_parent_run_id"] == complete["run"]["runId"]
    assert metadata["openlineage_parent_job_name"] == "e2e_lineage_sync.sync"
    assert metadata["openlineage_parent_job_namespace"] == "e2e"
    root = complete["run"]["facets"]["parent"]["root"]
    assert metadata["openlineage_root_run_id"] == root["run"]["runId"]
    assert metadata["openlineage_root_job_name"] == root["job"]["name"] == "e2e_lineage_sync"


def test_a_failed_sync_reports_the_error(sandbox: SandboxHandle, tmp_path: Path) -> None:
    conn = "conn_e2e_lineage_failed"
    sandbox.control.set_scenario(
        conn, duration=0.2, outcome="fail", error_code="source_unreachable", error_message="boom"
    )
    events = run_with_lineage("e2e_lineage_failed", tmp_path, sandbox)
    assert [e["eventType"] for e in events] == ["START", "FAIL"]
    facets = events[-1]["run"]["facets"]
    assert "boom" in facets["errorMessage"]["message"]
    assert facets["externalQuery"]["externalQueryId"].startswith("job_")
    assert events[-1]["outputs"] == []
