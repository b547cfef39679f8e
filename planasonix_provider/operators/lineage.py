"""OpenLineage for the sync and backfill operators: the Planasonix job as a child run.

Imported only when the OpenLineage provider calls an operator's
``get_openlineage_facets_on_complete`` / ``_on_failure``, or when a user asks for the OpenLineage
run ids in the job's metadata: DAG files never pay for OpenLineage.

Given the task instance, :func:`operator_lineage` emits the Planasonix job (or backfill) as a run
of its own, the way the dbt Cloud provider emits dbt's: a START and a COMPLETE (FAIL, or ABORT
when cancelled) event, timed by the job's own timestamps, whose ``parent`` facet names the Airflow
task run, whose ``jobType`` says ``PLANASONIX`` / ``SYNC`` or ``BACKFILL`` (the OpenLineage
provider writes its own ``AIRFLOW`` / ``TASK`` over any ``jobType`` on the task's events), and
which carries the loaded tables as its outputs. The task's own events then keep only the
Planasonix id (and the error). If the child run cannot be built or handed to the OpenLineage
provider, that is logged and the task's events carry the datasets as before: lineage never
fails a task, and it adds no request to Planasonix.

The API does not say which systems a connection reads from and loads into, so dataset
namespaces come from the Airflow connection (``lineage_source_namespace``,
``lineage_destination_namespace``); without a destination namespace the tables are named in
``planasonix://<connection_id>``, the namespace of the default asset URIs.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from airflow.providers.openlineage.extractors import OperatorLineage
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    error_message_run,
    external_query_run,
    job_type_job,
    parent_run,
)
from openlineage.client.facet_v2 import output_statistics_output_dataset as output_statistics
from openlineage.client.uuid import generate_new_uuid, generate_static_uuid

from planasonix_provider import __version__

log = logging.getLogger(__name__)

INTEGRATION = "PLANASONIX"
JOB_TYPES = {"job": "SYNC", "backfill": "BACKFILL"}
#: ``source`` of the external-query facet: which system the job id belongs to.
EXTERNAL_QUERY_SOURCE = "planasonix"
#: The last part but one of a child run's job name: ``<dag_id>.<task_id>.planasonix_sync.<conn>``.
CHILD_JOB_SUFFIX = {"job": "planasonix_sync", "backfill": "planasonix_backfill"}
PRODUCER = f"https://pypi.org/project/airflow-provider-planasonix/{__version__}/"
#: Timestamps that say when the work started, and when it ended, best first.
START_FIELDS = {"job": ("started_at", "queued_at", "created_at"), "backfill": ("created_at",)}
END_FIELDS = {"job": ("finished_at",), "backfill": ("updated_at", "finished_at")}


@dataclass(frozen=True)
class LineageTarget:
    """What lineage needs to know about one operator's run, gathered by the operator."""

    kind: str
    connection_id: str
    source_namespace: str | None = None
    destination_namespace: str | None = None


@dataclass(frozen=True)
class ParentRun:
    """The OpenLineage identity of the Airflow task run (and, where known, of its DAG run)."""

    job_namespace: str
    job_name: str
    run_id: str
    root_job_namespace: str | None = None
    root_job_name: str | None = None
    root_run_id: str | None = None


def destination_namespace(target: LineageTarget) -> str:
    return target.destination_namespace or f"planasonix://{target.connection_id}"


def operator_lineage(
    target: LineageTarget,
    summary: Mapping[str, Any] | None,
    resource_id: str | None = None,
    error: str | None = None,
    *,
    task_instance: Any = None,
    resource: Mapping[str, Any] | None = None,
) -> OperatorLineage:  # type: ignore[type-arg]
    """The lineage of a finished run, for the OpenLineage provider to put on the task's event.

    ``summary`` is the operator's result on success (tables, row counts); ``resource_id`` and
    ``error`` describe a failure; ``resource`` is the job or backfill as last fetched (its
    timestamps time the child run). With ``task_instance``, the Planasonix work is emitted as a
    child run of the task carrying the datasets, and the task keeps only its run facets; without
    it, without a Planasonix id, without an end of the work (neither ``summary`` nor ``error``),
    or if emitting fails, the task's lineage holds everything.
    """
    lineage = _full_lineage(target, summary, resource_id, error)
    remote_id = _remote_id(summary, resource_id)
    if task_instance is None or remote_id is None or (summary is None and not error):
        # No child run without work whose end is known: none was started (the task failed
        # before), or the task failed while the work was still going (it may yet succeed).
        return lineage
    try:
        events = child_run_events(
            target,
            parent_run_of(task_instance),
            lineage,
            summary=summary,
            resource=resource,
            resource_id=remote_id,
            error=error,
        )
        emitted = emit_events(events)
    except Exception as exc:  # lineage must never be why a task fails, nor hide its datasets
        log.warning(
            "OpenLineage: could not emit the Planasonix %s %s as a child run (%s: %s); the "
            "task's own event carries its datasets instead",
            target.kind,
            remote_id or "(unknown id)",
            type(exc).__name__,
            exc,
        )
        return lineage
    if not emitted:
        return lineage
    return OperatorLineage(run_facets=lineage.run_facets)


