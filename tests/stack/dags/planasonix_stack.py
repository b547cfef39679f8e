"""DAGs of the deployment stage: one per case, each syncing its own Planasonix connection, so a
test sets that connection's sandbox scenario and triggers the DAG through Airflow's REST API."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.sdk import DAG

from planasonix_provider.operators.planasonix import PlanasonixSyncOperator

START = datetime(2025, 1, 1, tzinfo=timezone.utc)
POLL = 1.0


def _sync_dag(dag_id: str, **operator_args: Any) -> DAG:
    with DAG(dag_id=dag_id, start_date=START, schedule=None, catchup=False) as dag:
        PlanasonixSyncOperator(
            task_id="sync",
            connection_id=f"conn_{dag_id}",
            poll_interval=POLL,
            **operator_args,
        )
    return dag


stack_failed = _sync_dag("stack_failed", deferrable=True)
stack_mark_failed = _sync_dag("stack_mark_failed", deferrable=True)
stack_triggerer_restart = _sync_dag("stack_triggerer_restart", deferrable=True)
stack_retry = _sync_dag(
    "stack_retry", deferrable=False, retries=1, retry_delay=timedelta(seconds=0)
)
stack_two_triggerers = _sync_dag("stack_two_triggerers", deferrable=True)
