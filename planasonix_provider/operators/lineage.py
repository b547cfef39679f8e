"""OpenLineage for the sync and backfill operators: one output dataset per loaded table.

Imported only when the OpenLineage provider calls an operator's
``get_openlineage_facets_on_complete`` / ``_on_failure``, or when a user asks for the OpenLineage
run ids in the job's metadata: DAG files never pay for OpenLineage.

The API does not say which systems a connection reads from and loads into, so dataset
namespaces come from the Airflow connection (``lineage_source_namespace``,
``lineage_destination_namespace``); without a destination namespace the tables are named in
``planasonix://<connection_id>``, the namespace of the default asset URIs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow.providers.openlineage.extractors import OperatorLineage
from openlineage.client.event_v2 import InputDataset, OutputDataset
from openlineage.client.facet_v2 import (
    error_message_run,
    external_query_run,
    job_type_job,
)
from openlineage.client.facet_v2 import output_statistics_output_dataset as output_statistics

INTEGRATION = "PLANASONIX"
JOB_TYPES = {"job": "SYNC", "backfill": "BACKFILL"}
#: ``source`` of the external-query facet: which system the job id belongs to.
EXTERNAL_QUERY_SOURCE = "planasonix"


@dataclass(frozen=True)
class LineageTarget:
    """What lineage needs to know about one operator's run, gathered by the operator."""

    kind: str
    connection_id: str
    source_namespace: str | None = None
    destination_namespace: str | None = None


def destination_namespace(target: LineageTarget) -> str:
    return target.destination_namespace or f"planasonix://{target.connection_id}"


def operator_lineage(
    target: LineageTarget,
    summary: Mapping[str, Any] | None,
    resource_id: str | None = None,
    error: str | None = None,
) -> OperatorLineage:  # type: ignore[type-arg]
    """The lineage of a finished run: tables and row counts from the summary on success, the
    Planasonix id and the error message on failure."""
    tables = list((summary or {}).get("tables") or [])
    outputs = [
        OutputDataset(
            namespace=destination_namespace(target),
            name=table["name"],
            outputFacets={
                "outputStatistics": output_statistics.OutputStatisticsOutputDatasetFacet(
                    rowCount=table.get("rows_loaded")
                )
            },
        )
        for table in tables
    ]
    inputs = (
        [InputDataset(namespace=target.source_namespace, name=t["name"]) for t in tables]
        if target.source_namespace
        else []
    )
    run_facets: dict[str, Any] = {}
    remote_id = resource_id or (summary or {}).get("job_id") or (summary or {}).get("backfill_id")
    if remote_id:
        run_facets["externalQuery"] = external_query_run.ExternalQueryRunFacet(
            externalQueryId=str(remote_id), source=EXTERNAL_QUERY_SOURCE
        )
    if error:
        run_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=error, programmingLanguage="python"
        )
    job_facets = {
        "jobType": job_type_job.JobTypeJobFacet(
            processingType="BATCH", integration=INTEGRATION, jobType=JOB_TYPES[target.kind]
        )
    }
    return OperatorLineage(
        inputs=inputs, outputs=outputs, run_facets=run_facets, job_facets=job_facets
    )


def openlineage_run_ids(task_instance: Any) -> dict[str, str]:
    """The OpenLineage parent (this task) and root (its DAG run) of a task instance, as job
    metadata, so that a consumer of Planasonix's events can link back to the Airflow run."""
    from airflow.providers.openlineage.plugins import macros as typed_macros

    macros: Any = typed_macros  # the macros are untyped

    return {
        "openlineage_parent_job_namespace": macros.lineage_job_namespace(),
        "openlineage_parent_job_name": macros.lineage_job_name(task_instance),
        "openlineage_parent_run_id": macros.lineage_run_id(task_instance),
        "openlineage_root_job_namespace": macros.lineage_root_job_namespace(task_instance),
        "openlineage_root_job_name": macros.lineage_root_job_name(task_instance),
        "openlineage_root_run_id": macros.lineage_root_run_id(task_instance),
    }
