"""Wait for Planasonix work that something else started (here: a sync and a backfill started
without waiting), with the job sensor and the backfill sensor."""

from __future__ import annotations

import os
from datetime import datetime, timezone

from airflow.sdk import DAG

from planasonix_provider.operators.planasonix import (
    PlanasonixBackfillOperator,
    PlanasonixSyncOperator,
)
from planasonix_provider.sensors.planasonix import PlanasonixBackfillSensor, PlanasonixJobSensor

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

    start_backfill = PlanasonixBackfillOperator(
        task_id="start_backfill",
        connection_id=CONNECTION_ID,
        start_at="2025-01-01T00:00:00Z",
        end_at="2025-01-02T00:00:00Z",
        wait_for_completion=False,
    )
    wait_backfill = PlanasonixBackfillSensor(
        task_id="wait_for_backfill",
        backfill_id="{{ ti.xcom_pull(task_ids='start_backfill', key='planasonix_backfill_id') }}",
        deferrable=True,
        poke_interval=float(os.environ.get("PLANASONIX_POLL_INTERVAL", "2")),
        timeout=3600,
    )
    start_backfill >> wait_backfill
