"""PlanasonixJobSensor: wait for a job or backfill that something else started."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from planasonix_provider.airflow_lines import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
    BaseSensorOperator,
    conf,
)
from planasonix_provider.hooks.connection_form import DEFAULT_CONN_ID
from planasonix_provider.triggers.outcome import (
    KINDS,
    Kind,
    MalformedEventError,
    WaitOutcome,
    outcome_of,
)

if TYPE_CHECKING:
    from planasonix_provider.hooks.planasonix import PlanasonixHook


class PlanasonixJobSensor(BaseSensorOperator):
    """Succeed when a Planasonix job (or backfill) succeeds; fail when it fails or is cancelled.

    Works in poke and reschedule mode, and deferrable (the wait moves to the triggerer). The
    sensor never cancels the work it watches: it did not start it. ``soft_fail=True`` turns a
    failure, cancellation or timeout into a skip, in every mode. On success the return value is
    the job (or backfill) as JSON.

    :param resource_id: the job id, or the backfill id with ``kind="backfill"`` (templated).
    :param kind: ``"job"`` or ``"backfill"``.
    :param planasonix_conn_id: the Airflow connection of type ``planasonix``.
    :param deferrable: wait in the triggerer.
    """

    template_fields: Sequence[str] = ("resource_id",)
    ui_color = "#d9ecff"

    def __init__(
        self,
        *,
        resource_id: str,
        kind: Kind = "job",
        planasonix_conn_id: str = DEFAULT_CONN_ID,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        self.resource_id = resource_id
        self.kind: Kind = kind
        self.planasonix_conn_id = planasonix_conn_id
        self.deferrable = deferrable

    @cached_property
    def hook(self) -> PlanasonixHook:
        from planasonix_provider.hooks.planasonix import PlanasonixHook  # see operators/_waiting

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
                cancel_on_deadline=False,
                cancel_on_kill=False,
            ),
            method_name="execute_complete",
        )

    def poke(self, context: Any) -> Any:
        from planasonix_provider.hooks.resources import fetch

        resource = fetch(self.hook.client, self.kind, self.resource_id)
        outcome = outcome_of(self.kind, resource)
        if outcome is None:
            self.log.info("Planasonix %s %s is %s", self.kind, self.resource_id, resource.status)
            return False
        if outcome.succeeded:
            from airflow.sdk import PokeReturnValue

            return PokeReturnValue(is_done=True, xcom_value=outcome.resource)
        # A finished job will not change: fail for good (no retries), or skip with soft_fail.
        raise AirflowFailException(self._failure_message(outcome))

    def execute_complete(self, context: Any, event: Any = None) -> Any:
        try:
            outcome = WaitOutcome.from_event(event)
        except MalformedEventError as exc:
            raise AirflowException(f"Planasonix sensor wait ended badly: {exc}") from None
        if outcome.succeeded:
            return outcome.resource
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

    def _failure_message(self, outcome: WaitOutcome) -> str:
        return f"{outcome.message}. See {self.hook.resource_url(self.kind, self.resource_id)}"
