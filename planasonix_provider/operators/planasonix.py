"""PlanasonixSyncOperator and PlanasonixBackfillOperator."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from planasonix_provider.airflow_lines import AirflowException
from planasonix_provider.api.checks import Metadata, check_open_value, require_aware
from planasonix_provider.operators._waiting import PlanasonixWaitingOperator
from planasonix_provider.operators.links import PlanasonixJobLink
from planasonix_provider.triggers.outcome import Kind, WaitOutcome

if TYPE_CHECKING:
    from planasonix_provider.api import PlanasonixClient
    from planasonix_provider.api.models import Backfill, Job, JobResults

RESULTS_ATTEMPTS = 5
RESULTS_PAUSE = 1.0
#: The job type of a connection sync, as the reference shows it; the retry search asks for it.
SYNC_JOB_TYPE = "connection_sync"
#: Job statuses a retry may reattach to: work still running, or done with results to deliver.
REATTACHABLE_JOB = ("queued", "running", "succeeded")
REATTACHABLE_BACKFILL = ("queued", "running", "completed")


def fetch_results(client: PlanasonixClient, job_id: str) -> JobResults:
    """The results of a finished job, allowing the API a moment to publish them."""
    for attempt in range(RESULTS_ATTEMPTS):
        results = client.get_job_results(job_id)
        if results is not None:
            return results
        if attempt + 1 < RESULTS_ATTEMPTS:
            time.sleep(RESULTS_PAUSE)
    raise AirflowException(
        f"Planasonix job {job_id} finished but its results were still not ready after "
        f"{RESULTS_ATTEMPTS} tries"
    )


def shard_results(client: PlanasonixClient, job_id: str) -> JobResults | None:
    """A backfill shard's results, or None when it has none to give (yet, or at all)."""
    from planasonix_provider.api.errors import ConflictError, NotFoundError

    try:
        return client.get_job_results(job_id)
    except (NotFoundError, ConflictError):
        return None


def check_priority(priority: str | None) -> None:
    """An open set: a likely typo of low, normal or high fails here; other values are sent."""
    if priority is not None:
        check_open_value("priority", priority)


def _warnings(results: JobResults) -> list[dict[str, Any]]:
    return [w.model_dump(mode="json", exclude_none=True) for w in results.warnings]


