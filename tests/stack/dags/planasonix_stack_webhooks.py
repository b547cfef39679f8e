"""A DAG scheduled on the asset that ``airflow-provider-inbound-webhooks`` records for each signed
Planasonix ``job.succeeded`` delivery of ``conn_stack_webhooks`` (the push route of the
event-driven page). Without that plugin the asset simply never gets an event."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from airflow.sdk import DAG, Asset, task

WEBHOOK_ASSET = Asset("planasonix/conn_stack_webhooks/job.succeeded")

with DAG(
    dag_id="stack_webhook_consumer",
    start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
    schedule=[WEBHOOK_ASSET],
    catchup=False,
):

    @task
    def job_ids(**context: Any) -> list[str]:
        events = context["triggering_asset_events"][WEBHOOK_ASSET]
        return [event.extra["payload"]["data"]["id"] for event in events]

    job_ids()
