"""Every v1 operation as data: method, path, query, body, and how to read the answer.

Both clients send these and nothing else, so URL building, input validation and response parsing
live here once. Nothing in this module does I/O.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, ValidationError

from planasonix_provider.api.errors import (
    PlanasonixAPIError,
    PlanasonixValidationError,
    RequestInfo,
    ResponseParseError,
    error_class_for,
)
from planasonix_provider.api.models import (
    Backfill,
    BackfillHolder,
    BackfillRequest,
    DataEnvelope,
    Job,
    JobHolder,
    JobResults,
    ListEnvelope,
    Metadata,
    Priority,
    SyncRequest,
    Webhook,
    WebhookCreateRequest,
    WebhookDelivery,
    WebhookEvent,
    WebhookSecret,
    WebhookTestDelivery,
    WebhookTestRequest,
    WebhookUpdateRequest,
)
from planasonix_provider.api.redaction import (
    MASK,
    key_of,
    redact_optional,
    redact_text,
    redacted_body,
)
from planasonix_provider.api.retry import parse_retry_after
from planasonix_provider.api.status import is_job_terminal
from planasonix_provider.api.values import check_open_value, require_aware, to_rfc3339
from planasonix_provider.api.wire import HttpAnswer

if TYPE_CHECKING:
    import httpx
    import yarl

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
M = TypeVar("M", bound=BaseModel)

API_PREFIX = "/api/v1"
MAX_PAGE_SIZE = 100
ERROR_BODY_EXCERPT = 200


@dataclass(frozen=True, slots=True)
class Operation(Generic[T_co]):
    """One request to send, and the function that turns its successful answer into ``T_co``."""

    name: str
    method: str
    path: str
    parse: Callable[[HttpAnswer, RequestInfo], T_co]
    params: Mapping[str, str] | None = None
    body: Mapping[str, Any] | None = None
    creates_work: bool = False
    #: For results: a 409 means "not ready yet", which the operation reports as None.
    conflict_means_not_ready: bool = False
    #: An Accept header other than the client's default, ``application/json``.
    accept: str | None = None
    #: The absolute URL, in the form the client's HTTP library takes, once a client has prepared
    #: the operation for repeated sending.
    url: httpx.URL | yarl.URL | None = None

    @property
    def info(self) -> RequestInfo:
        return RequestInfo(self.name, self.method, self.path)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


class CursorTrail:
    """The cursors a listing has followed: a cursor that comes back (repeated, or a cycle) is
    an error, never a loop for ever."""

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def next(self, operation: Operation[Any], cursor: str) -> str:
        if cursor in self._seen:
            raise ResponseParseError(
                operation.info,
                200,
                f"the pagination cursor {cursor[:40]!r} came back after {len(self._seen)} "
                "page(s): the listing would loop for ever, so it stops here",
            )
        self._seen.add(cursor)
        return cursor


# --- Input checks ----------------------------------------------------------------------------


def path_segment(field: str, value: object) -> str:
    """An id as one percent-encoded path segment; empty ids and ids holding ``/`` never leave."""
    if not isinstance(value, str) or not value.strip():
        raise PlanasonixValidationError(f"{field} must be a non-empty string, got {value!r}")
    if "/" in value or value in (".", ".."):
        raise PlanasonixValidationError(
            f"{field} must not contain '/' nor be '.' or '..', got {value!r}"
        )
    return quote(value, safe="")


def _query_value(field: str, value: object) -> str:
    if isinstance(value, datetime):
        try:
            return to_rfc3339(value)
        except ValueError:
            raise PlanasonixValidationError(
                f"{field} must be a timezone-aware datetime (got naive {value.isoformat()}); "
                "use for example datetime(..., tzinfo=timezone.utc)"
            ) from None
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, str) and value:
        return value
    raise PlanasonixValidationError(f"{field} must be a non-empty string, got {value!r}")


def query(**fields: object) -> dict[str, str]:
    """Query parameters without the ones left as None."""
    return {name: _query_value(name, value) for name, value in fields.items() if value is not None}


def check_page_size(page_size: int | None) -> int | None:
    if page_size is not None and (
        isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= 100
    ):
        raise PlanasonixValidationError(
            f"page_size must be an integer from 1 to {MAX_PAGE_SIZE}, got {page_size!r}"
        )
    return page_size


def build_body(model: type[BaseModel], **fields: Any) -> dict[str, Any]:
    """A request body checked against its model, as JSON-ready data without the None fields."""
    try:
        checked = model.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        raise PlanasonixValidationError(describe_validation_error(exc)) from None
    body = checked.model_dump(mode="json", exclude_none=True)
    # Secrets are dumped masked; a body is the one place where the real value must go out.
    for name, value in fields.items():
        if hasattr(value, "get_secret_value"):
            body[name] = value.get_secret_value()
        elif name == "secret" and isinstance(value, str):
            body[name] = value
    return body


def describe_validation_error(exc: ValidationError) -> str:
    """Pydantic's errors as one line per field: ``field.path: message``."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        location = ".".join(str(part) for part in error["loc"]) or "body"
        problems.append(f"{location}: {error['msg']}")
    return "; ".join(problems)