class PlanasonixSyncOperator(PlanasonixWaitingOperator):
    """Start an incremental sync of a Planasonix connection and wait for it.

    The return value (XCom ``return_value``) on success is a JSON-safe dict: ``job_id``,
    ``status``, ``connection_id``, ``pipeline_id``, ``created_at``, ``started_at``,
    ``finished_at``, ``duration_seconds``, ``metrics``, ``tables`` (``name``, ``rows_loaded``,
    ``checksum``), ``warnings`` (``code``, ``message``) and ``url``. A failed, cancelled or timed
    out job fails the task.

    :param connection_id: the Planasonix connection to sync (templated).
    :param pipeline_id: optional pipeline (templated).
    :param priority: ``low``, ``normal`` or ``high`` (templated).
    :param metadata: extra metadata for the job (templated); the Airflow identity
        (``airflow_dag_id``, ``airflow_run_id``, ``airflow_task_id``, ``airflow_map_index``,
        ``airflow_try_number``) is always added.
    :param kwargs: the waiting arguments of :class:`PlanasonixWaitingOperator`
        (``wait_for_completion``, ``deferrable``, ``poll_interval``, ``timeout``,
        ``cancel_on_kill``, ``fail_on_warnings``, ``planasonix_conn_id``) and those of
        ``BaseOperator``.
    """

    kind: ClassVar[Kind] = "job"
    template_fields: Sequence[str] = ("connection_id", "pipeline_id", "priority", "metadata")
    operator_extra_links = (PlanasonixJobLink(),)
    ui_color = "#d9ecff"

    def __init__(
        self,
        connection_id: str,
        *,
        pipeline_id: str | None = None,
        priority: str | None = None,
        metadata: Metadata | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_priority(priority)
        self.connection_id = connection_id
        self.pipeline_id = pipeline_id
        self.priority = priority
        self.metadata = metadata

    def start(self, client: PlanasonixClient, context: Any) -> Any:
        return client.trigger_sync(
            self.connection_id,
            pipeline_id=self.pipeline_id or None,
            priority=self.priority or None,
            metadata=self._job_metadata(context),
        )

    def reattachable_matches(
        self, client: PlanasonixClient, since: datetime, identity: Mapping[str, Any]
    ) -> list[Job]:
        found = client.list_jobs(
            connection_id=self.connection_id,
            pipeline_id=self.pipeline_id or None,
            type=SYNC_JOB_TYPE,
            since=since,
        )
        return [
            job for job in found if job.status in REATTACHABLE_JOB and _may_be_ours(job, identity)
        ]

    def summarize(self, client: PlanasonixClient, outcome: WaitOutcome, url: str) -> dict[str, Any]:
        job = outcome.resource or {}
        results = fetch_results(client, outcome.resource_id)
        return {
            "job_id": outcome.resource_id,
            "status": job.get("status"),
            "connection_id": job.get("connection_id"),
            "pipeline_id": job.get("pipeline_id"),
            "created_at": job.get("created_at"),
            "started_at": job.get("started_at"),
            "finished_at": job.get("finished_at"),
            "duration_seconds": job.get("duration_seconds"),
            "metrics": job.get("metrics", {}),
            "tables": [
                {"name": t.name, "rows_loaded": t.rows_loaded, "checksum": t.checksum}
                for t in results.tables
            ],
            "warnings": _warnings(results),
            "url": url,
        }


class PlanasonixBackfillOperator(PlanasonixWaitingOperator):
    """Load a historical window of a Planasonix connection and wait for the backfill.

    ``start_at`` and ``end_at`` are templated (typically ``{{ data_interval_start }}`` and
    ``{{ data_interval_end }}``) and take aware datetimes or RFC 3339 strings with a zone. The
    return value on success: ``backfill_id``, ``status``, ``connection_id``, ``start_at``,
    ``end_at``, ``progress_percent``, ``rows_processed``, ``finished_at`` (when the backfill was
    last updated), ``job_ids``, ``shards_reported`` and
    ``shards_without_results`` (the shard jobs that did or did not give results: the API does
    not promise results for shards), ``tables`` (``name`` and ``rows_loaded`` summed over the
    shards that reported), ``warnings`` and ``url``.

    :param connection_id: the Planasonix connection to backfill (templated).
    :param start_at: start of the window, inclusive (templated).
    :param end_at: end of the window, exclusive (templated); later than ``start_at``.
    :param tables: the tables to load; None loads all (templated).
    :param priority: ``low`` (the default), ``normal`` or ``high`` (templated).
    :param metadata: extra metadata, merged with the Airflow identity (templated).
    :param kwargs: the waiting arguments of :class:`PlanasonixWaitingOperator` and those of
        ``BaseOperator``.
    """

    kind: ClassVar[Kind] = "backfill"
    template_fields: Sequence[str] = (
        "connection_id",
        "start_at",
        "end_at",
        "tables",
        "priority",
        "metadata",
    )
    operator_extra_links = (PlanasonixJobLink(),)
    ui_color = "#e4d9ff"

    def __init__(
        self,
        connection_id: str,
        *,
        start_at: datetime | str,
        end_at: datetime | str,
        tables: list[str] | None = None,
        priority: str | None = "low",
        metadata: Metadata | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_priority(priority)
        self.connection_id = connection_id
        self.start_at = start_at
        self.end_at = end_at
        self.tables = tables
        self.priority = priority
        self.metadata = metadata
        if not _is_template(start_at) and not _is_template(end_at):
            parse_window(start_at, end_at)  # fail at DAG parse time, not at run time

    def start(self, client: PlanasonixClient, context: Any) -> Backfill:
        start_at, end_at = parse_window(self.start_at, self.end_at)
        return client.trigger_backfill(
            self.connection_id,
            start_at=start_at,
            end_at=end_at,
            tables=self.tables or None,
            priority=self.priority or None,
            metadata=self._job_metadata(context),
        )

    def reattachable_matches(
        self, client: PlanasonixClient, since: datetime, identity: Mapping[str, Any]
    ) -> list[Backfill]:
        start_at, end_at = parse_window(self.start_at, self.end_at)
        return [
            backfill
            for status in REATTACHABLE_BACKFILL
            for backfill in client.list_backfills(connection_id=self.connection_id, status=status)
            if (backfill.created_at is None or backfill.created_at >= since)
            and (backfill.start_at, backfill.end_at) == (start_at, end_at)
            and _may_be_ours(backfill, identity)
        ]

    def summarize(self, client: PlanasonixClient, outcome: WaitOutcome, url: str) -> dict[str, Any]:
        backfill = client.get_backfill(outcome.resource_id)
        rows: dict[str, int] = {}
        warnings: list[dict[str, Any]] = []
        reported: list[str] = []
        for job_id in backfill.job_ids:
            # Shard jobs are internal: the reference promises them no results, so a shard
            # without any is noted, never a failure of a backfill that completed.
            results = shard_results(client, job_id)
            if results is None:
                self.log.info("Planasonix backfill shard %s has no results", job_id)
                continue
            reported.append(job_id)
            for table in results.tables:
                rows[table.name] = rows.get(table.name, 0) + (table.rows_loaded or 0)
            warnings.extend({**w, "job_id": job_id} for w in _warnings(results))
        data = backfill.model_dump(mode="json", exclude_none=True)
        return {
            "backfill_id": backfill.id,
            "status": backfill.status,
            "connection_id": backfill.connection_id,
            "start_at": data.get("start_at"),
            "end_at": data.get("end_at"),
            "progress_percent": backfill.progress_percent,
            "rows_processed": backfill.rows_processed,
            "finished_at": data.get("updated_at"),
            "job_ids": backfill.job_ids,
            "shards_reported": reported,
            "shards_without_results": [j for j in backfill.job_ids if j not in reported],
            "tables": [{"name": name, "rows_loaded": count} for name, count in rows.items()],
            "warnings": warnings,
            "url": url,
        }


def _may_be_ours(resource: Job | Backfill, identity: Mapping[str, Any]) -> bool:
    """False only where the server echoes metadata naming another task instance: the reference
    promises no metadata on answers, so its absence proves nothing either way."""
    metadata = resource.metadata if isinstance(resource.metadata, dict) else {}
    return all(
        metadata.get(key, value) == value
        for key, value in identity.items()
        if key != "airflow_try_number"
    )


def _is_template(value: object) -> bool:
    return isinstance(value, str) and "{{" in value


def parse_moment(field: str, value: datetime | str) -> datetime:
    """An aware datetime from a datetime or an RFC 3339 string; naive values are refused."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(
                f"{field} must be an RFC 3339 timestamp with a zone, such as "
                f"2025-01-01T00:00:00Z, got {value!r}"
            ) from None
    return require_aware(field, value)


def parse_window(start_at: datetime | str, end_at: datetime | str) -> tuple[datetime, datetime]:
    start, end = parse_moment("start_at", start_at), parse_moment("end_at", end_at)
    if start >= end:
        raise ValueError(
            f"start_at ({start.isoformat()}) must be earlier than end_at ({end.isoformat()})"
        )
    return start, end