def _remote_id(summary: Mapping[str, Any] | None, resource_id: str | None) -> str | None:
    found = resource_id or (summary or {}).get("job_id") or (summary or {}).get("backfill_id")
    return str(found) if found else None


def _full_lineage(
    target: LineageTarget,
    summary: Mapping[str, Any] | None,
    resource_id: str | None,
    error: str | None,
) -> OperatorLineage:  # type: ignore[type-arg]
    """Datasets, run facets and the job type, all in one: what a task carries without a child."""
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
    remote_id = _remote_id(summary, resource_id)
    if remote_id:
        run_facets["externalQuery"] = external_query_run.ExternalQueryRunFacet(
            externalQueryId=remote_id, source=EXTERNAL_QUERY_SOURCE
        )
    if error:
        run_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=error, programmingLanguage="python"
        )
    job_facets = {"jobType": job_type_facet(target.kind)}
    return OperatorLineage(
        inputs=inputs, outputs=outputs, run_facets=run_facets, job_facets=job_facets
    )


def job_type_facet(kind: str) -> job_type_job.JobTypeJobFacet:
    return job_type_job.JobTypeJobFacet(
        processingType="BATCH", integration=INTEGRATION, jobType=JOB_TYPES[kind]
    )


def parent_run_of(task_instance: Any) -> ParentRun:
    """The task run's OpenLineage ids, as the OpenLineage provider names them in its events.

    The root (the DAG run) comes from the provider's ``lineage_root_*`` macros, which older
    provider versions lack: then the parent facet has no root."""
    from airflow.providers.openlineage.plugins import macros as typed_macros

    macros: Any = typed_macros  # the macros are untyped
    try:
        root: tuple[str | None, str | None, str | None] = (
            macros.lineage_root_job_namespace(task_instance),
            macros.lineage_root_job_name(task_instance),
            macros.lineage_root_run_id(task_instance),
        )
    except (AttributeError, TypeError):
        root = (None, None, None)
    return ParentRun(
        job_namespace=macros.lineage_job_namespace(),
        job_name=macros.lineage_job_name(task_instance),
        run_id=macros.lineage_run_id(task_instance),
        root_job_namespace=root[0],
        root_job_name=root[1],
        root_run_id=root[2],
    )


def child_job_name(target: LineageTarget, parent: ParentRun) -> str:
    """``<dag_id>.<task_id>.planasonix_sync.<connection_id>`` (``planasonix_backfill`` for a
    backfill): one job per task and Planasonix connection, so that a backend groups the runs of
    the same sync, and a mapped task's connections stay apart."""
    name = f"{parent.job_name}.{CHILD_JOB_SUFFIX[target.kind]}"
    return f"{name}.{target.connection_id}" if target.connection_id else name


def parent_facet(parent: ParentRun) -> parent_run.ParentRunFacet:
    root = None
    if parent.root_run_id and parent.root_job_name and parent.root_job_namespace:
        root = parent_run.Root(
            run=parent_run.RootRun(runId=parent.root_run_id),
            job=parent_run.RootJob(namespace=parent.root_job_namespace, name=parent.root_job_name),
        )
    return parent_run.ParentRunFacet(
        run=parent_run.Run(runId=parent.run_id),
        job=parent_run.Job(namespace=parent.job_namespace, name=parent.job_name),
        root=root,
    )