# --- Response parsing ------------------------------------------------------------------------


def _validate(envelope: type[M], response: HttpAnswer, request: RequestInfo) -> M:
    if not response.content:
        raise ResponseParseError(request, response.status_code, "empty body, expected JSON")
    try:
        return envelope.model_validate_json(redacted_body(response))
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise ResponseParseError(
                request, response.status_code, f"not JSON: {excerpt(response)}"
            ) from None
        raise ResponseParseError(
            request, response.status_code, describe_validation_error(exc)
        ) from None


def data_of(model: type[M]) -> Callable[[HttpAnswer, RequestInfo], M]:
    envelope = DataEnvelope[model]  # type: ignore[valid-type]

    def parse(response: HttpAnswer, request: RequestInfo) -> M:
        return _validate(envelope, response, request).data

    return parse


def page_of(model: type[M]) -> Callable[[HttpAnswer, RequestInfo], Page[M]]:
    envelope = ListEnvelope[model]  # type: ignore[valid-type]

    def parse(response: HttpAnswer, request: RequestInfo) -> Page[M]:
        parsed = _validate(envelope, response, request)
        return Page(parsed.data, parsed.meta.page.cursor)

    return parse


def _parse_job_holder(response: HttpAnswer, request: RequestInfo) -> Job:
    return _validate(DataEnvelope[JobHolder], response, request).data.job


def _parse_backfill_holder(response: HttpAnswer, request: RequestInfo) -> Backfill:
    return _validate(DataEnvelope[BackfillHolder], response, request).data.backfill


_parse_job = data_of(Job)
_parse_backfill = data_of(Backfill)
_parse_webhook = data_of(Webhook)
_parse_results = data_of(JobResults)
_parse_job_page = page_of(Job)
_parse_backfill_page = page_of(Backfill)
_parse_webhook_page = page_of(Webhook)
_parse_delivery_page = page_of(WebhookDelivery)


def _parse_results_if_ready(response: HttpAnswer, request: RequestInfo) -> JobResults | None:
    results = _parse_results(response, request)
    return results if is_job_terminal(results.status) else None


def _parse_nothing(response: HttpAnswer, request: RequestInfo) -> None:
    return None


def _parse_text(response: HttpAnswer, request: RequestInfo) -> str:
    # The exact key only: the spec documents the Authorization header, which must stay readable.
    key = key_of(response)
    return response.text.replace(key, MASK) if key else response.text


def excerpt(response: HttpAnswer) -> str:
    """The start of an unexpected body, for an error message, with our own key (and any bearer
    token) blanked out in case a proxy echoed the request's headers back."""
    key = key_of(response)
    content_type = redact_text(response.headers.get("content-type", "no content-type"), key)
    text = redact_text(" ".join(response.text.split()), key)
    if len(text) > ERROR_BODY_EXCERPT:
        text = text[:ERROR_BODY_EXCERPT] + "..."
    return f"({content_type}) {text!r}"


def _error_fields(content: bytes) -> tuple[str | None, str | None, str | None] | None:
    """``(code, message, request_id)`` of an error body: the envelope of DESIGN.md, or the
    shapes the reference leaves open (``error`` as a string, fields missing). None: no envelope."""
    try:
        body = json.loads(content)
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, str) and error.strip():
        return None, error, _text(body.get("request_id"))
    if not isinstance(error, dict):
        return None
    code, message = _text(error.get("code")), _text(error.get("message"))
    request_id = _text(error.get("request_id")) or _text(body.get("request_id"))
    if code is None and message is None:
        return None
    return code, message, request_id


