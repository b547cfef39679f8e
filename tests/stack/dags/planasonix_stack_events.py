"""DAGs of the event-driven stage: a consumer scheduled on an asset whose watcher fires for each
Planasonix job of ``conn_stack_events`` that succeeds, and nineteen more watchers of the same
Airflow connection (other pipelines), so that twenty watchers share one poll on Airflow 3.3."""

from __future__ import annotations

from datetime import datetime, timezone
from functools import reduce
from operator import or_
from typing import Any

from airflow.sdk import DAG, Asset, AssetWatcher, task

from planasonix_provider.triggers.job_events import PlanasonixJobEventTrigger

START = datetime(2025, 1, 1, tzinfo=timezone.utc)
CONNECTION = "conn_stack_events"
POLL = 5.0
QUIET_WATCHERS = 19


def watched(name: str, **filters: Any) -> Asset:
    trigger = PlanasonixJobEventTrigger(connection_id=CONNECTION, poll_interval=POLL, **filters)
    return Asset(
        name=name,
        uri=f"planasonix://stack/{name}",
        watchers=[AssetWatcher(name=f"{name}_watcher", trigger=trigger)],
    )


synced = watched("stack_events_synced")
quiet = [
    watched(f"stack_events_quiet_{n}", pipeline_id=f"pl_quiet_{n}") for n in range(QUIET_WATCHERS)
]

with DAG(dag_id="stack_events_consumer", start_date=START, schedule=[synced], catchup=False):

    @task
    def job_ids(**context: Any) -> list[str]:
        return [e.extra["payload"]["job_id"] for e in context["triggering_asset_events"][synced]]

    job_ids()

with DAG(
    dag_id="stack_events_quiet",
    start_date=START,
    schedule=reduce(or_, quiet),
    catchup=False,
):

    @task
    def never() -> None:
        raise AssertionError("no job of the quiet pipelines is ever started")

    never()
