"""PlanasonixJobTrigger: wait for a job or a backfill in the triggerer, without a worker slot."""

from __future__ import annotations

import asyncio
import functools
import random
import time
import types
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent
from airflow.utils.log.logging_mixin import LoggingMixin

from planasonix_provider.airflow_lines import AirflowNotFoundException
from planasonix_provider.api import AsyncPlanasonixClient
from planasonix_provider.api.errors import (
    PlanasonixError,
    PlanasonixTransportError,
    RateLimitedError,
    ServerError,
)
from planasonix_provider.api.models import Backfill, Job
from planasonix_provider.hooks.planasonix import PlanasonixHook
from planasonix_provider.wait import (
    KINDS_TABLE,
    LEFT_RUNNING,
    NOT_CANCELLED,
    Kind,
    WaitOutcome,
    acancel_note,
    check_kind,
    error_outcome,
    kill_message,
    label,
    log_cancel,
    log_status,
    outcome_of,
    timeout_outcome,
)

#: Failures the client already retried; the trigger polls on through this many in a row.
TRANSIENT_ERRORS = (ServerError, RateLimitedError, PlanasonixTransportError)
MAX_CONSECUTIVE_TRANSIENT_FAILURES = 5
POLL_JITTER = 0.1
PROGRESS_LOG_EVERY = 60.0
#: Arguments ``serialize()`` leaves out when they hold these values. Airflow stores every
#: deferred trigger's kwargs in its ``trigger`` table, which the triggerer scans on each loop,
#: so shorter rows cost it less at scale (docs/scale.md). A stored trigger without a key was
#: made with the value below: these are part of the stored format and must never change.
SERIALIZED_DEFAULTS: dict[str, Any] = {
    "kind": "job",
    "planasonix_conn_id": PlanasonixHook.default_conn_name,
    "poll_interval": 10.0,
    "deadline": None,
    "cancel_on_timeout": True,
    "cancel_on_kill": True,
}
_ABSENT = object()


@functools.cache
def _class_logger(cls: type[BaseTrigger]) -> Any:
    """The logger Airflow would give each instance, made once per class (see ``log``).

    Made by Airflow's own ``LoggingMixin._get_log`` on a blank holder, so that it is a structlog
    logger where the line logs with structlog (3.1+) and a stdlib one where it does not (3.0).
    """
    holder = types.SimpleNamespace(
        _log=None,
        _log_config_logger_name=cls._log_config_logger_name,
        _logger_name=cls._logger_name,
    )
    return LoggingMixin._get_log(holder, cls)


