"""PlanasonixJobSensor and PlanasonixBackfillSensor: wait for work that something else started."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from planasonix_provider import wait
from planasonix_provider.airflow_lines import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
    BaseSensorOperator,
    conf,
)
from planasonix_provider.hooks.connection_form import DEFAULT_CONN_ID
from planasonix_provider.wait import Kind, MalformedEventError, WaitOutcome

if TYPE_CHECKING:
    from planasonix_provider.hooks.planasonix import PlanasonixHook

#: Arguments of the 0.1.0 sensor, refused with the fix in the message.
_REMOVED_ARGUMENTS = ("resource_id", "kind")


def _required(field: str, value: str | None, sensor: str) -> str:
    if value is None:
        raise TypeError(f"{sensor} needs {field}=...: the id of the {field[:-3]} to watch")
    return value


class _PlanasonixSensor(BaseSensorOperator):
    """What the job and backfill sensors share; see :class:`PlanasonixJobSensor`."""

    kind: ClassVar[Kind]
    id_field: ClassVar[str]
    ui_color = "#d9ecff"

    def __init__(
        self,
        *,
        planasonix_conn_id: str = DEFAULT_CONN_ID,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        removed = [name for name in _REMOVED_ARGUMENTS if name in kwargs]
        if removed:
            raise TypeError(
                f"{type(self).__name__} no longer takes {' or '.join(removed)}: use "
                "PlanasonixJobSensor(job_id=...) for a job or "
                "PlanasonixBackfillSensor(backfill_id=...) for a backfill"
            )
        super().__init__(**kwargs)
        self.planasonix_conn_id = planasonix_conn_id
        self.deferrable = deferrable

    @property
    def resource_id(self) -> str:
        value: str = getattr(self, self.id_field)
        return value

    @cached_property
    def hook(self) -> PlanasonixHook:
        from planasonix_provider.hooks.planasonix import PlanasonixHook  # see operators/

        return PlanasonixHook(self.planasonix_conn_id)

    def execute(self, context: Any) -> Any:
        if not self.deferrable:
            return super().execute(context)
        from planasonix_provider.triggers.planasonix import PlanasonixJobTrigger  # see operators

        timeout = self.timeout
        if isinstance(timeout, timedelta):
            timeout = timeout.total_seconds()
        self.defer(
            trigger=PlanasonixJobTrigger(
                resource_id=self.resource_id,
                kind=self.kind,
                planasonix_conn_id=self.planasonix_conn_id,
                poll_interval=float(self.poke_interval),
                deadline=time.time() + float(timeout) if timeout else None,
                cancel_on_timeout=False,
                cancel_on_kill=False,
            ),
            method_name="execute_complete",
        )

    def poke(self, context: Any) -> Any:
        client = self.hook.client
        resource = wait.KINDS_TABLE[self.kind].fetch(client, self.resource_id)
        outcome = wait.outcome_of(self.kind, resource)
        if outcome is None:
            self.log.info("%s is %s", wait.label(self.kind, self.resource_id), resource.status)
            return False
        if outcome.succeeded:
            from airflow.sdk import PokeReturnValue

            return PokeReturnValue(is_done=True, xcom_value=self._summary(outcome))
        # A finished job will not change: fail for good (no retries), or skip with soft_fail.
        raise AirflowFailException(self._failure_message(outcome))

    def execute_complete(self, context: Any, event: Any = None) -> Any:
        try:
            outcome = WaitOutcome.from_event(event)
        except MalformedEventError as exc:
            raise AirflowException(f"Planasonix sensor wait ended badly: {exc}") from None
        if outcome.succeeded:
            return self._summary(outcome)
        message = self._failure_message(outcome)
        if outcome.status == "error":
            # Not the work's outcome but a failure to watch it (a refused key, an unknown id):
            # it fails, and may be retried, in every mode, as a poke's error does.
            raise AirflowException(message)
        if self.soft_fail:
            raise AirflowSkipException(f"Skipping (soft_fail): {message}")
        if outcome.status == "timeout":
            raise AirflowSensorTimeout(message)
        raise AirflowFailException(message)

    def _url(self) -> str:
        return self.hook.resource_url(self.kind, self.resource_id)

    def _summary(self, outcome: WaitOutcome) -> dict[str, Any]:
        url = self._url()
        try:
            return wait.summarize(
                self.hook.client, self.kind, outcome.resource_id, outcome.resource, url
            )
        except wait.ResultsNotReadyError as exc:
            raise AirflowException(f"{exc}. See {url}") from None

    def _failure_message(self, outcome: WaitOutcome) -> str:
        return f"{outcome.message}. See {self._url()}"


class PlanasonixJobSensor(_PlanasonixSensor):
    """Succeed when a Planasonix job succeeds; fail when it fails or is cancelled.

    Works in poke and reschedule mode, and deferrable (the wait moves to the triggerer). The
    sensor never cancels the job it watches: it did not start it. ``soft_fail=True`` turns a
    failure, cancellation or timeout into a skip, in every mode. On success the return value is
    the one a :class:`~planasonix_provider.operators.planasonix.PlanasonixSyncOperator` returns
    (``job_id``, ``status``, ..., ``tables``, ``warnings``, ``url``).

    :param job_id: the job to watch (templated).
    :param kwargs: ``planasonix_conn_id``, the Airflow connection of type ``planasonix``
        (templated); ``deferrable``, wait in the triggerer; and the arguments of
        ``BaseSensorOperator`` (``poke_interval``, ``timeout``, ``mode``, ``soft_fail``, ...).
    """

    kind: ClassVar[Kind] = "job"
    id_field: ClassVar[str] = "job_id"
    template_fields: Sequence[str] = ("job_id", "planasonix_conn_id")

    def __init__(self, *, job_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_id = _required("job_id", job_id, type(self).__name__)


class PlanasonixBackfillSensor(_PlanasonixSensor):
    """Succeed when a Planasonix backfill completes; fail when it fails or is cancelled.

    The same modes and rules as :class:`PlanasonixJobSensor`. On success the return value is the
    one a :class:`~planasonix_provider.operators.planasonix.PlanasonixBackfillOperator` returns.

    :param backfill_id: the backfill to watch (templated).
    :param kwargs: as for :class:`PlanasonixJobSensor`.
    """

    kind: ClassVar[Kind] = "backfill"
    id_field: ClassVar[str] = "backfill_id"
    template_fields: Sequence[str] = ("backfill_id", "planasonix_conn_id")
    ui_color = "#e4d9ff"

    def __init__(self, *, backfill_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.backfill_id = _required("backfill_id", backfill_id, type(self).__name__)
