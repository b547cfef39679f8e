"""Records of the in-memory store, whose status is computed from timestamps when read.

Why lazily: a benchmark polls thousands of jobs; a job that only stores *when* it starts and ends
costs nothing between reads, needs no timer, and continues on the wall clock after a restart.
All times are epoch seconds (``time.time()``), already scaled by ``speed``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from planasonix_provider.api.status import is_job_terminal

Metadata = dict[str, Any]

BYTES_PER_ROW = 256
#: A failing job stops about halfway through its rows.
FAIL_FRACTION = 0.5
_OUTCOME_STATUS = {"succeed": "succeeded", "fail": "failed", "cancel": "cancelled"}


def ts(moment: float | None) -> str | None:
    """Epoch seconds as RFC 3339 in UTC, to the millisecond; None stays None."""
    return None if moment is None else iso(moment)


def iso(moment: float) -> str:
    text = datetime.fromtimestamp(round(moment, 3), timezone.utc).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


@dataclass
class JobRecord:
    id: str
    seq: int
    type: str
    connection_id: str
    pipeline_id: str | None
    created: float
    start_at: float
    finish_at: float
    outcome: str
    rows: dict[str, int]
    warnings: list[dict[str, str]]
    error_code: str
    error_message: str
    metadata: Metadata | None = None
    priority: str | None = None
    backfill_id: str | None = None
    cancel_requested: float | None = None
    cancel_done: float | None = None
    emitted: list[str] = field(default_factory=list)

    def status_at(self, now: float) -> str:
        if self.cancel_requested is not None:
            assert self.cancel_done is not None
            return "cancelled" if now >= self.cancel_done else "cancelling"
        if now < self.start_at:
            return "queued"
        if now < self.finish_at:
            return "running"
        return _OUTCOME_STATUS[self.outcome]

    def started(self, now: float) -> float | None:
        """When it started running, if it did (a job cancelled while queued never starts)."""
        limit = self.cancel_requested if self.cancel_requested is not None else now
        return self.start_at if self.start_at <= min(limit, now) else None

    def finished(self, now: float) -> float | None:
        if not is_job_terminal(self.status_at(now)):
            return None
        return self.cancel_done if self.cancel_requested is not None else self.finish_at

    def fraction(self, now: float) -> float:
        """How much of the work is done: 0..1, frozen at cancel, about half for a failure."""
        if self.started(now) is None:
            return 0.0
        moment = min(now, self.finish_at)
        if self.cancel_requested is not None:
            moment = min(moment, self.cancel_requested)
        span = self.finish_at - self.start_at
        done = 1.0 if span <= 0 else max(0.0, min(1.0, (moment - self.start_at) / span))
        return done * FAIL_FRACTION if self.outcome == "fail" else done

    def rows_loaded(self, now: float) -> int:
        total = sum(self.rows.values())
        if self.status_at(now) == "succeeded":
            return total
        return int(total * self.fraction(now) * 0.98)

    def view(self, now: float) -> dict[str, Any]:
        """The job as the API shows it: plain JSON data, built without the client's models."""
        status = self.status_at(now)
        started = self.started(now)
        finished = self.finished(now)
        total = sum(self.rows.values())
        extracted = total if status == "succeeded" else int(total * self.fraction(now))
        duration = None
        if finished is not None:
            duration = round(finished - (started if started is not None else finished), 3)
        error = None
        if status == "failed":
            error = {"code": self.error_code, "message": self.error_message}
        extra: dict[str, Any] = {}
        if self.backfill_id is not None:
            extra["backfill_id"] = self.backfill_id
        return {
            "id": self.id,
            "type": self.type,
            "status": status,
            "connection_id": self.connection_id,
            "pipeline_id": self.pipeline_id,
            "created_at": ts(self.created),
            "queued_at": ts(self.created),
            "started_at": ts(started),
            "finished_at": ts(finished),
            "duration_seconds": duration,
            "metrics": {
                "rows_extracted": extracted,
                "rows_loaded": self.rows_loaded(now),
                "bytes_read": extracted * BYTES_PER_ROW,
            },
            "error": error,
            "cancel_requested_at": ts(self.cancel_requested),
            "metadata": self.metadata,
            **extra,
        }

    def results(self, now: float) -> dict[str, Any]:
        status = self.status_at(now)
        tables = []
        if status == "succeeded":
            tables = [
                {"name": name, "rows_loaded": rows, "checksum": checksum(self.id, name, rows)}
                for name, rows in self.rows.items()
            ]
        return {"job_id": self.id, "status": status, "tables": tables, "warnings": self.warnings}


def checksum(job_id: str, table: str, rows: int) -> str:
    """Deterministic per job, table and row count, as a real content checksum would be."""
    digest = hashlib.sha256(f"{job_id}:{table}:{rows}".encode()).hexdigest()
    return f"sha256:{digest}"


@dataclass
class BackfillRecord:
    id: str
    seq: int
    connection_id: str
    start_at: str
    end_at: str
    tables: list[str]
    job_ids: list[str]
    created: float
    metadata: Metadata | None = None
    priority: str | None = None
    emitted: list[str] = field(default_factory=list)

    def status_at(self, shards: list[JobRecord], now: float) -> str:
        statuses = [job.status_at(now) for job in shards]
        if "failed" in statuses:
            return "failed"
        if all(is_job_terminal(s) for s in statuses):
            return "cancelled" if "cancelled" in statuses else "completed"
        if all(s == "queued" for s in statuses):
            return "queued"
        return "running"

    def view(self, shards: list[JobRecord], now: float) -> dict[str, Any]:
        status = self.status_at(shards, now)
        progress = sum(job.fraction(now) if job.outcome != "fail" else 0.0 for job in shards)
        if status == "completed":
            percent = 100.0
        else:
            done = sum(1.0 for job in shards if job.status_at(now) == "succeeded")
            percent = round(100.0 * max(done, progress) / max(1, len(shards)), 1)
        error = None
        failed = [job for job in shards if job.status_at(now) == "failed"]
        if failed:
            error = {"code": failed[0].error_code, "message": failed[0].error_message}
        moments = [self.created]
        for job in shards:
            for moment in (job.started(now), job.finished(now), job.cancel_requested):
                if moment is not None:
                    moments.append(moment)
        return {
            "id": self.id,
            "connection_id": self.connection_id,
            "status": status,
            "start_at": self.start_at,
            "end_at": self.end_at,
            "tables": self.tables,
            "progress_percent": percent,
            "rows_processed": sum(job.rows_loaded(now) for job in shards),
            "error": error,
            "job_ids": [job.id for job in shards],
            "created_at": ts(self.created),
            "updated_at": ts(max(moments)),
            "metadata": self.metadata,
        }


@dataclass
class WebhookRecord:
    id: str
    seq: int
    url: str
    events: list[str]
    enabled: bool
    secret: str
    created: float
    updated: float | None = None
    rotated: float | None = None


@dataclass
class DeliveryRecord:
    id: str
    seq: int
    webhook_id: str
    event: str
    body: str
    created: float
    status: str = "pending"
    http_status: int | None = None
    attempt: int = 0
    last_error: str | None = None
    delivered_at: float | None = None
