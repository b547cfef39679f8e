"""The asset pair of the deployment stage: a deferrable sync, and a DAG scheduled on one of the
tables it loads, which prints the rows loaded from the triggering event (as the example pair
``planasonix_assets_producer`` / ``planasonix_assets_consumer`` does)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.sdk import DAG, Asset, task

from planasonix_provider.operators.planasonix import PlanasonixSyncOperator

START = datetime(2025, 1, 1, tzinfo=timezone.utc)
ORDERS = Asset("planasonix://conn_stack_assets/public.orders")

with DAG(dag_id="stack_assets_producer", start_date=START, schedule=None, catchup=False):
    # One retry, as a production DAG has: on a loaded machine Airflow's scheduler can read the
    # deferring task as still queued when the executor reports its process done, and fail it
    # ("task-state-changed-externally"); the retry reattaches to the job through the task state
    # store, so the asset event and the consumer run are still what this stage checks.
    PlanasonixSyncOperator(
        task_id="sync",
        connection_id="conn_stack_assets",
        deferrable=True,
        poll_interval=1.0,
        retries=1,
        retry_delay=timedelta(seconds=1),
    )

with DAG(dag_id="stack_assets_consumer", start_date=START, schedule=[ORDERS], catchup=False):

    @task
    def rows_loaded(triggering_asset_events: Any = None) -> int:
        total = 0
        # Indexed, not .get() on a dict: Airflow 3.0 and 3.1 cannot hash an Asset.
        for event in triggering_asset_events[ORDERS] if triggering_asset_events else []:
            print(
                f"Planasonix loaded {event.extra['rows_loaded']} rows into "
                f"{event.extra['table']} (job {event.extra['job_id']})"
            )
            total += event.extra["rows_loaded"]
        return total

    rows_loaded()