def _text(value: object) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    return str(value) or None


def error_from_response(request: RequestInfo, response: HttpAnswer) -> PlanasonixAPIError:
    """The exception for an error status, from the error envelope or whatever came instead.

    Every text the server chose (code, message, request id, body, content type) is redacted."""
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    cls = error_class_for(response.status_code)
    fields = _error_fields(response.content) if response.content else None
    if fields is None:
        body = excerpt(response) if response.content else "(empty body)"
        return cls(
            request,
            response.status_code,
            message=f"no error envelope in the response: {body}",
            retry_after=retry_after,
        )
    key = key_of(response)
    code, message, request_id = (redact_optional(value, key) for value in fields)
    return cls(
        request,
        response.status_code,
        code=code,
        message=message,
        request_id=request_id,
        retry_after=retry_after,
    )


# --- The operations --------------------------------------------------------------------------


def trigger_sync(
    connection_id: str,
    *,
    pipeline_id: str | None = None,
    priority: Priority | str | None = None,
    metadata: Metadata | None = None,
) -> Operation[Job]:
    cid = path_segment("connection_id", connection_id)
    body = build_body(SyncRequest, pipeline_id=pipeline_id, priority=priority, metadata=metadata)
    return Operation(
        "trigger_sync",
        "POST",
        f"{API_PREFIX}/connections/{cid}/sync",
        _parse_job_holder,
        body=body,
        creates_work=True,
    )


def trigger_backfill(
    connection_id: str,
    *,
    start_at: datetime,
    end_at: datetime,
    tables: list[str] | None = None,
    priority: Priority | str | None = None,
    metadata: Metadata | None = None,
) -> Operation[Backfill]:
    cid = path_segment("connection_id", connection_id)
    start_at, end_at = require_aware("start_at", start_at), require_aware("end_at", end_at)
    body = build_body(
        BackfillRequest,
        start_at=start_at,
        end_at=end_at,
        tables=tables,
        priority=priority,
        metadata=metadata,
    )
    body["start_at"], body["end_at"] = to_rfc3339(start_at), to_rfc3339(end_at)
    return Operation(
        "trigger_backfill",
        "POST",
        f"{API_PREFIX}/connections/{cid}/backfill",
        _parse_backfill_holder,
        body=body,
        creates_work=True,
    )


def list_backfills_page(
    *,
    connection_id: str | None = None,
    status: str | None = None,
    page_size: int | None = None,
    cursor: str | None = None,
) -> Operation[Page[Backfill]]:
    params = query(
        connection_id=connection_id, status=status, limit=_limit(page_size), cursor=cursor
    )
    return Operation(
        "list_backfills", "GET", f"{API_PREFIX}/backfills", _parse_backfill_page, params=params
    )


def get_backfill(backfill_id: str) -> Operation[Backfill]:
    bid = path_segment("backfill_id", backfill_id)
    return Operation("get_backfill", "GET", f"{API_PREFIX}/backfills/{bid}", _parse_backfill)


def list_jobs_page(
    *,
    connection_id: str | None = None,
    pipeline_id: str | None = None,
    type: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    page_size: int | None = None,
    cursor: str | None = None,
) -> Operation[Page[Job]]:
    for name, moment in (("since", since), ("until", until)):
        if moment is not None and not isinstance(moment, datetime):
            raise PlanasonixValidationError(
                f"{name} must be a timezone-aware datetime, got {moment.__class__.__name__} "
                f"{moment!r}; use for example datetime(2025, 1, 1, tzinfo=timezone.utc)"
            )
    params = query(
        connection_id=connection_id,
        pipeline_id=pipeline_id,
        type=None if type is None else check_open_value("type", type),
        status=status,
        since=since,
        until=until,
        limit=_limit(page_size),
        cursor=cursor,
    )
    return Operation("list_jobs", "GET", f"{API_PREFIX}/jobs", _parse_job_page, params=params)


def get_job(job_id: str) -> Operation[Job]:
    jid = path_segment("job_id", job_id)
    return Operation("get_job", "GET", f"{API_PREFIX}/jobs/{jid}", _parse_job)