def child_run_events(
    target: LineageTarget,
    parent: ParentRun,
    lineage: OperatorLineage,  # type: ignore[type-arg]
    *,
    summary: Mapping[str, Any] | None,
    resource: Mapping[str, Any] | None,
    resource_id: str | None,
    error: str | None,
) -> list[RunEvent]:
    """START and COMPLETE (or FAIL, or ABORT for cancelled work) of the Planasonix work.

    Times come from the job's timestamps (``started_at`` .. ``finished_at``; a backfill's
    ``created_at`` .. ``updated_at``), from ``resource`` first, then from ``summary``; what is
    missing is now. The run id is derived from the Planasonix id and creation time when both are
    known, so that the same work gives the same run id if it is reported twice (a retry that
    reattached to it)."""
    stamps = [m for m in (resource, summary) if m]
    now = datetime.now(timezone.utc)
    end = _first_time(stamps, END_FIELDS[target.kind]) or now
    start = min(_first_time(stamps, START_FIELDS[target.kind]) or end, end)
    created = _first_time(stamps, ("created_at",)) or _first_time(stamps, START_FIELDS[target.kind])
    if resource_id and created is not None:
        run_id = generate_static_uuid(created, f"planasonix:{target.kind}:{resource_id}".encode())
    else:
        run_id = generate_new_uuid()
    facets: dict[str, Any] = {"parent": parent_facet(parent)}
    if "externalQuery" in lineage.run_facets:
        facets["externalQuery"] = lineage.run_facets["externalQuery"]
    job = Job(
        namespace=parent.job_namespace,
        name=child_job_name(target, parent),
        facets={"jobType": job_type_facet(target.kind)},
    )
    status = str((resource or {}).get("status") or "")
    if error is None and summary is not None:
        end_state = RunState.COMPLETE
    elif status == "cancelled":
        end_state = RunState.ABORT
    else:
        end_state = RunState.FAIL
    end_facets = dict(facets)
    if error:
        end_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=error, programmingLanguage="python"
        )
    return [
        RunEvent(
            eventType=RunState.START,
            eventTime=start.isoformat(),
            run=Run(runId=str(run_id), facets=facets),
            job=job,
            producer=PRODUCER,
        ),
        RunEvent(
            eventType=end_state,
            eventTime=end.isoformat(),
            run=Run(runId=str(run_id), facets=end_facets),
            job=job,
            inputs=list(lineage.inputs),
            outputs=list(lineage.outputs),
            producer=PRODUCER,
        ),
    ]


def _first_time(sources: list[Mapping[str, Any]], fields: tuple[str, ...]) -> datetime | None:
    for source in sources:
        for field in fields:
            moment = _parse_time(source.get(field))
            if moment is not None:
                return moment
    return None


def _parse_time(value: object) -> datetime | None:
    """An aware datetime from what the API and the summary hold (RFC 3339 strings); anything
    else, or a naive time, is no time at all."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(timezone.utc)
    return None


def emit_events(events: list[RunEvent]) -> bool:
    """Hand the events to the OpenLineage provider's adapter (its transport, its redaction of
    secrets); False when the provider has OpenLineage disabled or no listener. The adapter logs
    and swallows transport errors itself."""
    from airflow.providers.openlineage import conf as ol_conf
    from airflow.providers.openlineage.plugins.listener import get_openlineage_listener

    if ol_conf.is_disabled():
        return False
    listener: Any = get_openlineage_listener()
    if listener is None:
        return False
    for event in events:
        listener.adapter.emit(event)
    return True


def openlineage_run_ids(task_instance: Any) -> dict[str, str]:
    """The OpenLineage parent (this task) and root (its DAG run) of a task instance, as job
    metadata, so that a consumer of Planasonix's events can link back to the Airflow run.

    The root ids are left out, not failed over, where the provider's version lacks them."""
    parent = parent_run_of(task_instance)
    ids = {
        "openlineage_parent_job_namespace": parent.job_namespace,
        "openlineage_parent_job_name": parent.job_name,
        "openlineage_parent_run_id": parent.run_id,
        "openlineage_root_job_namespace": parent.root_job_namespace,
        "openlineage_root_job_name": parent.root_job_name,
        "openlineage_root_run_id": parent.root_run_id,
    }
    return {key: value for key, value in ids.items() if value is not None}
