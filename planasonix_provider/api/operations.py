"""Every v1 operation as data: method, path, query, body, and which parser reads the answer.

Both clients send these and nothing else. This module defines them and what shapes a request:
ids as path segments, query values, page sizes, and bodies checked against their models (in
``models.py``); the parsers are in ``parsing.py``. Nothing here does I/O, and an operation holds
no HTTP library's types: a client that sends one again and again (a poll) keeps its resolved URL
beside it (``client.prepare``), not on it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, ValidationError

import planasonix_provider.api.parsing as parsing
from planasonix_provider.api.answers import HttpAnswer
from planasonix_provider.api.checks import check_open_value, require_aware, to_rfc3339
from planasonix_provider.api.errors import PlanasonixValidationError, RequestInfo
from planasonix_provider.api.models import (
    Backfill,
    BackfillRequest,
    Job,
    JobResults,
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
    describe_validation_error,
)
from planasonix_provider.api.pages import Page

T_co = TypeVar("T_co", covariant=True)

API_PREFIX = "/api/v1"


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

    @property
    def info(self) -> RequestInfo:
        return RequestInfo(self.name, self.method, self.path)


# --- The operations --------------------------------------------------------------------------


def trigger_sync(
    connection_id: str,
    *,
    pipeline_id: str | None = None,
    priority: Priority | str | None = None,
    metadata: Metadata | None = None,
) -> Operation[Job]:
    cid = path_segment("connection_id", connection_id)
    body = request_body(SyncRequest, pipeline_id=pipeline_id, priority=priority, metadata=metadata)
    return Operation(
        "trigger_sync",
        "POST",
        f"{API_PREFIX}/connections/{cid}/sync",
        parsing.job_holder,
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
    body = request_body(
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
        parsing.backfill_holder,
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
        "list_backfills", "GET", f"{API_PREFIX}/backfills", parsing.backfill_page, params=params
    )


def get_backfill(backfill_id: str) -> Operation[Backfill]:
    bid = path_segment("backfill_id", backfill_id)
    return Operation("get_backfill", "GET", f"{API_PREFIX}/backfills/{bid}", parsing.backfill)


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
    return Operation("list_jobs", "GET", f"{API_PREFIX}/jobs", parsing.job_page, params=params)


def get_job(job_id: str) -> Operation[Job]:
    jid = path_segment("job_id", job_id)
    return Operation("get_job", "GET", f"{API_PREFIX}/jobs/{jid}", parsing.job)


def get_job_results(job_id: str) -> Operation[JobResults | None]:
    jid = path_segment("job_id", job_id)
    return Operation(
        "get_job_results",
        "GET",
        f"{API_PREFIX}/jobs/{jid}/results",
        parsing.results_if_ready,
        conflict_means_not_ready=True,
    )


def cancel_job(job_id: str) -> Operation[Job]:
    jid = path_segment("job_id", job_id)
    # Cancel is documented as idempotent, so it is retried like a read.
    return Operation("cancel_job", "POST", f"{API_PREFIX}/jobs/{jid}/cancel", parsing.job)


def list_webhooks_page(*, cursor: str | None = None) -> Operation[Page[Webhook]]:
    return Operation(
        "list_webhooks",
        "GET",
        f"{API_PREFIX}/webhooks",
        parsing.webhook_page,
        params=query(cursor=cursor),
    )


def create_webhook(
    url: str, events: list[WebhookEvent | str], *, secret: str | None = None
) -> Operation[Webhook]:
    body = request_body(WebhookCreateRequest, url=url, events=events, secret=secret)
    return Operation(
        "create_webhook",
        "POST",
        f"{API_PREFIX}/webhooks",
        parsing.webhook,
        body=body,
        creates_work=True,
    )


def get_webhook(webhook_id: str) -> Operation[Webhook]:
    wid = path_segment("webhook_id", webhook_id)
    return Operation("get_webhook", "GET", f"{API_PREFIX}/webhooks/{wid}", parsing.webhook)


def update_webhook(
    webhook_id: str,
    *,
    url: str | None = None,
    events: list[WebhookEvent | str] | None = None,
    enabled: bool | None = None,
) -> Operation[Webhook]:
    wid = path_segment("webhook_id", webhook_id)
    body = request_body(WebhookUpdateRequest, url=url, events=events, enabled=enabled)
    return Operation(
        "update_webhook", "PUT", f"{API_PREFIX}/webhooks/{wid}", parsing.webhook, body=body
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
    return Operation("delete_webhook", "DELETE", f"{API_PREFIX}/webhooks/{wid}", parsing.nothing)


def rotate_webhook_secret(webhook_id: str) -> Operation[WebhookSecret]:
    wid = path_segment("webhook_id", webhook_id)
    return Operation(
        "rotate_webhook_secret",
        "POST",
        f"{API_PREFIX}/webhooks/{wid}/rotate-secret",
        parsing.webhook_secret,
        creates_work=True,
    )


def send_test_event(
    webhook_id: str, event: WebhookEvent | str | None = None
) -> Operation[WebhookTestDelivery]:
    wid = path_segment("webhook_id", webhook_id)
    body = request_body(WebhookTestRequest, event=event)
    return Operation(
        "send_test_event",
        "POST",
        f"{API_PREFIX}/webhooks/{wid}/test",
        parsing.webhook_test_delivery,
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
        parsing.delivery_page,
        params=query(cursor=cursor),
    )


def get_openapi_spec() -> Operation[str]:
    return Operation(
        "get_openapi_spec",
        "GET",
        f"{API_PREFIX}/openapi.yaml",
        parsing.text,
        accept="application/yaml, text/yaml;q=0.9, */*;q=0.1",
    )


def _limit(page_size: int | None) -> str | None:
    checked = check_page_size(page_size)
    return None if checked is None else str(checked)


# --- what shapes a request: path segments, query values, page sizes, bodies -------------------

MAX_PAGE_SIZE = 100


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
        isinstance(page_size, bool)
        or not isinstance(page_size, int)
        or not 1 <= page_size <= MAX_PAGE_SIZE
    ):
        raise PlanasonixValidationError(
            f"page_size must be an integer from 1 to {MAX_PAGE_SIZE}, got {page_size!r}"
        )
    return page_size


def request_body(model: type[BaseModel], **fields: Any) -> dict[str, Any]:
    """A request body checked against its model, as JSON-ready data without the None fields.

    Raises :class:`PlanasonixValidationError` with one ``field: problem`` per mistake.
    """
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
