"""Consumer: runs whenever a Planasonix sync has loaded ``public.orders``, and reads what the
sync reported about it from the triggering asset event.

The asset is the one ``planasonix_assets_producer`` (or any sync of the same connection) emits:
``planasonix://<connection_id>/public.orders``.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Any

from airflow.sdk import DAG, Asset, task

CONNECTION_ID = os.environ.get("PLANASONIX_CONNECTION_ID", "conn_01jq8k2m3n4p5q6r7s8t9u0v1")
ORDERS = Asset(f"planasonix://{CONNECTION_ID}/public.orders")

with DAG(
    dag_id="planasonix_assets_consumer",
    start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
    schedule=[ORDERS],
    catchup=False,
    tags=["planasonix", "example", "assets"],
):

    @task
    def rows_loaded(triggering_asset_events: Any = None) -> int:
        """Print the rows each triggering sync loaded into public.orders; return their total."""
        total = 0
        # Indexed, not .get() on a dict: Airflow 3.0 and 3.1 cannot hash an Asset.
        for event in triggering_asset_events[ORDERS] if triggering_asset_events else []:
            extra = event.extra
            print(
                f"Planasonix loaded {extra['rows_loaded']} rows into {extra['table']} "
                f"(job {extra.get('job_id') or extra.get('backfill_id')}, {extra['url']})"
            )
            total += extra["rows_loaded"] or 0
        return total

    rows_loaded()
