"""Pydantic v2 models of every resource, request body and envelope of the Orchestration API v1.

Response models keep fields they do not know (``extra="allow"``), so that a newer API never breaks
an older provider; request models forbid them, so that the sandbox rejects what the real API would.
Statuses are plain strings: see ``status.py`` for what they mean.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
    model_validator,
)

from planasonix_provider.api.checks import (
    Metadata,
    Priority,
    WebhookEvent,
    check_open_value,
)

log = logging.getLogger("planasonix_provider.api")

#: Surprises already logged, by model and field: each is logged once per process, not per poll.
_SURPRISES_LOGGED: set[str] = set()


def _warn_once(where: str, problem: str) -> None:
    if where in _SURPRISES_LOGGED:
        return
    _SURPRISES_LOGGED.add(where)
    log.warning(
        "Planasonix answered %s in a shape this provider did not expect (%s); the field is "
        "ignored, which no task depends on. Further surprises in this field are not logged.",
        where,
        problem,
    )


def _lenient(value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
    """A field no task depends on: a value of the wrong shape becomes None (logged once)."""
    try:
        return handler(value)
    except ValidationError as exc:
        where = f"{info.config.get('title', 'a resource') if info.config else 'a resource'}"
        first = exc.errors(include_url=False, include_input=False)[0]
        _warn_once(f"{where}.{info.field_name}", f"{first['type']}: {first['msg']}")
        return None


def _lenient_list(value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
    result = _lenient(value, handler, info)
    return [] if result is None else result


def _null_as_empty(value: Any) -> Any:
    return [] if value is None else value


#: A field the provider reads only for display: a surprise is logged once and dropped.
Lenient = WrapValidator(_lenient)
#: A list no task depends on: null, or a surprise (logged once), reads as empty.
LenientList = WrapValidator(_lenient_list)
#: A list the API may send as null.
NullList = BeforeValidator(_null_as_empty)

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
    """A job's or backfill's error: an object in the reference; a bare string is its message."""

    code: str | None = None
    message: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"message": value}
        return value


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
    duration_seconds: Annotated[float | None, Lenient] = None
    metrics: Annotated[JobMetrics | None, Lenient] = None
    error: Annotated[JobError | None, Lenient] = None
    #: Not in the reference's job answers: any JSON, or absent.
    metadata: Any = None


class TableResult(ApiModel):
    name: str
    rows_loaded: int | None = None
    checksum: Annotated[str | None, Lenient] = None


class ResultWarning(ApiModel):
    code: Annotated[str | None, Lenient] = None
    message: Annotated[str | None, Lenient] = None


class JobResults(ApiModel):
    job_id: str
    status: str
    tables: Annotated[list[TableResult], NullList] = Field(default_factory=list)
    warnings: Annotated[list[ResultWarning], NullList, LenientList] = Field(default_factory=list)


# --- Backfills -------------------------------------------------------------------------------


class Backfill(ApiModel):
    id: str
    status: str
    connection_id: str | None = None
    start_at: AwareDatetime | None = None
    end_at: AwareDatetime | None = None
    tables: Annotated[list[str] | None, Lenient] = None
    progress_percent: Annotated[float | None, Lenient] = None
    rows_processed: Annotated[int | None, Lenient] = None
    error: Annotated[JobError | None, Lenient] = None
    job_ids: Annotated[list[str], NullList] = Field(default_factory=list)
    created_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None
    #: Not in the reference's backfill answers: any JSON, or absent.
    metadata: Any = None


# --- Webhooks --------------------------------------------------------------------------------


class Webhook(ApiModel):
    """A webhook subscription. ``signing_secret`` is only present on create; it never prints."""

    id: str
    url: str | None = None
    events: Annotated[list[str], NullList] = Field(default_factory=list)
    enabled: bool | None = None
    signing_secret: SecretStr | None = None
    last_delivery_at: AwareDatetime | None = None
    failure_count_24h: Annotated[int | None, Lenient] = None
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
    http_status: Annotated[int | None, Lenient] = None
    attempt: Annotated[int | None, Lenient] = None
    last_error: Annotated[str | None, Lenient] = None
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
    data: Annotated[list[T], NullList]
    meta: ListMeta = Field(default_factory=ListMeta)


class JobHolder(ApiModel):
    job: Job


class BackfillHolder(ApiModel):
    backfill: Backfill


# --- Request bodies --------------------------------------------------------------------------

NonEmptyStr = Annotated[str, Field(min_length=1)]


def _open(field: str) -> AfterValidator:
    def check(value: str) -> str:
        try:
            return check_open_value(field, value)
        except ValueError as exc:  # pydantic reports ValueErrors as the field's problem
            raise ValueError(str(exc)) from None

    return AfterValidator(check)


#: Open sets (DESIGN.md): a likely typo is refused with a "did you mean", the rest is sent.
OpenPriority = Annotated[str, _open("priority")]
OpenEvent = Annotated[str, _open("event")]


class SyncRequest(RequestModel):
    pipeline_id: NonEmptyStr | None = None
    priority: OpenPriority | None = None
    metadata: Metadata | None = None


class BackfillRequest(RequestModel):
    start_at: AwareDatetime
    end_at: AwareDatetime
    tables: list[NonEmptyStr] | None = None
    priority: OpenPriority | None = None
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
    events: list[OpenEvent] = Field(min_length=1)
    secret: SecretStr | None = None

    _url = field_validator("url")(_check_webhook_url)


class WebhookUpdateRequest(RequestModel):
    url: str | None = None
    events: list[OpenEvent] | None = Field(default=None, min_length=1)
    enabled: bool | None = None

    @field_validator("url")
    @classmethod
    def _url_ok(cls, url: str | None) -> str | None:
        return None if url is None else _check_webhook_url(url)


class WebhookTestRequest(RequestModel):
    event: OpenEvent | None = None


# --- Request bodies ---------------------------------------------------------------------------


def describe_validation_error(exc: ValidationError) -> str:
    """Pydantic's errors as one line per field: ``field.path: message``."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        location = ".".join(str(part) for part in error["loc"]) or "body"
        problems.append(f"{location}: {error['msg']}")
    return "; ".join(problems)
