"""Waiting on Planasonix work: one place for the worker, the trigger, the sensor and the hook.

Airflow-free. What differs between a job and a backfill is data in :data:`KINDS_TABLE` (how to
fetch it, sync and async, how to cancel it, which statuses end it, are known, mean success, and
how it reads as a return value); everything else is written once:

- :func:`outcome_of`: the :class:`WaitOutcome` a fetched resource stands for, or None;
- :func:`wait_blocking`: poll until the work ends or the deadline passes (worker mode, the hook);
- :func:`cancel_note` / :func:`acancel_note`: cancel and say how it went, for the timeout and
  for a killed task, in both modes; :func:`timeout_outcome` words the timeout once;
- :func:`summarize`: the one return-value shape of a sync (or backfill) in every mode.

A wait ends in exactly one :class:`WaitOutcome`. It travels from the triggerer to the worker as a
``TriggerEvent`` payload (a JSON-safe dict, without the resource: :meth:`WaitOutcome.to_event`),
so :meth:`WaitOutcome.from_event` checks what arrives instead of trusting it.

The API has no cancel for a backfill: cancelling one cancels each of its jobs that is not
finished, which ends the backfill as cancelled.

DAG files import the operators, which import this module: the clients and the pydantic models
are imported where a task runs, not here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

from planasonix_provider.api.status import (
    BACKFILL_KNOWN_STATUSES,
    BACKFILL_TERMINAL_STATUSES,
    JOB_KNOWN_STATUSES,
    JOB_TERMINAL_STATUSES,
    SUCCESS_STATUS,
    JobStatus,
)

if TYPE_CHECKING:
    from planasonix_provider.api import AsyncPlanasonixClient, PlanasonixClient
    from planasonix_provider.api.models import Backfill, Job, JobResults
    from planasonix_provider.api.operations import Operation

log = logging.getLogger(__name__)

Kind = Literal["job", "backfill"]
OutcomeStatus = Literal["success", "failed", "cancelled", "timeout", "error"]
KINDS: tuple[Kind, ...] = ("job", "backfill")
OUTCOME_STATUSES: tuple[OutcomeStatus, ...] = ("success", "failed", "cancelled", "timeout", "error")

#: Re-reads of a backfill while cancelling: each catches shards created since the last one.
CANCEL_ROUNDS = 5
#: Tries, and the pause between them, for the results of a job that has just ended.
RESULTS_ATTEMPTS = 5
RESULTS_PAUSE = 1.0


class MalformedEventError(ValueError):
    """A trigger event that is not one this provider sends."""


class ResultsNotReadyError(RuntimeError):
    """A job ended but the API did not publish its results in time."""


# --- Outcome ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class WaitOutcome:
    status: OutcomeStatus
    kind: Kind
    resource_id: str
    message: str
    resource: dict[str, Any] | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == "success"

    def to_event(self) -> dict[str, Any]:
        """The payload, without the resource: Airflow keeps each event in its task instance's
        ``next_kwargs``, and the triggerer's supervisor pays for every byte of it on every
        pass while the task waits to resume (docs/scale.md measures it). The receiving side
        reads the resource again on the worker where it needs it (:func:`summarize`). A success
        travels without its message, which :meth:`from_event` rebuilds: at 10,000 waiting tasks
        the bytes showed in how soon Airflow scheduled them."""
        event = {"status": self.status, "kind": self.kind, "resource_id": self.resource_id}
        if self.status != "success":
            event["message"] = self.message
        return event

    @classmethod
    def from_event(cls, event: object) -> WaitOutcome:
        if event is None:
            raise MalformedEventError(
                "the trigger sent no event (None): the wait ended without a result"
            )
        if not isinstance(event, dict):
            raise MalformedEventError(
                f"the trigger event is a {type(event).__name__}, expected a dict: {event!r:.200}"
            )
        status, kind, resource_id = (event.get(k) for k in ("status", "kind", "resource_id"))
        if status not in OUTCOME_STATUSES:
            raise MalformedEventError(
                f"the trigger event has an unknown status {status!r}; "
                f"expected one of {', '.join(OUTCOME_STATUSES)}"
            )
        if kind not in KINDS or not isinstance(resource_id, str) or not resource_id:
            raise MalformedEventError(
                f"the trigger event lacks a valid kind and resource_id: {event!r:.200}"
            )
        resource = event.get("resource")
        if resource is not None and not isinstance(resource, dict):
            raise MalformedEventError("the trigger event's resource is not a JSON object")
        message = event.get("message")
        if message is None and status == "success":
            message = success_message(kind, resource_id)
        return cls(status, kind, resource_id, str(message or ""), resource)


def label(kind: Kind, resource_id: str) -> str:
    return f"Planasonix {kind} {resource_id}"


def success_message(kind: Kind, resource_id: str) -> str:
    return f"{label(kind, resource_id)} {KINDS_TABLE[kind].success}"


def describe_error(resource: Job | Backfill) -> str:
    error = resource.error
    if error is None or not (error.code or error.message):
        return "no error detail given"
    return f"{error.code or 'error'}: {error.message or '(no message)'}"


def outcome_of(kind: Kind, resource: Job | Backfill) -> WaitOutcome | None:
    """The outcome a fetched job or backfill stands for, or None while it is not terminal."""
    table = KINDS_TABLE[kind]
    if resource.status not in table.terminal:
        return None
    payload = resource.model_dump(mode="json", exclude_none=True)
    name = label(kind, resource.id)
    if resource.status == table.success:
        return WaitOutcome(
            "success", kind, resource.id, success_message(kind, resource.id), payload
        )
    if resource.status == "cancelled":
        return WaitOutcome(
            "cancelled", kind, resource.id, f"{name} was cancelled in Planasonix", payload
        )
    return WaitOutcome(
        "failed", kind, resource.id, f"{name} failed: {describe_error(resource)}", payload
    )


def error_outcome(kind: Kind, resource_id: str, message: str) -> WaitOutcome:
    """Not the work's end but a failure to watch it (a refused key, an unknown id)."""
    return WaitOutcome("error", kind, resource_id, f"{label(kind, resource_id)}: {message}")


