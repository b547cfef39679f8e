"""Successful answers -> models: the parsers the operations name.

Strict where a task depends on the field, lenient elsewhere (the models say which); a body that is
not JSON, or lacks a strict field, is a :class:`ResponseParseError` that names the field and the
request. Bodies are parsed only after our key is blanked out of them (``redaction.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from planasonix_provider.api.answers import HttpAnswer
from planasonix_provider.api.errors import RequestInfo, ResponseParseError, excerpt
from planasonix_provider.api.models import (
    Backfill,
    BackfillHolder,
    DataEnvelope,
    Job,
    JobHolder,
    JobResults,
    ListEnvelope,
    Webhook,
    WebhookDelivery,
    WebhookSecret,
    WebhookTestDelivery,
    describe_validation_error,
)
from planasonix_provider.api.pages import Page
from planasonix_provider.api.redaction import MASK, key_of, redacted_body
from planasonix_provider.api.status import is_job_terminal

M = TypeVar("M", bound=BaseModel)


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
    """A parser of ``{"data": <model>}``."""
    envelope = DataEnvelope[model]  # type: ignore[valid-type]

    def parse(response: HttpAnswer, request: RequestInfo) -> M:
        return _validate(envelope, response, request).data

    return parse


def page_of(model: type[M]) -> Callable[[HttpAnswer, RequestInfo], Page[M]]:
    """A parser of ``{"data": [<model>...], "meta": {"page": {"cursor": ...}}}``."""
    envelope = ListEnvelope[model]  # type: ignore[valid-type]

    def parse(response: HttpAnswer, request: RequestInfo) -> Page[M]:
        parsed = _validate(envelope, response, request)
        return Page(parsed.data, parsed.meta.page.cursor)

    return parse


def job_holder(response: HttpAnswer, request: RequestInfo) -> Job:
    """``{"data": {"job": ...}}``, the answer to a sync."""
    return _validate(DataEnvelope[JobHolder], response, request).data.job


def backfill_holder(response: HttpAnswer, request: RequestInfo) -> Backfill:
    """``{"data": {"backfill": ...}}``, the answer to a backfill."""
    return _validate(DataEnvelope[BackfillHolder], response, request).data.backfill


job = data_of(Job)
backfill = data_of(Backfill)
webhook = data_of(Webhook)
webhook_secret = data_of(WebhookSecret)
webhook_test_delivery = data_of(WebhookTestDelivery)
job_page = page_of(Job)
backfill_page = page_of(Backfill)
webhook_page = page_of(Webhook)
delivery_page = page_of(WebhookDelivery)
_results = data_of(JobResults)


def results_if_ready(response: HttpAnswer, request: RequestInfo) -> JobResults | None:
    """Results, or None for the stub of a job that has not finished."""
    results = _results(response, request)
    return results if is_job_terminal(results.status) else None


def nothing(response: HttpAnswer, request: RequestInfo) -> None:
    return None


def text(response: HttpAnswer, request: RequestInfo) -> str:
    # The exact key only: the spec documents the Authorization header, which must stay readable.
    key = key_of(response)
    return response.text.replace(key, MASK) if key else response.text
