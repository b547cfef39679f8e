"""The status model of DESIGN.md: the one place that knows which statuses end a job or a backfill.

Statuses are plain strings on the models, so that a status this provider does not know yet (a
newer API) is accepted and treated as non-terminal rather than rejected.
"""

from __future__ import annotations

from enum import Enum


class JobStatus(str, Enum):
    QUEUED = "queued"
    RUNNING = "running"
    CANCELLING = "cancelling"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class BackfillStatus(str, Enum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


JOB_TERMINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})
JOB_ACTIVE_STATUSES = frozenset({"queued", "running", "cancelling"})
JOB_KNOWN_STATUSES = frozenset(s.value for s in JobStatus)
BACKFILL_TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})
BACKFILL_KNOWN_STATUSES = frozenset(s.value for s in BackfillStatus)

#: The terminal status that counts as success, per kind of resource.
SUCCESS_STATUS = {"job": JobStatus.SUCCEEDED.value, "backfill": BackfillStatus.COMPLETED.value}


def is_job_terminal(status: str) -> bool:
    """True for succeeded, failed and cancelled; an unknown status is not terminal."""
    return status in JOB_TERMINAL_STATUSES


def is_backfill_terminal(status: str) -> bool:
    """True for completed, failed and cancelled; an unknown status is not terminal."""
    return status in BACKFILL_TERMINAL_STATUSES


def is_known_job_status(status: str) -> bool:
    return status in JOB_KNOWN_STATUSES


def is_known_backfill_status(status: str) -> bool:
    return status in BACKFILL_KNOWN_STATUSES