def timeout_outcome(kind: Kind, resource_id: str, note: str) -> WaitOutcome:
    """The one timeout message of both modes; ``note`` from :func:`cancel_note` or
    :data:`LEFT_RUNNING`."""
    return WaitOutcome(
        "timeout",
        kind,
        resource_id,
        f"{label(kind, resource_id)} did not finish before the task's timeout; it was {note}",
    )


def is_still_useful(kind: Kind, resource: Job | Backfill) -> bool:
    """Whether a retry should reattach: running work is worth waiting for, succeeded work has
    results to deliver; work that is being cancelled will only end ``cancelled``."""
    if resource.status == JobStatus.CANCELLING.value:
        return False
    table = KINDS_TABLE[kind]
    return resource.status not in table.terminal or resource.status == table.success


# --- Cancelling ------------------------------------------------------------------------------

LEFT_RUNNING = "left running"
#: How a note from :func:`cancel_note` begins when the cancel request failed.
NOT_CANCELLED = "NOT cancelled"


def _cancel_job(client: PlanasonixClient, job_id: str) -> list[str]:
    client.cancel_job(job_id)
    return [job_id]


async def _acancel_job(client: AsyncPlanasonixClient, job_id: str) -> list[str]:
    await client.cancel_job(job_id)
    return [job_id]


def _cancel_backfill(client: PlanasonixClient, backfill_id: str) -> list[str]:
    """Cancel each unfinished shard; return the ids of the jobs asked to stop.

    A backfill may create shard jobs while it is being cancelled (the reference says only that
    large windows shard): its shards are re-read after each round of cancels, until a read shows
    no shard left to ask, the backfill has ended, or the rounds run out.
    """
    asked: list[str] = []
    cancelled_now: list[str] = []
    for _ in range(CANCEL_ROUNDS):
        backfill = client.get_backfill(backfill_id)
        fresh = [job_id for job_id in backfill.job_ids if job_id not in asked]
        if not fresh:
            break
        for job_id in fresh:
            asked.append(job_id)
            if client.get_job(job_id).status not in JOB_TERMINAL_STATUSES:
                client.cancel_job(job_id)
                cancelled_now.append(job_id)
        if backfill.status in BACKFILL_TERMINAL_STATUSES:
            break
    return cancelled_now


