"""DAGs for the asset-event and OpenLineage end-to-end tests: each on its own Planasonix
connection id, so that a test sets that connection's sandbox scenario and runs the DAG."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from airflow.sdk import DAG, Asset

from planasonix_provider.operators.planasonix import (
    PlanasonixBackfillOperator,
    PlanasonixSyncOperator,
)

START = datetime(2025, 1, 1, tzinfo=timezone.utc)
POLL = 0.2
WAREHOUSE_TEMPLATE = "postgres://warehouse:5432/analytics/{table_path}"


def _sync_dag(dag_id: str, **operator_args: Any) -> DAG:
    with DAG(dag_id=dag_id, start_date=START, schedule=None, catchup=False) as dag:
        PlanasonixSyncOperator(
            task_id="sync", connection_id=f"conn_{dag_id}", poll_interval=POLL, **operator_args
        )
    return dag


assets_deferrable = _sync_dag("e2e_assets_deferrable", deferrable=True)
assets_worker = _sync_dag("e2e_assets_worker", deferrable=False)
assets_failed = _sync_dag("e2e_assets_failed", deferrable=True)
assets_declared = _sync_dag(
    "e2e_assets_declared",
    deferrable=True,
    asset_uri_template=WAREHOUSE_TEMPLATE,
    outlets=[Asset("postgres://warehouse:5432/analytics/public/orders")],
)
lineage_sync = _sync_dag("e2e_lineage_sync", deferrable=True, openlineage_run_ids=True)
lineage_failed = _sync_dag("e2e_lineage_failed", deferrable=False)

with DAG(dag_id="e2e_assets_backfill", start_date=START, schedule=None, catchup=False):
    PlanasonixBackfillOperator(
        task_id="backfill",
        connection_id="conn_e2e_assets_backfill",
        start_at="2025-01-01T00:00:00Z",
        end_at="2025-03-01T00:00:00Z",
        deferrable=True,
        poll_interval=POLL,
    )

with DAG(dag_id="e2e_assets_mapped", start_date=START, schedule=None, catchup=False):
    PlanasonixSyncOperator.partial(task_id="sync", poll_interval=POLL, deferrable=False).expand(
        connection_id=["conn_e2e_assets_mapped"]
    )
