"""The Planasonix Orchestration API v1 client. Imports nothing from Airflow.

Names are loaded on first use (PEP 562), so that importing one submodule, such as
``planasonix_provider.api.defaults`` from the connection form, does not load the client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from planasonix_provider.api.async_client import AsyncPlanasonixClient
    from planasonix_provider.api.client import PlanasonixClient
    from planasonix_provider.api.config import RetryPolicy
    from planasonix_provider.api.errors import (
        AuthenticationError,
        BadRequestError,
        ConflictError,
        NotFoundError,
        PermissionDeniedError,
        PlanasonixAPIError,
        PlanasonixError,
        PlanasonixTransportError,
        PlanasonixValidationError,
        RateLimitedError,
        RequestMayHaveBeenProcessedError,
        ResponseParseError,
        ServerError,
    )
    from planasonix_provider.api.models import (
        Backfill,
        BackfillRequest,
        ErrorBody,
        ErrorDetail,
        Job,
        JobError,
        JobMetrics,
        JobResults,
        Priority,
        ResultWarning,
        SyncRequest,
        TableResult,
        Webhook,
        WebhookCreateRequest,
        WebhookDelivery,
        WebhookEvent,
        WebhookEventPayload,
        WebhookSecret,
        WebhookTestDelivery,
        WebhookTestRequest,
        WebhookUpdateRequest,
    )
    from planasonix_provider.api.recovery import StartedWork, afind_started_work, find_started_work
    from planasonix_provider.api.status import (
        BackfillStatus,
        JobStatus,
        is_backfill_terminal,
        is_job_terminal,
    )
    from planasonix_provider.api.webhooks import (
        SignatureMismatchError,
        describe_signature_header,
        require_signature,
        sign_payload,
        verify_signature,
    )

_EXPORTS = {
    "AsyncPlanasonixClient": "planasonix_provider.api.async_client",
    "AuthenticationError": "planasonix_provider.api.errors",
    "Backfill": "planasonix_provider.api.models",
    "BackfillRequest": "planasonix_provider.api.models",
    "BackfillStatus": "planasonix_provider.api.status",
    "BadRequestError": "planasonix_provider.api.errors",
    "ConflictError": "planasonix_provider.api.errors",
    "ErrorBody": "planasonix_provider.api.models",
    "ErrorDetail": "planasonix_provider.api.models",
    "Job": "planasonix_provider.api.models",
    "JobError": "planasonix_provider.api.models",
    "JobMetrics": "planasonix_provider.api.models",
    "JobResults": "planasonix_provider.api.models",
    "JobStatus": "planasonix_provider.api.status",
    "NotFoundError": "planasonix_provider.api.errors",
    "PermissionDeniedError": "planasonix_provider.api.errors",
    "PlanasonixAPIError": "planasonix_provider.api.errors",
    "PlanasonixClient": "planasonix_provider.api.client",
    "PlanasonixError": "planasonix_provider.api.errors",
    "PlanasonixTransportError": "planasonix_provider.api.errors",
    "PlanasonixValidationError": "planasonix_provider.api.errors",
    "Priority": "planasonix_provider.api.models",
    "RateLimitedError": "planasonix_provider.api.errors",
    "RequestMayHaveBeenProcessedError": "planasonix_provider.api.errors",
    "ResponseParseError": "planasonix_provider.api.errors",
    "ResultWarning": "planasonix_provider.api.models",
    "RetryPolicy": "planasonix_provider.api.config",
    "StartedWork": "planasonix_provider.api.recovery",
    "afind_started_work": "planasonix_provider.api.recovery",
    "find_started_work": "planasonix_provider.api.recovery",
    "ServerError": "planasonix_provider.api.errors",
    "SyncRequest": "planasonix_provider.api.models",
    "TableResult": "planasonix_provider.api.models",
    "Webhook": "planasonix_provider.api.models",
    "WebhookCreateRequest": "planasonix_provider.api.models",
    "WebhookDelivery": "planasonix_provider.api.models",
    "WebhookEvent": "planasonix_provider.api.models",
    "WebhookEventPayload": "planasonix_provider.api.models",
    "WebhookSecret": "planasonix_provider.api.models",
    "WebhookTestDelivery": "planasonix_provider.api.models",
    "WebhookTestRequest": "planasonix_provider.api.models",
    "WebhookUpdateRequest": "planasonix_provider.api.models",
    "is_backfill_terminal": "planasonix_provider.api.status",
    "is_job_terminal": "planasonix_provider.api.status",
    "SignatureMismatchError": "planasonix_provider.api.webhooks",
    "describe_signature_header": "planasonix_provider.api.webhooks",
    "require_signature": "planasonix_provider.api.webhooks",
    "sign_payload": "planasonix_provider.api.webhooks",
    "verify_signature": "planasonix_provider.api.webhooks",
}

__all__ = [
    "AsyncPlanasonixClient",
    "AuthenticationError",
    "Backfill",
    "BackfillRequest",
    "BackfillStatus",
    "BadRequestError",
    "ConflictError",
    "ErrorBody",
    "ErrorDetail",
    "Job",
    "JobError",
    "JobMetrics",
    "JobResults",
    "JobStatus",
    "NotFoundError",
    "PermissionDeniedError",
    "PlanasonixAPIError",
    "PlanasonixClient",
    "PlanasonixError",
    "PlanasonixTransportError",
    "PlanasonixValidationError",
    "Priority",
    "RateLimitedError",
    "RequestMayHaveBeenProcessedError",
    "ResponseParseError",
    "ResultWarning",
    "RetryPolicy",
    "ServerError",
    "SignatureMismatchError",
    "StartedWork",
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
    "afind_started_work",
    "describe_signature_header",
    "find_started_work",
    "is_backfill_terminal",
    "is_job_terminal",
    "require_signature",
    "sign_payload",
    "verify_signature",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
