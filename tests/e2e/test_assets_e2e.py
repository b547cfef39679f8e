"""Asset events per loaded table in real Airflow (``dag.test()``) against the sandbox over TCP:
both modes, declared outlets, backfills, failures, and no request beyond those of a sync."""

from __future__ import annotations

from typing import Any

import pytest

from planasonix_provider.airflow_lines import AIRFLOW_VERSION
from planasonix_provider.sandbox.testing import SandboxHandle
from tests.e2e.conftest import run_dag, xcom

pytestmark = pytest.mark.e2e

TABLES = ["public.orders", "public.customers"]


def asset_events(dag_id: str) -> list[dict[str, Any]]:
    """The asset events a DAG's tasks recorded in Airflow's database, oldest first."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(AssetModel.uri, AssetEvent.extra, AssetEvent.source_task_id)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetEvent.source_dag_id == dag_id)
            .order_by(AssetEvent.id)
        ).all()
    return [{"uri": uri, "extra": extra, "task_id": task_id} for uri, extra, task_id in rows]


def request_delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {route: n - before.get(route, 0) for route, n in after.items() if n != before.get(route)}


@pytest.mark.parametrize("mode", ["deferrable", "worker"])
def test_every_loaded_table_becomes_an_asset_event(sandbox: SandboxHandle, mode: str) -> None:
    dag_id = f"e2e_assets_{mode}"
    conn = f"conn_{dag_id}"
    sandbox.control.set_scenario(conn, duration=0.4, rows=120, tables=TABLES)
    before = sandbox.control.counters()["requests"]
    _, tis = run_dag(dag_id)
    after = sandbox.control.counters()["requests"]
    assert tis["sync"].state == "success"
    summary = xcom(tis["sync"])
    events = asset_events(dag_id)
    assert [e["uri"] for e in events] == [f"planasonix://{conn}/{t}" for t in TABLES]
    for event, table in zip(events, summary["tables"], strict=True):
        assert event["extra"] == {
            "table": table["name"],
            "rows_loaded": 120,
            "checksum": table["checksum"],
            "connection_id": conn,
            "job_id": summary["job_id"],
            "finished_at": summary["finished_at"],
            "warnings": 0,
            "url": summary["url"],
        }
    # Built from the results the operator fetched anyway: one start, one results fetch, and
    # status polls; no other request.
    delta = request_delta(before, after)
    assert delta.pop("POST /api/v1/connections/{connection_id}/sync") == 1
    assert delta.pop("GET /api/v1/jobs/{job_id}/results") == 1
    assert set(delta) <= {"GET /api/v1/jobs/{job_id}"}, delta


@pytest.mark.skipif(
    AIRFLOW_VERSION < (3, 1, 0),
    reason="Airflow 3.0's dag.test() leaves declared assets inactive (its scheduler activates "
    "them), so a task with declared outlets fails before it starts",
)
def test_declared_outlets_get_events_on_exactly_those(sandbox: SandboxHandle) -> None:
    conn = "conn_e2e_assets_declared"
    sandbox.control.set_scenario(conn, duration=0.3, rows=7, tables=TABLES)
    _, tis = run_dag("e2e_assets_declared")
    assert tis["sync"].state == "success"
    events = asset_events("e2e_assets_declared")
    assert [e["uri"] for e in events] == ["postgres://warehouse:5432/analytics/public/orders"]
    assert events[0]["extra"]["table"] == "public.orders"
    assert events[0]["extra"]["rows_loaded"] == 7
    assert events[0]["extra"]["job_id"] == xcom(tis["sync"])["job_id"]


def test_a_failed_job_emits_nothing(sandbox: SandboxHandle) -> None:
    sandbox.control.set_scenario("conn_e2e_assets_failed", duration=0.3, outcome="fail")
    _, tis = run_dag("e2e_assets_failed")
    assert tis["sync"].state == "failed"
    assert asset_events("e2e_assets_failed") == []


def test_a_backfill_emits_one_event_per_table_with_its_window(sandbox: SandboxHandle) -> None:
    conn = "conn_e2e_assets_backfill"
    sandbox.control.set_scenario(conn, duration=0.2, rows=10, tables=TABLES)
    _, tis = run_dag("e2e_assets_backfill")
    assert tis["backfill"].state == "success"
    summary = xcom(tis["backfill"])
    events = asset_events("e2e_assets_backfill")
    assert sorted(e["uri"] for e in events) == sorted(f"planasonix://{conn}/{t}" for t in TABLES)
    rows = {t["name"]: t["rows_loaded"] for t in summary["tables"]}
    for event in events:
        extra = event["extra"]
        assert extra["rows_loaded"] == rows[extra["table"]] == 10 * len(summary["job_ids"])
        assert extra["backfill_id"] == summary["backfill_id"]
        assert extra["job_ids"] == ",".join(summary["job_ids"][:20])
        assert extra["job_count"] == len(summary["job_ids"])
        assert (extra["start_at"], extra["end_at"]) == (summary["start_at"], summary["end_at"])
        assert extra["finished_at"] == summary["finished_at"] is not None
        assert "job_id" not in extra


def test_a_mapped_sync_emits_its_tables_too(sandbox: SandboxHandle) -> None:
    """``.partial().expand()`` runs the constructor at run time only: the alias it adds there is
    still accepted, so mapped syncs need no declared outlets either."""
    conn = "conn_e2e_assets_mapped"
    sandbox.control.set_scenario(conn, duration=0.3, rows=3, tables=TABLES)
    _, tis = run_dag("e2e_assets_mapped")
    assert tis["sync"].state == "success"
    events = asset_events("e2e_assets_mapped")
    assert [e["uri"] for e in events] == [f"planasonix://{conn}/{t}" for t in TABLES]
    assert {e["extra"]["rows_loaded"] for e in events} == {3}
