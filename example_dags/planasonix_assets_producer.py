"""Producer: a deferrable sync whose loaded tables become Airflow asset events.

Nothing to declare: the operator records one asset event per loaded table, named
``planasonix://<connection_id>/<table>``, with the rows loaded, the checksum and the job id in the
event's extra. ``planasonix_assets_consumer`` is scheduled on one of those tables.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

from airflow.sdk import DAG

from planasonix_provider.operators.planasonix import PlanasonixSyncOperator

CONNECTION_ID = os.environ.get("PLANASONIX_CONNECTION_ID", "conn_01jq8k2m3n4p5q6r7s8t9u0v1")

with DAG(
    dag_id="planasonix_assets_producer",
    start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
    schedule=None,
    catchup=False,
    tags=["planasonix", "example", "assets"],
):
    PlanasonixSyncOperator(
        task_id="sync",
        connection_id=CONNECTION_ID,
        deferrable=True,
        poll_interval=float(os.environ.get("PLANASONIX_POLL_INTERVAL", "2")),
        timeout=timedelta(hours=2),
    )
