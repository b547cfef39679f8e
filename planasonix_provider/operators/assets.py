"""Airflow asset events for the tables a Planasonix sync or backfill loaded.

The events are built from the summary the operators already return (``summarize``): no request
beyond those a sync makes anyway. Tables are known only when the job ends, so by default they
reach Airflow through an asset alias that the operator declares itself (:func:`default_alias`);
a user who declares table assets in ``outlets`` gets events on exactly those, with the extra
filled in.

DAG files import the operators, so this module imports only Airflow's asset classes (which
``BaseOperator`` has already imported) and the naming rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow.sdk import Asset, AssetAlias

from planasonix_provider.hooks.asset_naming import asset_uri

#: A backfill event lists at most this many job ids (comma-separated); ``job_count`` always holds
#: the total.
MAX_JOB_IDS_PER_EVENT = 20


def default_alias(dag_id: str | None, task_id: str) -> AssetAlias:
    """The alias an operator declares when the user declared no outlets: one per task, so that
    a DAG scheduled on it hears this task's tables only."""
    owner = f"{dag_id}.{task_id}" if dag_id else task_id
    return AssetAlias(name=f"planasonix:{owner}")


def event_extras(summary: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The extra of each loaded table's event, by table name: small, JSON-safe and flat (every
    value a string, a number, a boolean or None)."""
    common: dict[str, Any] = {
        "connection_id": summary.get("connection_id"),
        "finished_at": summary.get("finished_at"),
        "warnings": len(summary.get("warnings") or []),
        "url": summary.get("url"),
    }
    if "backfill_id" in summary:
        job_ids = list(summary.get("job_ids") or [])
        common.update(
            backfill_id=summary["backfill_id"],
            start_at=summary.get("start_at"),
            end_at=summary.get("end_at"),
            # A string, not a list: Airflow 3.0 hashes each value of an alias event's extra.
            job_ids=",".join(job_ids[:MAX_JOB_IDS_PER_EVENT]),
            job_count=len(job_ids),
        )
        if len(job_ids) > MAX_JOB_IDS_PER_EVENT:
            common["job_ids_truncated"] = True
    else:
        common["job_id"] = summary.get("job_id")
    return {
        table["name"]: {
            "table": table["name"],
            "rows_loaded": table.get("rows_loaded"),
            **({"checksum": table["checksum"]} if table.get("checksum") else {}),
            **common,
        }
        for table in summary.get("tables") or []
    }


def emit_asset_events(
    outlets: list[Any],
    outlet_events: Any,
    summary: Mapping[str, Any],
    template: str,
    fallback_connection_id: str,
) -> dict[str, list[str]]:
    """Record one event per loaded table: through every alias in ``outlets``, and as the extra of
    each declared asset whose URI is a loaded table's. Returns what was done, for the log:
    ``emitted`` (alias events), ``described`` (declared assets) and ``unmatched`` (declared
    assets that no loaded table names; Airflow records their events without our extra)."""
    connection_id = str(summary.get("connection_id") or fallback_connection_id)
    by_uri = {
        Asset(uri=asset_uri(template, connection_id, table)).uri: extra
        for table, extra in event_extras(summary).items()
    }
    report: dict[str, list[str]] = {"emitted": [], "described": [], "unmatched": []}
    for outlet in outlets:
        if isinstance(outlet, AssetAlias):
            for uri, extra in by_uri.items():
                outlet_events[outlet].add(Asset(uri=uri), extra=extra)
                report["emitted"].append(uri)
        elif isinstance(outlet, Asset):
            details = by_uri.get(outlet.uri)
            if details is None:
                report["unmatched"].append(outlet.uri)
            else:
                outlet_events[outlet].extra.update(details)
                report["described"].append(outlet.uri)
    return report
