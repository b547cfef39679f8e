"""How a wait on a job or a backfill ends: one place for the trigger, operators and sensor.

A wait ends in exactly one :class:`WaitOutcome`. It travels from the triggerer to the worker as a
``TriggerEvent`` payload (a JSON-safe dict), so :meth:`WaitOutcome.from_event` checks what arrives
instead of trusting it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

from planasonix_provider.api.status import SUCCESS_STATUS, is_backfill_terminal, is_job_terminal

if TYPE_CHECKING:  # the operators import this module when a DAG file is parsed: keep it light
    from planasonix_provider.api.models import Backfill, Job

Kind = Literal["job", "backfill"]
OutcomeStatus = Literal["success", "failed", "cancelled", "timeout", "error"]
KINDS: tuple[Kind, ...] = ("job", "backfill")
OUTCOME_STATUSES: tuple[OutcomeStatus, ...] = ("success", "failed", "cancelled", "timeout", "error")


class MalformedEventError(ValueError):
    """A trigger event that is not one this provider sends."""


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
        return asdict(self)

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
        return cls(status, kind, resource_id, str(event.get("message") or ""), resource)


def describe_error(resource: Job | Backfill) -> str:
    error = resource.error
    if error is None or not (error.code or error.message):
        return "no error detail given"
    return f"{error.code or 'error'}: {error.message or '(no message)'}"


def outcome_of(kind: Kind, resource: Job | Backfill) -> WaitOutcome | None:
    """The outcome a fetched job or backfill stands for, or None while it is not terminal."""
    terminal = is_job_terminal if kind == "job" else is_backfill_terminal
    if not terminal(resource.status):
        return None
    payload = resource.model_dump(mode="json", exclude_none=True)
    label = f"Planasonix {kind} {resource.id}"
    if resource.status == SUCCESS_STATUS[kind]:
        return WaitOutcome("success", kind, resource.id, f"{label} {resource.status}", payload)
    if resource.status == "cancelled":
        return WaitOutcome(
            "cancelled", kind, resource.id, f"{label} was cancelled in Planasonix", payload
        )
    return WaitOutcome(
        "failed", kind, resource.id, f"{label} failed: {describe_error(resource)}", payload
    )
