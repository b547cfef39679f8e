"""Sync a Planasonix connection without holding a worker slot, then use the results downstream.

Point ``planasonix_default`` at Planasonix (or at the sandbox: ``planasonix-sandbox`` prints the
value of ``AIRFLOW_CONN_PLANASONIX_DEFAULT``) and set ``PLANASONIX_CONNECTION_ID`` to the
Planasonix connection to sync.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.sdk import DAG, task

from planasonix_provider.operators.planasonix import PlanasonixSyncOperator

CONNECTION_ID = os.environ.get("PLANASONIX_CONNECTION_ID", "conn_01jq8k2m3n4p5q6r7s8t9u0v1")

with DAG(
    dag_id="planasonix_sync",
    start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
    schedule=None,
    catchup=False,
    tags=["planasonix", "example"],
):
    sync = PlanasonixSyncOperator(
        task_id="sync_orders",
        connection_id=CONNECTION_ID,
        priority="normal",
        metadata={"triggered_by": "airflow_dag_planasonix_sync"},
        deferrable=True,
        poll_interval=float(os.environ.get("PLANASONIX_POLL_INTERVAL", "2")),
        timeout=timedelta(hours=2),
    )

    @task
    def report(result: dict[str, Any]) -> int:
        """Print what the sync loaded, table by table, and return the total."""
        total = 0
        print(f"Planasonix job {result['job_id']} {result['status']} ({result['url']})")
        for table in result["tables"]:
            print(f"  {table['name']}: {table['rows_loaded']} rows, {table['checksum']}")
            total += table["rows_loaded"] or 0
        for warning in result["warnings"]:
            print(f"  warning {warning.get('code')}: {warning['message']}")
        print(f"  total rows loaded: {total}")
        return total

    report(sync.output)
