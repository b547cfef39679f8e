"""Checks of what a caller passes in, before anything is sent, and the open sets they check against.

Aware datetimes and the values the reference gives only as examples (priority, webhook events,
job type). Shared by the operations, the models and the operators; what shapes a request (ids as
path segments, query values, page sizes) is with the operations, the base URL with the client's
configuration.

No pydantic here: the operators' modules import this at DAG-parse time, where building models
would cost the scheduler time on every parse (``docs/performance.md``, DAG-parse cost).
"""

from __future__ import annotations

from datetime import datetime, timezone
from enum import Enum

from planasonix_provider.api.errors import PlanasonixValidationError

MetadataValue = str | int | float | bool | None
Metadata = dict[str, MetadataValue]


class Priority(str, Enum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


class WebhookEvent(str, Enum):
    JOB_QUEUED = "job.queued"
    JOB_STARTED = "job.started"
    JOB_SUCCEEDED = "job.succeeded"
    JOB_FAILED = "job.failed"
    JOB_CANCELLED = "job.cancelled"
    BACKFILL_COMPLETED = "backfill.completed"
    BACKFILL_FAILED = "backfill.failed"


class JobType(str, Enum):
    CONNECTION_SYNC = "connection_sync"
    BACKFILL = "backfill"
    PIPELINE_RUN = "pipeline_run"


#: Values the reference gives only as examples: open sets. A known value passes, a likely typo
#: of one fails here with a "did you mean", anything else is sent and the API decides.
OPEN_SETS: dict[str, tuple[str, ...]] = {
    "priority": tuple(p.value for p in Priority),
    "events": tuple(e.value for e in WebhookEvent),
    "event": tuple(e.value for e in WebhookEvent),
    "type": tuple(t.value for t in JobType),
}
TYPO_CUTOFF = 0.75


def check_open_value(field: str, value: object) -> str:
    """``value`` of an open set as a string; a near miss of a known value is refused.

    Raises ``ValueError`` (a ``PlanasonixValidationError``) naming the field and the fix.
    """
    if isinstance(value, Enum):
        value = value.value
    if not isinstance(value, str) or not value.strip():
        raise PlanasonixValidationError(f"{field} must be a non-empty string, got {value!r}")
    known = OPEN_SETS[field]
    if value in known or "{{" in value:  # an unrendered template is checked once rendered
        return value
    from difflib import get_close_matches

    close = get_close_matches(value.lower(), known, n=1, cutoff=TYPO_CUTOFF)
    if close:
        raise PlanasonixValidationError(
            f"{field} {value!r} is not a value Planasonix is known to take: did you mean "
            f"{close[0]!r}? (known: {', '.join(known)}; other values are sent as given)"
        )
    return value


def to_rfc3339(moment: datetime) -> str:
    """Render an aware datetime as RFC 3339 in UTC with a ``Z``, the API's one time format."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("datetime must be timezone-aware")
    text = moment.astimezone(timezone.utc).isoformat()
    return text.replace("+00:00", "Z")


def require_aware(field: str, value: object) -> datetime:
    if not isinstance(value, datetime):
        raise PlanasonixValidationError(
            f"{field} must be a timezone-aware datetime, got {type(value).__name__} {value!r}"
        )
    if value.tzinfo is None or value.utcoffset() is None:
        raise PlanasonixValidationError(
            f"{field} must be timezone-aware, got naive {value.isoformat()}; "
            "attach a zone, for example datetime(..., tzinfo=timezone.utc)"
        )
    return value