def get_job_results(job_id: str) -> Operation[JobResults | None]:
    jid = path_segment("job_id", job_id)
    return Operation(
        "get_job_results",
        "GET",
        f"{API_PREFIX}/jobs/{jid}/results",
        _parse_results_if_ready,
        conflict_means_not_ready=True,
    )


def cancel_job(job_id: str) -> Operation[Job]:
    jid = path_segment("job_id", job_id)
    # Cancel is documented as idempotent, so it is retried like a read.
    return Operation("cancel_job", "POST", f"{API_PREFIX}/jobs/{jid}/cancel", _parse_job)


def list_webhooks_page(*, cursor: str | None = None) -> Operation[Page[Webhook]]:
    return Operation(
        "list_webhooks",
        "GET",
        f"{API_PREFIX}/webhooks",
        _parse_webhook_page,
        params=query(cursor=cursor),
    )


def create_webhook(
    url: str, events: list[WebhookEvent | str], *, secret: str | None = None
) -> Operation[Webhook]:
    body = build_body(WebhookCreateRequest, url=url, events=events, secret=secret)
    return Operation(
        "create_webhook",
        "POST",
        f"{API_PREFIX}/webhooks",
        _parse_webhook,
        body=body,
        creates_work=True,
    )


def get_webhook(webhook_id: str) -> Operation[Webhook]:
    wid = path_segment("webhook_id", webhook_id)
    return Operation("get_webhook", "GET", f"{API_PREFIX}/webhooks/{wid}", _parse_webhook)


def update_webhook(
    webhook_id: str,
    *,
    url: str | None = None,
    events: list[WebhookEvent | str] | None = None,
    enabled: bool | None = None,
) -> Operation[Webhook]:
    wid = path_segment("webhook_id", webhook_id)
    body = build_body(WebhookUpdateRequest, url=url, events=events, enabled=enabled)
    return Operation(
        "update_webhook", "PUT", f"{API_PREFIX}/webhooks/{wid}", _parse_webhook, body=body
    )


def replace_webhook(
    current: Webhook,
    *,
    url: str | None = None,
    events: list[WebhookEvent | str] | None = None,
    enabled: bool | None = None,
) -> Operation[Webhook]:
    """A PUT carrying the whole subscription: ``current`` with the changes given.

    The reference's PUT body is the whole subscription, and it does not say whether a service
    merges a partial body or replaces the subscription with it; a whole body is right for both.
    """
    return update_webhook(
        current.id,
        url=url if url is not None else current.url,
        events=events if events is not None else (current.events or None),
        enabled=enabled if enabled is not None else current.enabled,
    )


def delete_webhook(webhook_id: str) -> Operation[None]:
    wid = path_segment("webhook_id", webhook_id)
    return Operation("delete_webhook", "DELETE", f"{API_PREFIX}/webhooks/{wid}", _parse_nothing)


def rotate_webhook_secret(webhook_id: str) -> Operation[WebhookSecret]:
    wid = path_segment("webhook_id", webhook_id)
    return Operation(
        "rotate_webhook_secret",
        "POST",
        f"{API_PREFIX}/webhooks/{wid}/rotate-secret",
        data_of(WebhookSecret),
        creates_work=True,
    )


def send_test_event(
    webhook_id: str, event: WebhookEvent | str | None = None
) -> Operation[WebhookTestDelivery]:
    wid = path_segment("webhook_id", webhook_id)
    body = build_body(WebhookTestRequest, event=event)
    return Operation(
        "send_test_event",
        "POST",
        f"{API_PREFIX}/webhooks/{wid}/test",
        data_of(WebhookTestDelivery),
        body=body,
        creates_work=True,
    )


def list_webhook_deliveries_page(
    webhook_id: str, *, cursor: str | None = None
) -> Operation[Page[WebhookDelivery]]:
    wid = path_segment("webhook_id", webhook_id)
    return Operation(
        "list_webhook_deliveries",
        "GET",
        f"{API_PREFIX}/webhooks/{wid}/deliveries",
        _parse_delivery_page,
        params=query(cursor=cursor),
    )


def get_openapi_spec() -> Operation[str]:
    return Operation(
        "get_openapi_spec",
        "GET",
        f"{API_PREFIX}/openapi.yaml",
        _parse_text,
        accept="application/yaml, text/yaml;q=0.9, */*;q=0.1",
    )


def _limit(page_size: int | None) -> str | None:
    checked = check_page_size(page_size)
    return None if checked is None else str(checked)
