"""DAGs for the end-to-end tests: one per case, each on its own Planasonix connection id, so that
a test sets the sandbox scenario of that connection and runs the DAG with ``dag.test()``."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.sdk import DAG

from planasonix_provider.operators.planasonix import (
    PlanasonixBackfillOperator,
    PlanasonixSyncOperator,
)
from planasonix_provider.sensors.planasonix import PlanasonixJobSensor

START = datetime(2025, 1, 1, tzinfo=timezone.utc)
POLL = 0.2


def _dag(dag_id: str) -> DAG:
    return DAG(dag_id=dag_id, start_date=START, schedule=None, catchup=False)


def _sync_dag(dag_id: str, **operator_args: Any) -> DAG:
    with _dag(dag_id) as dag:
        PlanasonixSyncOperator(
            task_id="sync",
            connection_id=f"conn_{dag_id}",
            poll_interval=POLL,
            **operator_args,
        )
    return dag


sync_deferrable = _sync_dag("e2e_sync_deferrable", deferrable=True, metadata={"team": "sales"})
sync_worker = _sync_dag("e2e_sync_worker", deferrable=False)
sync_failed = _sync_dag("e2e_sync_failed", deferrable=True)
sync_cancelled = _sync_dag("e2e_sync_cancelled", deferrable=True)
sync_timeout_deferrable = _sync_dag("e2e_sync_timeout_deferrable", deferrable=True, timeout=1.5)
sync_timeout_worker = _sync_dag("e2e_sync_timeout_worker", deferrable=False, timeout=1.5)
sync_execution_timeout = _sync_dag(
    "e2e_sync_execution_timeout", deferrable=False, execution_timeout=timedelta(seconds=2)
)
sync_warnings = _sync_dag("e2e_sync_warnings", deferrable=True)
sync_fail_on_warnings = _sync_dag(
    "e2e_sync_fail_on_warnings", deferrable=True, fail_on_warnings=True
)
sync_no_wait = _sync_dag("e2e_sync_no_wait", wait_for_completion=False)
sync_retry = _sync_dag(
    "e2e_sync_retry", deferrable=False, retries=1, retry_delay=timedelta(seconds=0)
)
sync_retry_reattach = _sync_dag(
    "e2e_sync_retry_reattach",
    deferrable=False,
    retries=1,
    retry_delay=timedelta(seconds=0),
    reattach_on_retry=True,
)

with _dag("e2e_backfill") as backfill_dag:
    PlanasonixBackfillOperator(
        task_id="backfill",
        connection_id="conn_e2e_backfill",
        start_at="2025-01-01T00:00:00Z",
        end_at="2025-03-01T00:00:00Z",
        tables=["public.orders"],
        deferrable=True,
        poll_interval=POLL,
    )

with _dag("e2e_backfill_retry_reattach") as backfill_retry_reattach_dag:
    PlanasonixBackfillOperator(
        task_id="backfill",
        connection_id="conn_e2e_backfill_retry_reattach",
        start_at="2025-01-01T00:00:00Z",
        end_at="2025-03-01T00:00:00Z",
        deferrable=False,
        poll_interval=POLL,
        retries=1,
        retry_delay=timedelta(seconds=0),
        reattach_on_retry=True,
    )

with _dag("e2e_backfill_failed") as backfill_failed_dag:
    PlanasonixBackfillOperator(
        task_id="backfill",
        connection_id="conn_e2e_backfill_failed",
        # run_after, not data_interval_start: a manual run has no data interval on Airflow 3.0.
        start_at="{{ dag_run.run_after - macros.timedelta(days=40) }}",
        end_at="{{ dag_run.run_after }}",
        deferrable=False,
        poll_interval=POLL,
    )


def _sensor_dag(dag_id: str, **sensor_args: Any) -> DAG:
    with _dag(dag_id) as dag:
        start = PlanasonixSyncOperator(
            task_id="start", connection_id=f"conn_{dag_id}", wait_for_completion=False
        )
        wait = PlanasonixJobSensor(
            task_id="wait",
            job_id="{{ ti.xcom_pull(task_ids='start', key='planasonix_job_id') }}",
            poke_interval=POLL,
            timeout=60,
            **sensor_args,
        )
        start >> wait
    return dag


sensor_poke = _sensor_dag("e2e_sensor_poke", deferrable=False)
sensor_deferrable = _sensor_dag("e2e_sensor_deferrable", deferrable=True)
sensor_poke_soft_fail = _sensor_dag("e2e_sensor_poke_soft_fail", deferrable=False, soft_fail=True)
sensor_deferrable_soft_fail = _sensor_dag(
    "e2e_sensor_deferrable_soft_fail", deferrable=True, soft_fail=True
)
sensor_deferrable_failed = _sensor_dag("e2e_sensor_deferrable_failed", deferrable=True)