async def _acancel_backfill(client: AsyncPlanasonixClient, backfill_id: str) -> list[str]:
    """As :func:`_cancel_backfill`, on the async client."""
    asked: list[str] = []
    cancelled_now: list[str] = []
    for _ in range(CANCEL_ROUNDS):
        backfill = await client.get_backfill(backfill_id)
        fresh = [job_id for job_id in backfill.job_ids if job_id not in asked]
        if not fresh:
            break
        for job_id in fresh:
            asked.append(job_id)
            if (await client.get_job(job_id)).status not in JOB_TERMINAL_STATUSES:
                await client.cancel_job(job_id)
                cancelled_now.append(job_id)
        if backfill.status in BACKFILL_TERMINAL_STATUSES:
            break
    return cancelled_now


def cancel(client: PlanasonixClient, kind: Kind, resource_id: str) -> list[str]:
    """Cancel the work; return the ids of the jobs asked to stop."""
    return KINDS_TABLE[kind].cancel(client, resource_id)


async def acancel(client: AsyncPlanasonixClient, kind: Kind, resource_id: str) -> list[str]:
    """Cancel the work; return the ids of the jobs asked to stop (see :func:`cancel`)."""
    return await KINDS_TABLE[kind].acancel(client, resource_id)


def _note(cancelled: list[str]) -> str:
    return f"cancelled ({', '.join(cancelled) or 'nothing was still running'})"


def _failed_note(exc: Exception) -> str:
    return f"{NOT_CANCELLED}: the cancel request failed: {exc}"


def cancel_note(client: PlanasonixClient, kind: Kind, resource_id: str) -> str:
    """Cancel and say how it went, in the words of every timeout and kill message; a failed
    cancel is reported, not raised: the task fails for its own reason."""
    from planasonix_provider.api.errors import PlanasonixError

    try:
        return _note(cancel(client, kind, resource_id))
    except PlanasonixError as exc:
        return _failed_note(exc)


async def acancel_note(client: AsyncPlanasonixClient, kind: Kind, resource_id: str) -> str:
    """As :func:`cancel_note`, on the async client."""
    from planasonix_provider.api.errors import PlanasonixError

    try:
        return _note(await acancel(client, kind, resource_id))
    except PlanasonixError as exc:
        return _failed_note(exc)


def kill_message(kind: Kind, resource_id: str, note: str) -> str:
    """The one log line of a killed task, in both modes."""
    return f"Task killed: {label(kind, resource_id)} was {note}"


def log_cancel(logger: logging.Logger | Any, message: str, note: str) -> None:
    """Log a timeout's or a kill's ``message``: an error when the cancel request failed."""
    if note.startswith(NOT_CANCELLED):
        logger.error("%s", message)
    else:
        logger.warning("%s", message)


# --- Waiting on the worker -------------------------------------------------------------------


def log_status(
    logger: logging.Logger | Any,
    kind: Kind,
    resource_id: str,
    status: str,
    *,
    known_at_debug: bool = False,
) -> None:
    """Log a new status once: a status unknown to this provider is a warning, and the wait goes
    on as if the work were running (DESIGN.md: an unknown status is non-terminal).

    ``known_at_debug``: a known status at DEBUG, for the triggerer, whose supervisor handles every
    line of every trigger (docs/scale.md measures what one line per trigger costs there).
    """
    if status in KINDS_TABLE[kind].known:
        (logger.debug if known_at_debug else logger.info)(
            "%s is %s", label(kind, resource_id), status
        )
    else:
        logger.warning(
            "%s has status %r, unknown to this provider: waiting on as if it were running",
            label(kind, resource_id),
            status,
        )