class PlanasonixJobTrigger(BaseTrigger):
    """Poll a Planasonix job (or backfill) until it ends, then fire exactly one event.

    :param resource_id: the job id, or the backfill id when ``kind="backfill"``.
    :param kind: ``"job"`` or ``"backfill"``.
    :param planasonix_conn_id: the Airflow connection.
    :param poll_interval: seconds between polls, jittered by 10 % so that many triggers spread.
    :param deadline: absolute UNIX time after which the wait ends with a ``timeout`` event; being
        absolute, it holds across triggerer restarts.
    :param cancel_on_timeout: cancel the remote work when the deadline passes.
    :param cancel_on_kill: cancel the remote work when a user marks or clears the deferred task.
    :param cancel_on_deadline: the name 0.1.0 gave ``cancel_on_timeout``, accepted so that
        triggers it serialized resume after an upgrade; not serialized again.
    """

    def __init__(
        self,
        resource_id: str,
        kind: Kind = "job",
        planasonix_conn_id: str = PlanasonixHook.default_conn_name,
        poll_interval: float = 10.0,
        deadline: float | None = None,
        cancel_on_timeout: bool = True,
        cancel_on_kill: bool = True,
        cancel_on_deadline: bool | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        kind = check_kind(kind)
        if cancel_on_deadline is not None:
            cancel_on_timeout = cancel_on_deadline
        if poll_interval <= 0:
            raise ValueError(f"poll_interval must be positive, got {poll_interval!r}")
        self.resource_id = resource_id
        self.kind: Kind = kind
        self.planasonix_conn_id = planasonix_conn_id
        self.poll_interval = float(poll_interval)
        self.deadline = deadline
        self.cancel_on_timeout = cancel_on_timeout
        self.cancel_on_kill = cancel_on_kill

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """The arguments of ``__init__`` that rebuild this trigger, less those equal to
        :data:`SERIALIZED_DEFAULTS`."""
        arguments = {
            "resource_id": self.resource_id,
            "kind": self.kind,
            "planasonix_conn_id": self.planasonix_conn_id,
            "poll_interval": self.poll_interval,
            "deadline": self.deadline,
            "cancel_on_timeout": self.cancel_on_timeout,
            "cancel_on_kill": self.cancel_on_kill,
        }
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                name: value
                for name, value in arguments.items()
                if SERIALIZED_DEFAULTS.get(name, _ABSENT) != value
            },
        )

    @property
    def log(self) -> Any:
        """One logger for all instances, not one each: a triggerer holds thousands of triggers,
        and Airflow routes each line to its task's log by context variables, not by logger."""
        return _class_logger(type(self))

    @property
    def _label(self) -> str:
        return label(self.kind, self.resource_id)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        try:
            async with PlanasonixHook(self.planasonix_conn_id).async_client() as client:
                outcome = await self._wait(client)
        except (PlanasonixError, AirflowNotFoundException) as exc:  # no usable connection
            outcome = self._error(str(exc))
        yield TriggerEvent(outcome.to_event())  # type: ignore[no-untyped-call]

    async def _wait(self, client: AsyncPlanasonixClient) -> WaitOutcome:
        failures = 0
        reported_status: str | None = None
        last_progress_log = 0.0
        read = client.prepare(KINDS_TABLE[self.kind].operation(self.resource_id))
        while True:
            if self.deadline is not None and time.time() >= self.deadline:
                return await self._on_deadline(client)
            try:
                resource: Job | Backfill = await client.send(read)
            except TRANSIENT_ERRORS as exc:
                failures += 1
                if failures >= MAX_CONSECUTIVE_TRANSIENT_FAILURES:
                    return self._error(f"gave up after {failures} failed polls in a row: {exc}")
                self.log.warning("Polling %s failed (%d in a row): %s", self._label, failures, exc)
            except PlanasonixError as exc:
                return self._error(str(exc))
            else:
                failures = 0
                outcome = outcome_of(self.kind, resource)
                if outcome is not None:
                    return outcome
                if resource.status != reported_status:
                    reported_status = resource.status
                    self._log_status(resource.status)
                now = time.monotonic()
                if isinstance(resource, Backfill) and now - last_progress_log >= PROGRESS_LOG_EVERY:
                    last_progress_log = now
                    self.log.info(
                        "%s: %s%% done, %s rows",
                        self._label,
                        resource.progress_percent,
                        resource.rows_processed,
                    )
                # Not held through the sleep: thousands of waiting triggers each holding a
                # parsed model would give the garbage collector many more objects to walk.
                del resource
            await asyncio.sleep(self._next_delay())

    async def _task_state(self) -> str | None:
        """The state of this trigger's task instance as Airflow's database has it; None when it
        cannot be read (no task instance, or a line or process without the supervisor's
        ``GetTaskStates``): then ``on_kill`` cancels, as a user's action asks."""
        ti = self.task_instance
        if ti is None:
            return None
        try:
            from airflow.sdk.execution_time import task_runner
            from airflow.sdk.execution_time.comms import GetTaskStates

            answer: Any = await task_runner.SUPERVISOR_COMMS.asend(
                GetTaskStates(
                    dag_id=ti.dag_id,
                    task_ids=[ti.task_id],
                    run_ids=[ti.run_id],
                    map_index=ti.map_index,
                )
            )
            key = ti.task_id if ti.map_index < 0 else f"{ti.task_id}_{ti.map_index}"
            state = answer.task_states[ti.run_id][key]
        except Exception as exc:  # the check only decides whether to spare the work
            self.log.warning("Could not read the task's state before cancelling: %s", exc)
            return None
        return None if state is None else str(state)

    def _log_status(self, status: str) -> None:
        log_status(self.log, self.kind, self.resource_id, status, known_at_debug=True)

    def _next_delay(self) -> float:
        delay = self.poll_interval * random.uniform(1 - POLL_JITTER, 1 + POLL_JITTER)
        if self.deadline is not None:
            delay = min(delay, max(self.deadline - time.time(), 0.0))
        return delay

    def _error(self, message: str) -> WaitOutcome:
        return error_outcome(self.kind, self.resource_id, message)

    async def _on_deadline(self, client: AsyncPlanasonixClient) -> WaitOutcome:
        note = LEFT_RUNNING
        if self.cancel_on_timeout:
            note = await acancel_note(client, self.kind, self.resource_id)
        outcome = timeout_outcome(self.kind, self.resource_id, note)
        log_cancel(self.log, outcome.message, note)
        return outcome

    async def on_kill(self) -> None:
        """Cancel the remote work when a user marks or clears the deferred task (Airflow 3.3+).

        Airflow 3.3 also calls this when the trigger merely moves to another triggerer (one
        whose heartbeat fell behind loses its triggers, and cancels them the way it cancels a
        user's): the task is then still deferred, and the work is left to the new holder.
        """
        if not self.cancel_on_kill:
            log_cancel(self.log, kill_message(self.kind, self.resource_id, LEFT_RUNNING), "")
            return
        if await self._task_state() == "deferred":
            self.log.info(
                "Trigger moved to another triggerer, the task is still deferred: %s left running",
                self._label,
            )
            return
        try:
            async with PlanasonixHook(self.planasonix_conn_id).async_client() as client:
                note = await acancel_note(client, self.kind, self.resource_id)
        except (PlanasonixError, AirflowNotFoundException) as exc:  # no usable connection
            note = f"{NOT_CANCELLED}: {exc}"
        log_cancel(self.log, kill_message(self.kind, self.resource_id, note), note)
