"""PlanasonixSyncOperator, PlanasonixBackfillOperator and their public base,
PlanasonixWaitingOperator.

The waiting itself (the per-kind table, the outcome, timeout and cancel, the return value) is in
:mod:`planasonix_provider.wait`; this module adds what is Airflow's: starting or reattaching,
deferring, XCom, asset events and lineage.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from planasonix_provider import wait
from planasonix_provider.airflow_lines import (
    AirflowException,
    BaseOperator,
    conf,
    has,
    missing_message,
)
from planasonix_provider.api.checks import Metadata, check_open_value, require_aware
from planasonix_provider.api.errors import NotFoundError, PlanasonixError
from planasonix_provider.hooks.asset_naming import DEFAULT_ASSET_URI_TEMPLATE, check_uri_template
from planasonix_provider.hooks.connection_form import DEFAULT_CONN_ID
from planasonix_provider.operators.assets import default_alias, emit_asset_events
from planasonix_provider.operators.links import URL_XCOM_KEY, PlanasonixJobLink
from planasonix_provider.wait import Kind, MalformedEventError, WaitOutcome, seconds

if TYPE_CHECKING:
    from planasonix_provider.api import PlanasonixClient
    from planasonix_provider.api.models import Backfill, Job
    from planasonix_provider.hooks.planasonix import PlanasonixHook
    from planasonix_provider.operators.lineage import LineageTarget

# DAG files import this module, and the scheduler parses DAG files all day: the client, the
# hook and the pydantic models they build are imported where a task runs, not here.

DEFAULT_POLL_INTERVAL = 10.0
#: The task log names at most this many of the assets a sync recorded events on.
ASSETS_LOGGED = 20
#: How much earlier than the DAG run's start ``reattach_on_retry`` searches, for clock skew
#: between Airflow and Planasonix.
REATTACH_CLOCK_MARGIN = timedelta(minutes=1)


def airflow_identity(context: Mapping[str, Any]) -> dict[str, str | int]:
    """Where a Planasonix job came from, so that it can be traced back to its task instance."""
    ti = context["ti"]
    return {
        "airflow_dag_id": ti.dag_id,
        "airflow_run_id": ti.run_id,
        "airflow_task_id": ti.task_id,
        "airflow_map_index": ti.map_index,
        "airflow_try_number": ti.try_number,
    }


class PlanasonixWaitingOperator(BaseOperator):
    """Base of the operators that start Planasonix work and wait for it.

    Subclasses say what to start (:meth:`start`) and how to find their work again on a retry
    (:meth:`reattachable_matches`); this class owns reattaching on retry, waiting on the worker
    or in the triggerer (both through :mod:`planasonix_provider.wait`), and turning the end of
    the wait into the return value or a failure.

    The return value is the same dict in every mode (:func:`planasonix_provider.wait.summarize`):
    with ``wait_for_completion=False`` it holds the work as it was when started, with empty
    ``tables`` and ``warnings``.

    :param wait_for_completion: False returns the work as soon as it is started.
    :param deferrable: wait in the triggerer instead of holding a worker slot.
    :param poll_interval: seconds (or a timedelta) between status checks.
    :param timeout: seconds (or a timedelta) the wait may take; past it the task fails, and the
        work is cancelled unless ``cancel_on_timeout=False``. None waits for ever.
    :param cancel_on_timeout: cancel the work when ``timeout`` passes (default); False leaves it
        running in Planasonix.
    :param cancel_on_kill: cancel the work when the task is killed, marked or cleared.
    :param fail_on_warnings: fail the task when the results hold warnings.
    :param planasonix_conn_id: the Airflow connection of type ``planasonix`` (templated).
    :param reattach_on_retry: on Airflow lines without the task state store (before 3.3), let a
        retry reattach to the one still useful piece of work (queued, running, in a status the
        provider does not know, or succeeded) that matches this
        task, created since the DAG run started, if exactly one matches. The API cannot prove whose
        it is (see "Airflow versions" in the docs). On 3.3+ the state store decides and this
        is ignored.
    :param asset_uri_template: how to name the asset of each loaded table (placeholders in
        :data:`~planasonix_provider.hooks.asset_naming.URI_PLACEHOLDERS`); default: the
        connection's ``asset_uri_template`` extra, else ``planasonix://{connection_id}/{table}``.
        Without ``outlets``, the operator declares an asset alias and emits one asset event per
        loaded table through it; with ``outlets``, it fills in the events of those.
    :param openlineage_run_ids: add the OpenLineage parent and root run ids of this task to
        the job's metadata (needs the OpenLineage provider).
    """

    kind: ClassVar[Kind]

    def __init__(
        self,
        *,
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float | timedelta = DEFAULT_POLL_INTERVAL,
        timeout: float | timedelta | None = None,
        cancel_on_timeout: bool = True,
        cancel_on_kill: bool = True,
        fail_on_warnings: bool = False,
        planasonix_conn_id: str = DEFAULT_CONN_ID,
        reattach_on_retry: bool = False,
        asset_uri_template: str | None = None,
        openlineage_run_ids: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = seconds("poll_interval", poll_interval)
        self.timeout = None if timeout is None else seconds("timeout", timeout)
        self.cancel_on_timeout = cancel_on_timeout
        self.cancel_on_kill = cancel_on_kill
        self.fail_on_warnings = fail_on_warnings
        self.planasonix_conn_id = planasonix_conn_id
        self.reattach_on_retry = reattach_on_retry
        self._active_id: str | None = None
        self.asset_uri_template = (
            None
            if asset_uri_template is None
            else check_uri_template(asset_uri_template, "asset_uri_template")
        )
        self.openlineage_run_ids = openlineage_run_ids
        if wait_for_completion and not self.outlets:
            dag = self.get_dag()
            self.outlets = [default_alias(dag.dag_id if dag else None, self.task_id)]
        self._lineage_summary: dict[str, Any] | None = None
        self._lineage_failure: tuple[str, str] | None = None
        self._lineage_resource: dict[str, Any] | None = None

    @cached_property
    def hook(self) -> PlanasonixHook:
        from planasonix_provider.hooks.planasonix import PlanasonixHook

        return PlanasonixHook(self.planasonix_conn_id)

    @property
    def _state_key(self) -> str:
        return f"planasonix_{self.kind}_id"

    # --- To be provided by subclasses ------------------------------------------------------

    def start(self, client: PlanasonixClient, context: Any) -> Job | Backfill:
        raise NotImplementedError

    def reattachable_matches(
        self, client: PlanasonixClient, since: datetime, identity: Mapping[str, Any]
    ) -> list[Job] | list[Backfill]:
        """Queued, running or succeeded work created since ``since`` that this task could have
        started (``identity``: the task instance, as :func:`airflow_identity` gives it)."""
        raise NotImplementedError

    # --- The flow --------------------------------------------------------------------------

    def execute(self, context: Any) -> Any:
        client = self.hook.client
        resource = self._start_or_reattach(client, context)
        self._active_id = resource.id
        url = self.hook.resource_url(self.kind, resource.id)
        context["ti"].xcom_push(key=self._state_key, value=resource.id)
        context["ti"].xcom_push(key=URL_XCOM_KEY, value=url)
        self.log.info("Planasonix %s %s is %s: %s", self.kind, resource.id, resource.status, url)
        if not self.wait_for_completion:
            payload = resource.model_dump(mode="json", exclude_none=True)
            return self._summarize(client, resource.id, payload, url)
        deadline = None if self.timeout is None else time.time() + self.timeout
        outcome = wait.outcome_of(self.kind, resource)
        if outcome is None and self.deferrable:
            if self.cancel_on_kill and not has("trigger on_kill"):
                self.log.info("%s", missing_message("trigger on_kill"))
            # Imported here: DAG parsing never needs airflow.triggers.base (docs/performance.md).
            from planasonix_provider.triggers.planasonix import PlanasonixJobTrigger

            self.defer(
                trigger=PlanasonixJobTrigger(
                    resource_id=resource.id,
                    kind=self.kind,
                    planasonix_conn_id=self.planasonix_conn_id,
                    poll_interval=self.poll_interval,
                    deadline=deadline,
                    cancel_on_timeout=self.cancel_on_timeout,
                    cancel_on_kill=self.cancel_on_kill,
                ),
                method_name="execute_complete",
            )
        if outcome is None:
            outcome = self._wait_on_worker(client, resource.id, deadline)
        return self._finish(client, outcome, context)

    def execute_complete(self, context: Any, event: Any = None) -> Any:
        try:
            outcome = WaitOutcome.from_event(event)
        except MalformedEventError as exc:
            raise AirflowException(f"Planasonix {self.kind} wait ended badly: {exc}") from None
        return self._finish(self.hook.client, outcome, context)

    def _start_or_reattach(self, client: PlanasonixClient, context: Any) -> Job | Backfill:
        """Reattach to the previous try's work while it is still useful, else start new work.

        The id is kept in Airflow's task state store (3.3+), which survives retries. Without
        it, a retry starts new work and says so, unless ``reattach_on_retry`` finds the one
        match (:meth:`_reattach_without_store`).
        """
        store = context.get("task_state_store")
        if store is None:
            found = self._reattach_without_store(client, context)
            return found if found is not None else self.start(client, context)
        previous = store.get(self._state_key)
        if isinstance(previous, str) and previous:
            try:
                resource: Job | Backfill | None = wait.KINDS_TABLE[self.kind].fetch(
                    client, previous
                )
            except NotFoundError:
                resource = None
            if resource is not None and self._still_useful(resource):
                self._log_reattach(resource, "of a previous try")
                return resource
            self.log.info(
                "The previous try's %s %s ended %s: starting a new one",
                self.kind,
                previous,
                "unknown" if resource is None else resource.status,
            )
        resource = self.start(client, context)
        store.set(self._state_key, resource.id)
        return resource

    def _reattach_without_store(
        self, client: PlanasonixClient, context: Any
    ) -> Job | Backfill | None:
        """Before Airflow 3.3 a retry cannot know its previous try's work: find it by search, if
        the user allowed it, and in every case say in the log what a retry does."""
        if context["ti"].try_number <= 1:
            return None
        if not self.reattach_on_retry:
            self.log.warning(
                "%s. This retry starts a new Planasonix %s (reattach_on_retry=False).",
                missing_message("task state store"),
                self.kind,
            )
            return None
        run_start = getattr(context.get("dag_run"), "start_date", None)
        if run_start is None:
            self.log.warning(
                "reattach_on_retry: the DAG run has no start date to search from: starting a "
                "new Planasonix %s",
                self.kind,
            )
            return None
        candidates = self.reattachable_matches(
            client, run_start - REATTACH_CLOCK_MARGIN, airflow_identity(context)
        )
        if len(candidates) == 1:
            self._log_reattach(
                candidates[0],
                "found by reattach_on_retry (the only match since the run started; the API "
                "cannot prove it is this task's)",
            )
            return candidates[0]
        self.log.warning(
            "reattach_on_retry: %d %ss match since %s (%s), not exactly one: starting a new %s",
            len(candidates),
            self.kind,
            run_start.isoformat(),
            ", ".join(c.id for c in candidates) or "none",
            self.kind,
        )
        return None

    def _log_reattach(self, resource: Job | Backfill, origin: str) -> None:
        self.log.info(
            "Reattaching to Planasonix %s %s %s (%s): no new %s started",
            self.kind,
            resource.id,
            origin,
            resource.status,
            self.kind,
        )

    def _still_useful(self, resource: Job | Backfill) -> bool:
        return wait.is_still_useful(self.kind, resource)

    def _wait_on_worker(
        self, client: PlanasonixClient, resource_id: str, deadline: float | None
    ) -> WaitOutcome:
        return wait.wait_blocking(
            client,
            self.kind,
            resource_id,
            poll_interval=self.poll_interval,
            deadline=deadline,
            cancel_on_timeout=self.cancel_on_timeout,
            logger=self.log,
        )

    def _summarize(
        self, client: PlanasonixClient, resource_id: str, resource: dict[str, Any] | None, url: str
    ) -> dict[str, Any]:
        try:
            return wait.summarize(client, self.kind, resource_id, resource, url)
        except wait.ResultsNotReadyError as exc:
            raise AirflowException(f"{exc}. See {url}") from None

    def _finish(self, client: PlanasonixClient, outcome: WaitOutcome, context: Any) -> Any:
        self._active_id = None
        resource = outcome.resource
        if resource is None and outcome.succeeded:  # a trigger's event does not carry it
            resource = wait.read_resource(client, self.kind, outcome.resource_id)
        self._lineage_resource = resource
        url = self.hook.resource_url(self.kind, outcome.resource_id)
        if not outcome.succeeded:
            self._lineage_failure = (outcome.resource_id, outcome.message)
            raise AirflowException(f"{outcome.message}. See {url}")
        summary = self._summarize(client, outcome.resource_id, resource, url)
        for warning in summary.get("warnings", []):
            self.log.warning(
                "Planasonix warning %s: %s", warning.get("code"), warning.get("message")
            )
        if self.fail_on_warnings and summary.get("warnings"):
            raise AirflowException(
                f"Planasonix {self.kind} {outcome.resource_id} succeeded with "
                f"{len(summary['warnings'])} warning(s) and fail_on_warnings is set. See {url}"
            )
        self._lineage_summary = summary
        self._emit_asset_events(summary, context)
        store = context.get("task_state_store")
        if store is not None:
            store.delete(self._state_key)  # delivered: a later clear should start fresh work
        return summary

    def on_kill(self) -> None:
        """Worker mode: cancel the work this task started, unless ``cancel_on_kill=False``."""
        if not self.cancel_on_kill or self._active_id is None:
            return
        note = wait.cancel_note(self.hook.client, self.kind, self._active_id)
        wait.log_cancel(self.log, wait.kill_message(self.kind, self._active_id, note), note)

    # --- Data-aware Airflow: asset events and OpenLineage ----------------------------------

    def _emit_asset_events(self, summary: dict[str, Any], context: Any) -> None:
        """One asset event per loaded table, from the summary: no further request."""
        outlet_events = context.get("outlet_events")
        if outlet_events is None or not self.outlets:
            return
        template = (
            self.asset_uri_template
            or self.hook.settings.asset_uri_template
            or DEFAULT_ASSET_URI_TEMPLATE
        )
        report = emit_asset_events(
            list(self.outlets),
            outlet_events,
            summary,
            template,
            str(getattr(self, "connection_id", "")),
        )
        recorded = report["emitted"] + report["described"]
        if recorded:
            shown = ", ".join(recorded[:ASSETS_LOGGED])
            more = len(recorded) - ASSETS_LOGGED
            self.log.info(
                "Asset events for %d table(s): %s%s",
                len(recorded),
                shown,
                f" and {more} more" if more > 0 else "",
            )
        for uri in report["unmatched"]:
            self.log.warning(
                "Outlet %s names no table this %s loaded: Airflow records its event without "
                "Planasonix details (check the asset URI template)",
                uri,
                self.kind,
            )

    def _job_metadata(self, context: Any) -> dict[str, Any]:
        """The user's metadata, the Airflow identity and, when asked, the OpenLineage run ids."""
        metadata: dict[str, Any] = {**(getattr(self, "metadata", None) or {})}
        metadata.update(airflow_identity(context))
        if self.openlineage_run_ids:
            try:
                from planasonix_provider.operators.lineage import openlineage_run_ids

                metadata.update(openlineage_run_ids(context["ti"]))
            except ImportError:
                self.log.warning(
                    "openlineage_run_ids is set but the OpenLineage provider is not installed "
                    "(pip install 'airflow-provider-planasonix[openlineage]'): no run ids sent"
                )
        return metadata

    def _lineage_target(self) -> LineageTarget:
        from planasonix_provider.operators.lineage import LineageTarget

        connection_id = str(
            (self._lineage_summary or {}).get("connection_id") or getattr(self, "connection_id", "")
        )
        try:
            settings = self.hook.settings
        except Exception:  # lineage must never be why a task fails; the task reports this
            return LineageTarget(self.kind, connection_id)
        return LineageTarget(
            self.kind,
            connection_id,
            source_namespace=settings.lineage_source_namespace,
            destination_namespace=settings.lineage_destination_namespace,
        )

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Called by the OpenLineage provider: the loaded tables as output datasets."""
        from planasonix_provider.operators.lineage import operator_lineage

        return operator_lineage(
            self._lineage_target(),
            self._lineage_summary,
            task_instance=task_instance,
            resource=self._lineage_resource,
        )

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        """Called by the OpenLineage provider: the Planasonix id and why it failed."""
        from planasonix_provider.operators.lineage import operator_lineage

        resource_id, message = self._lineage_failure or (self._active_id, None)
        return operator_lineage(
            self._lineage_target(),
            None,
            resource_id,
            message,
            task_instance=task_instance,
            resource=self._lineage_resource or self._read_for_lineage(resource_id),
        )

    def _read_for_lineage(self, resource_id: str | None) -> dict[str, Any] | None:
        """The failed work as JSON, for its times and status: a trigger's event does not carry
        it (see ``WaitOutcome.to_event``). Lineage never fails the task over it."""
        if resource_id is None:
            return None
        try:
            return wait.read_resource(self.hook.client, self.kind, resource_id)
        except PlanasonixError as exc:
            self.log.warning("Could not read %s for its lineage: %s", self.kind, exc)
            return None


#: The job type of a connection sync, as the reference shows it; the retry search asks for it.
SYNC_JOB_TYPE = "connection_sync"


def check_priority(priority: str | None) -> None:
    """An open set: a likely typo of low, normal or high fails here; other values are sent."""
    if priority is not None:
        check_open_value("priority", priority)


class PlanasonixSyncOperator(PlanasonixWaitingOperator):
    """Start an incremental sync of a Planasonix connection and wait for it.

    The return value (XCom ``return_value``) is a JSON-safe dict with the same keys in every mode
    (and from :class:`~planasonix_provider.sensors.planasonix.PlanasonixJobSensor`): ``job_id``,
    ``status``, ``connection_id``, ``pipeline_id``, ``created_at``, ``started_at``,
    ``finished_at``, ``duration_seconds``, ``metrics``, ``tables`` (``name``, ``rows_loaded``,
    ``checksum``), ``warnings`` (``code``, ``message``) and ``url``; ``tables`` and ``warnings``
    are empty until the job has succeeded (``wait_for_completion=False``). A failed, cancelled or
    timed out job fails the task.

    :param connection_id: the Planasonix connection to sync (templated).
    :param pipeline_id: optional pipeline (templated).
    :param priority: ``low``, ``normal`` or ``high`` (templated).
    :param metadata: extra metadata for the job (templated); the Airflow identity
        (``airflow_dag_id``, ``airflow_run_id``, ``airflow_task_id``, ``airflow_map_index``,
        ``airflow_try_number``) is always added.
    :param kwargs: the waiting arguments of :class:`PlanasonixWaitingOperator`
        (``wait_for_completion``, ``deferrable``, ``poll_interval``, ``timeout``,
        ``cancel_on_timeout``, ``cancel_on_kill``, ``fail_on_warnings``, ``planasonix_conn_id``,
        ``reattach_on_retry``, ``asset_uri_template``, ``openlineage_run_ids``) and those of
        ``BaseOperator``.
    """

    kind: ClassVar[Kind] = "job"
    template_fields: Sequence[str] = (
        "connection_id",
        "pipeline_id",
        "priority",
        "metadata",
        "planasonix_conn_id",
    )
    operator_extra_links = (PlanasonixJobLink(),)
    ui_color = "#d9ecff"

    def __init__(
        self,
        *,
        connection_id: str,
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
        return [job for job in found if self._still_useful(job) and _may_be_ours(job, identity)]


class PlanasonixBackfillOperator(PlanasonixWaitingOperator):
    """Load a historical window of a Planasonix connection and wait for the backfill.

    ``start_at`` and ``end_at`` are templated (typically ``{{ data_interval_start }}`` and
    ``{{ data_interval_end }}``) and take aware datetimes or RFC 3339 strings with a zone. The
    return value, the same keys in every mode and from the backfill sensor: ``backfill_id``,
    ``status``, ``connection_id``, ``start_at``, ``end_at``, ``progress_percent``,
    ``rows_processed``, ``finished_at`` (when the backfill was last updated), ``job_ids``,
    ``shards_reported`` and ``shards_without_results`` (the shard jobs that did or did not give
    results: the API does not promise results for shards), ``tables`` (``name`` and
    ``rows_loaded`` summed over the shards that reported), ``warnings`` and ``url``; the results
    (``shards_reported``, ``tables``, ``warnings``) are empty until the backfill has completed.

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
        "planasonix_conn_id",
    )
    operator_extra_links = (PlanasonixJobLink(),)
    ui_color = "#e4d9ff"

    def __init__(
        self,
        *,
        connection_id: str,
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
        # Not filtered by status on the server: a status this provider does not know yet is
        # still running work, and leaving it out would start the backfill twice.
        return [
            backfill
            for backfill in client.list_backfills(connection_id=self.connection_id)
            if self._still_useful(backfill)
            and (backfill.created_at is None or backfill.created_at >= since)
            and (backfill.start_at, backfill.end_at) == (start_at, end_at)
            and _may_be_ours(backfill, identity)
        ]


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
