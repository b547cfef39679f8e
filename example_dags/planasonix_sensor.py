"""Wait for a Planasonix job that something else started (here: a sync started without waiting)."""

from __future__ import annotations

import os
from datetime import datetime, timezone

from airflow.sdk import DAG

from planasonix_provider.operators.planasonix import PlanasonixSyncOperator
from planasonix_provider.sensors.planasonix import PlanasonixJobSensor

CONNECTION_ID = os.environ.get("PLANASONIX_CONNECTION_ID", "conn_01jq8k2m3n4p5q6r7s8t9u0v1")

with DAG(
    dag_id="planasonix_sensor",
    start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
    schedule=None,
    catchup=False,
    tags=["planasonix", "example"],
):
    start = PlanasonixSyncOperator(
        task_id="start_sync",
        connection_id=CONNECTION_ID,
        wait_for_completion=False,
    )
    wait = PlanasonixJobSensor(
        task_id="wait_for_sync",
        job_id="{{ ti.xcom_pull(task_ids='start_sync', key='planasonix_job_id') }}",
        deferrable=True,
        poke_interval=float(os.environ.get("PLANASONIX_POLL_INTERVAL", "2")),
        timeout=3600,
    )
    start >> wait
