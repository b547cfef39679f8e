"""DAGs for the reliability suite (tests/reliability): one per case, each on its own Planasonix
connection id, so that a test sets that connection's scenario and faults and runs the DAG with
``dag.test()``. The Airflow connection (``planasonix_default``) comes from the test's
environment, with a short request timeout and retry caps."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.sdk import DAG

from planasonix_provider.operators.planasonix import (
    PlanasonixBackfillOperator,
    PlanasonixSyncOperator,
)

START = datetime(2025, 1, 1, tzinfo=timezone.utc)
POLL = 0.2


def _sync_dag(dag_id: str, **operator_args: Any) -> DAG:
    with DAG(dag_id=dag_id, start_date=START, schedule=None, catchup=False) as dag:
        PlanasonixSyncOperator(
            task_id="sync", connection_id=f"conn_{dag_id}", poll_interval=POLL, **operator_args
        )
    return dag


rel_sync_worker_faults = _sync_dag("rel_sync_worker_faults", deferrable=False)
rel_sync_deferrable_faults = _sync_dag("rel_sync_deferrable_faults", deferrable=True)
rel_sync_deferrable_500_after = _sync_dag("rel_sync_deferrable_500_after", deferrable=True)
rel_sync_worker_timeout_after = _sync_dag("rel_sync_worker_timeout_after", deferrable=False)
rel_sync_deferrable_retry = _sync_dag(
    "rel_sync_deferrable_retry", deferrable=True, retries=1, retry_delay=timedelta(seconds=0)
)
rel_sync_secrets = _sync_dag(
    "rel_sync_secrets", deferrable=True, metadata={"note": "{{ conn.planasonix_default.host }}"}
)

with DAG(
    dag_id="rel_backfill_deferrable_faults", start_date=START, schedule=None, catchup=False
) as rel_backfill_deferrable_faults:
    PlanasonixBackfillOperator(
        task_id="backfill",
        connection_id="conn_rel_backfill_deferrable_faults",
        start_at="2025-01-01T00:00:00Z",
        end_at="2025-01-20T00:00:00Z",
        deferrable=True,
        poll_interval=POLL,
    )