def wait_blocking(
    client: PlanasonixClient,
    kind: Kind,
    resource_id: str,
    *,
    poll_interval: float,
    deadline: float | None,
    cancel_on_timeout: bool = True,
    logger: logging.Logger | Any = log,
) -> WaitOutcome:
    """Poll until the work ends, or until ``deadline`` (absolute UNIX time) passes: then cancel
    it (``cancel_on_timeout``) or leave it running, and return a ``timeout`` outcome."""
    fetch = KINDS_TABLE[kind].fetch
    reported = None
    while True:
        if deadline is not None and time.time() >= deadline:
            note = cancel_note(client, kind, resource_id) if cancel_on_timeout else LEFT_RUNNING
            timed_out = timeout_outcome(kind, resource_id, note)
            log_cancel(logger, timed_out.message, note)
            return timed_out
        resource = fetch(client, resource_id)
        outcome = outcome_of(kind, resource)
        if outcome is not None:
            return outcome
        if resource.status != reported:
            reported = resource.status
            log_status(logger, kind, resource_id, resource.status)
        pause = poll_interval
        if deadline is not None:
            pause = min(pause, max(deadline - time.time(), 0.0))
        time.sleep(pause)


# --- The return value ------------------------------------------------------------------------


def fetch_results(client: PlanasonixClient, job_id: str) -> JobResults:
    """The results of a finished job, allowing the API a moment to publish them."""
    for attempt in range(RESULTS_ATTEMPTS):
        results = client.get_job_results(job_id)
        if results is not None:
            return results
        if attempt + 1 < RESULTS_ATTEMPTS:
            time.sleep(RESULTS_PAUSE)
    raise ResultsNotReadyError(
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


def _warnings(results: JobResults) -> list[dict[str, Any]]:
    return [w.model_dump(mode="json", exclude_none=True) for w in results.warnings]


def _summarize_job(
    client: PlanasonixClient, job_id: str, job: dict[str, Any], url: str
) -> dict[str, Any]:
    tables: list[dict[str, Any]] = []
    warnings: list[dict[str, Any]] = []
    if job.get("status") == SUCCESS_STATUS["job"]:
        results = fetch_results(client, job_id)
        tables = [
            {"name": t.name, "rows_loaded": t.rows_loaded, "checksum": t.checksum}
            for t in results.tables
        ]
        warnings = _warnings(results)
    return {
        "job_id": job_id,
        "status": job.get("status"),
        "connection_id": job.get("connection_id"),
        "pipeline_id": job.get("pipeline_id"),
        "created_at": job.get("created_at"),
        "started_at": job.get("started_at"),
        "finished_at": job.get("finished_at"),
        "duration_seconds": job.get("duration_seconds"),
        "metrics": job.get("metrics", {}),
        "tables": tables,
        "warnings": warnings,
        "url": url,
    }


def _summarize_backfill(
    client: PlanasonixClient, backfill_id: str, backfill: dict[str, Any], url: str
) -> dict[str, Any]:
    job_ids: list[str] = list(backfill.get("job_ids") or [])
    rows: dict[str, int] = {}
    warnings: list[dict[str, Any]] = []
    reported: list[str] = []
    if backfill.get("status") == SUCCESS_STATUS["backfill"]:
        # Re-read: the event's copy may predate the last shard's report.
        backfill = client.get_backfill(backfill_id).model_dump(mode="json", exclude_none=True)
        job_ids = list(backfill.get("job_ids") or [])
        for job_id in job_ids:
            # Shard jobs are internal: the reference promises them no results, so a shard
            # without any is noted, never a failure of a backfill that completed.
            results = shard_results(client, job_id)
            if results is None:
                log.info("Planasonix backfill shard %s has no results", job_id)
                continue
            reported.append(job_id)
            for table in results.tables:
                rows[table.name] = rows.get(table.name, 0) + (table.rows_loaded or 0)
            warnings.extend({**w, "job_id": job_id} for w in _warnings(results))
    return {
        "backfill_id": backfill_id,
        "status": backfill.get("status"),
        "connection_id": backfill.get("connection_id"),
        "start_at": backfill.get("start_at"),
        "end_at": backfill.get("end_at"),
        "progress_percent": backfill.get("progress_percent"),
        "rows_processed": backfill.get("rows_processed"),
        "finished_at": backfill.get("updated_at"),
        "job_ids": job_ids,
        "shards_reported": reported,
        "shards_without_results": [j for j in job_ids if j not in reported],
        "tables": [{"name": name, "rows_loaded": count} for name, count in rows.items()],
        "warnings": warnings,
        "url": url,
    }


def summarize(
    client: PlanasonixClient,
    kind: Kind,
    resource_id: str,
    resource: dict[str, Any] | None,
    url: str,
) -> dict[str, Any]:
    """The return value of a sync (or backfill) in every mode and of the sensor: the same keys
    whether or not the wait happened, with results (``tables``, ``warnings``) once the work has
    succeeded. ``resource`` is the job or backfill as JSON; None reads it first."""
    if resource is None:
        resource = read_resource(client, kind, resource_id)
    return KINDS_TABLE[kind].summarize(client, resource_id, resource, url)


def read_resource(client: PlanasonixClient, kind: Kind, resource_id: str) -> dict[str, Any]:
    """The job or backfill as JSON without ``null`` fields, as a trigger's event used to carry
    it (:meth:`WaitOutcome.to_event`)."""
    return KINDS_TABLE[kind].fetch(client, resource_id).model_dump(mode="json", exclude_none=True)


# --- The table -------------------------------------------------------------------------------


def _job_operation(job_id: str) -> Operation[Job]:
    import planasonix_provider.api.operations as ops

    return ops.get_job(job_id)


def _backfill_operation(backfill_id: str) -> Operation[Backfill]:
    import planasonix_provider.api.operations as ops

    return ops.get_backfill(backfill_id)


class WaitKind:
    """What waiting needs to know about one kind of Planasonix work.

    A plain class, not a dataclass: DAG files import this module, and a dataclass costs the
    scheduler's parsing a generated ``__init__`` per class.
    """

    __slots__ = (
        "acancel",
        "cancel",
        "fetch",
        "known",
        "name",
        "operation",
        "success",
        "summarize",
        "terminal",
    )

    def __init__(
        self,
        *,
        name: Kind,
        terminal: frozenset[str],
        known: frozenset[str],
        success: str,
        fetch: Callable[[Any, str], Job | Backfill],
        operation: Callable[[str], Operation[Any]],
        cancel: Callable[[Any, str], list[str]],
        acancel: Callable[[Any, str], Awaitable[list[str]]],
        summarize: Callable[[Any, str, dict[str, Any], str], dict[str, Any]],
    ) -> None:
        self.name = name
        self.terminal = terminal
        self.known = known
        self.success = success
        #: The read, on the sync client.
        self.fetch = fetch
        #: The read as a request built once and sent on every poll (the trigger's hot path).
        self.operation = operation
        self.cancel = cancel
        self.acancel = acancel
        self.summarize = summarize

    def __repr__(self) -> str:
        return f"WaitKind({self.name!r})"


KINDS_TABLE: dict[Kind, WaitKind] = {
    "job": WaitKind(
        name="job",
        terminal=JOB_TERMINAL_STATUSES,
        known=JOB_KNOWN_STATUSES,
        success=SUCCESS_STATUS["job"],
        fetch=lambda client, job_id: client.get_job(job_id),
        operation=_job_operation,
        cancel=_cancel_job,
        acancel=_acancel_job,
        summarize=_summarize_job,
    ),
    "backfill": WaitKind(
        name="backfill",
        terminal=BACKFILL_TERMINAL_STATUSES,
        known=BACKFILL_KNOWN_STATUSES,
        success=SUCCESS_STATUS["backfill"],
        fetch=lambda client, backfill_id: client.get_backfill(backfill_id),
        operation=_backfill_operation,
        cancel=_cancel_backfill,
        acancel=_acancel_backfill,
        summarize=_summarize_backfill,
    ),
}


def seconds(name: str, value: float | timedelta) -> float:
    """A positive number of seconds from a number or a timedelta; the error names the argument."""
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    return float(value)


def check_kind(kind: object) -> Kind:
    """A kind from user input, or a clear error naming the choices."""
    if kind not in KINDS_TABLE:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    return kind
