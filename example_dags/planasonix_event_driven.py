"""Run a DAG whenever a Planasonix sync succeeds, however it was started: on Planasonix's own
schedule, by hand in its UI, by another tool or by Airflow.

The asset's watcher runs in the triggerer and turns each newly succeeded job into an asset event;
the event's payload names the job, and the consumer fetches the job's results itself. Airflow
may put several events into one run, so the task loops over all of them.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Any

from airflow.sdk import DAG, Asset, AssetWatcher, task

from planasonix_provider.triggers.job_events import PlanasonixJobEventTrigger

CONNECTION_ID = os.environ.get("PLANASONIX_CONNECTION_ID", "conn_01jq8k2m3n4p5q6r7s8t9u0v1")

orders_synced = Asset(
    name="planasonix_orders_synced",
    uri=f"planasonix://connections/{CONNECTION_ID}/jobs?status=succeeded",
    watchers=[
        AssetWatcher(
            name="planasonix_orders_sync_watcher",
            trigger=PlanasonixJobEventTrigger(
                connection_id=CONNECTION_ID,
                statuses=["succeeded"],
                poll_interval=float(os.environ.get("PLANASONIX_EVENT_POLL_INTERVAL", "30")),
            ),
        )
    ],
)

with DAG(
    dag_id="planasonix_event_driven",
    start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
    schedule=[orders_synced],
    catchup=False,
    tags=["planasonix", "example"],
):

    @task
    def load_synced_orders(**context: Any) -> list[dict[str, Any]]:
        """One summary per job that triggered this run, from the job's results."""
        from planasonix_provider.hooks.planasonix import PlanasonixHook

        events = context["triggering_asset_events"][orders_synced]
        client = PlanasonixHook().client
        summaries = []
        for event in events:
            job = event.extra["payload"]
            results = client.get_job_results(job["job_id"])
            tables = [] if results is None else results.tables
            summaries.append(
                {
                    "job_id": job["job_id"],
                    "finished_at": job.get("finished_at"),
                    "rows_loaded": {table.name: table.rows_loaded for table in tables},
                }
            )
        return summaries

    load_synced_orders()
