"""Pydantic v2 models of every resource, request body and envelope of the Orchestration API v1.

Response models keep fields they do not know (``extra="allow"``), so that a newer API never breaks
an older provider; request models forbid them, so that the sandbox rejects what the real API would.
Statuses are plain strings: see ``status.py`` for what they mean.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from planasonix_provider.api.values import (
    Metadata,
    Priority,
    WebhookEvent,
)

__all__ = [
    "ApiModel",
    "Backfill",
    "BackfillHolder",
    "BackfillRequest",
    "DataEnvelope",
    "ErrorBody",
    "ErrorDetail",
    "Job",
    "JobError",
    "JobHolder",
    "JobMetrics",
    "JobResults",
    "ListEnvelope",
    "ListMeta",
    "Metadata",
    "NonEmptyStr",
    "PageInfo",
    "Priority",
    "RequestModel",
    "ResultWarning",
    "SyncRequest",
    "TableResult",
    "Webhook",
    "WebhookCreateRequest",
    "WebhookDelivery",
    "WebhookEvent",
    "WebhookEventPayload",
    "WebhookSecret",
    "WebhookTestDelivery",
    "WebhookTestRequest",
    "WebhookUpdateRequest",
]

T = TypeVar("T")


class ApiModel(BaseModel):
    """A response resource: unknown fields are kept, never an error."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)


class RequestModel(BaseModel):
    """A request body: unknown fields are rejected, as the real API rejects them."""

    model_config = ConfigDict(extra="forbid", use_enum_values=True, defer_build=True)


# --- Errors ----------------------------------------------------------------------------------


class ErrorDetail(ApiModel):
    code: str
    message: str
    request_id: str | None = None


class ErrorBody(ApiModel):
    error: ErrorDetail


# --- Jobs ------------------------------------------------------------------------------------


class JobMetrics(ApiModel):
    rows_extracted: int | None = None
    rows_loaded: int | None = None
    bytes_read: int | None = None


class JobError(ApiModel):
    code: str | None = None
    message: str | None = None


class Job(ApiModel):
    """A job. Only ``id`` and ``status`` are always there: the cancel answer holds little else."""

    id: str
    status: str
    type: str | None = None
    connection_id: str | None = None
    pipeline_id: str | None = None
    created_at: AwareDatetime | None = None
    queued_at: AwareDatetime | None = None
    started_at: AwareDatetime | None = None
    finished_at: AwareDatetime | None = None
    cancel_requested_at: AwareDatetime | None = None
    duration_seconds: float | None = None
    metrics: JobMetrics | None = None
    error: JobError | None = None
    metadata: Metadata | None = None


class TableResult(ApiModel):
    name: str
    rows_loaded: int | None = None
    checksum: str | None = None


class ResultWarning(ApiModel):
    code: str | None = None
    message: str


class JobResults(ApiModel):
    job_id: str
    status: str
    tables: list[TableResult] = Field(default_factory=list)
    warnings: list[ResultWarning] = Field(default_factory=list)


# --- Backfills -------------------------------------------------------------------------------


class Backfill(ApiModel):
    id: str
    status: str
    connection_id: str | None = None
    start_at: AwareDatetime | None = None
    end_at: AwareDatetime | None = None
    tables: list[str] | None = None
    progress_percent: float | None = None
    rows_processed: int | None = None
    error: JobError | None = None
    job_ids: list[str] = Field(default_factory=list)
    created_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None
    metadata: Metadata | None = None


# --- Webhooks --------------------------------------------------------------------------------


class Webhook(ApiModel):
    """A webhook subscription. ``signing_secret`` is only present on create; it never prints."""

    id: str
    url: str | None = None
    events: list[str] = Field(default_factory=list)
    enabled: bool | None = None
    signing_secret: SecretStr | None = None
    last_delivery_at: AwareDatetime | None = None
    failure_count_24h: int | None = None
    created_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None


class WebhookSecret(ApiModel):
    """The answer to rotate-secret: the new secret, shown once."""

    id: str
    signing_secret: SecretStr
    rotated_at: AwareDatetime | None = None


class WebhookTestDelivery(ApiModel):
    delivery_id: str
    status: str


class WebhookDelivery(ApiModel):
    id: str
    event: str
    status: str
    http_status: int | None = None
    attempt: int | None = None
    last_error: str | None = None
    delivered_at: AwareDatetime | None = None


class WebhookEventPayload(ApiModel):
    """The body of a webhook delivery (DESIGN.md)."""

    id: str
    type: str
    created_at: AwareDatetime
    data: dict[str, Any] = Field(default_factory=dict)


# --- Envelopes -------------------------------------------------------------------------------


class PageInfo(ApiModel):
    limit: int | None = None
    cursor: str | None = None


class ListMeta(ApiModel):
    page: PageInfo = Field(default_factory=PageInfo)


class DataEnvelope(ApiModel, Generic[T]):
    data: T


class ListEnvelope(ApiModel, Generic[T]):
    data: list[T]
    meta: ListMeta = Field(default_factory=ListMeta)


class JobHolder(ApiModel):
    job: Job


class BackfillHolder(ApiModel):
    backfill: Backfill


# --- Request bodies --------------------------------------------------------------------------

NonEmptyStr = Annotated[str, Field(min_length=1)]


class SyncRequest(RequestModel):
    pipeline_id: NonEmptyStr | None = None
    priority: Priority | None = None
    metadata: Metadata | None = None


class BackfillRequest(RequestModel):
    start_at: AwareDatetime
    end_at: AwareDatetime
    tables: list[NonEmptyStr] | None = None
    priority: Priority | None = None
    metadata: Metadata | None = None

    @model_validator(mode="after")
    def _window_is_forward(self) -> BackfillRequest:
        if self.end_at <= self.start_at:
            raise ValueError(
                f"end_at ({self.end_at.isoformat()}) must be later than "
                f"start_at ({self.start_at.isoformat()})"
            )
        return self


def _check_webhook_url(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"url must be an absolute http(s) URL, got {url!r}")
    return url


class WebhookCreateRequest(RequestModel):
    url: str
    events: list[WebhookEvent] = Field(min_length=1)
    secret: SecretStr | None = None

    _url = field_validator("url")(_check_webhook_url)


class WebhookUpdateRequest(RequestModel):
    url: str | None = None
    events: list[WebhookEvent] | None = Field(default=None, min_length=1)
    enabled: bool | None = None

    @field_validator("url")
    @classmethod
    def _url_ok(cls, url: str | None) -> str | None:
        return None if url is None else _check_webhook_url(url)


class WebhookTestRequest(RequestModel):
    event: WebhookEvent | None = None
