"""Backfill each data interval through Planasonix and check the rows downstream."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Any

from airflow.sdk import DAG, task

try:
    from airflow.sdk import CronDataIntervalTimetable
except ImportError:  # Airflow 3.0 and 3.1 keep it in airflow-core
    from airflow.timetables.interval import CronDataIntervalTimetable

from planasonix_provider.operators.planasonix import PlanasonixBackfillOperator

CONNECTION_ID = os.environ.get("PLANASONIX_CONNECTION_ID", "conn_01jq8k2m3n4p5q6r7s8t9u0v1")

with DAG(
    dag_id="planasonix_backfill",
    start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
    # A data-interval timetable: each run covers the month before it. (Airflow 3's plain cron
    # schedules give runs an empty interval, which would be no window to backfill.)
    schedule=CronDataIntervalTimetable("@monthly", timezone="UTC"),
    catchup=False,
    tags=["planasonix", "example"],
):
    backfill = PlanasonixBackfillOperator(
        task_id="backfill_interval",
        connection_id=CONNECTION_ID,
        start_at="{{ data_interval_start }}",
        end_at="{{ data_interval_end }}",
        tables=["public.orders", "public.order_items"],
        metadata={"reason": "monthly_replay"},
        deferrable=True,
        poll_interval=float(os.environ.get("PLANASONIX_POLL_INTERVAL", "2")),
    )

    @task
    def check_rows(summary: dict[str, Any]) -> dict[str, int]:
        """Fail when a table came back empty; hand the per-table counts on."""
        counts = {table["name"]: table["rows_loaded"] for table in summary["tables"]}
        print(f"Backfill {summary['backfill_id']}: {summary['job_ids']} -> {counts}")
        empty = [name for name, rows in counts.items() if not rows]
        if empty:
            raise ValueError(f"no rows loaded for {empty}")
        return counts

    check_rows(backfill.output)
