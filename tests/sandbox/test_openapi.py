"""The hand-written OpenAPI document: valid, matching the reference examples, and the server."""

from __future__ import annotations

from importlib import resources
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from planasonix_provider.api.models import (
    Backfill,
    BackfillRequest,
    Job,
    JobResults,
    SyncRequest,
    Webhook,
    WebhookCreateRequest,
    WebhookSecret,
    WebhookTestDelivery,
    WebhookTestRequest,
    WebhookUpdateRequest,
)
from planasonix_provider.sandbox.testing import run_sandbox

SPEC: dict[str, Any] = yaml.safe_load(
    (resources.files("planasonix_provider.api") / "openapi.yaml").read_text("utf-8")
)

# Copied verbatim from reference/orchestration-api-v1.md.
JOB_RUNNING = {
    "id": "job_01jq8syncabc",
    "type": "connection_sync",
    "status": "running",
    "connection_id": "conn_01jq8k2m3n4p5q6r7s8t9u0v1",
    "pipeline_id": "pl_01hqxyz",
    "created_at": "2025-03-27T14:22:10Z",
    "queued_at": "2025-03-27T14:22:10Z",
    "started_at": "2025-03-27T14:22:12Z",
    "finished_at": None,
    "duration_seconds": None,
    "metrics": {"rows_extracted": 45210, "rows_loaded": 44802, "bytes_read": 67108864},
    "error": None,
}
BACKFILL = {
    "id": "bf_01jq8bfill01",
    "connection_id": "conn_01jq8k2m3n4p5q6r7s8t9u0v1",
    "status": "running",
    "start_at": "2025-01-01T00:00:00Z",
    "end_at": "2025-03-01T00:00:00Z",
    "tables": ["public.orders", "public.order_items"],
    "progress_percent": 37,
    "rows_processed": 1849200,
    "error": None,
    "job_ids": ["job_01jq8chunk01", "job_01jq8chunk02"],
    "created_at": "2025-03-27T14:25:00Z",
    "updated_at": "2025-03-27T14:28:44Z",
}
EXAMPLES: list[tuple[str, dict[str, Any], Any]] = [
    (
        "SyncRequest",
        {
            "pipeline_id": "pl_01hqxyz",
            "priority": "normal",
            "metadata": {
                "triggered_by": "airflow_dag_nightly_sales",
                "dag_run_id": "scheduled__2025-03-27T02:00:00+00:00",
            },
        },
        SyncRequest,
    ),
    (
        "JobHolderEnvelope",
        {
            "data": {
                "job": {
                    "id": "job_01jq8syncabc",
                    "type": "connection_sync",
                    "status": "queued",
                    "connection_id": "conn_01jq8k2m3n4p5q6r7s8t9u0v1",
                    "pipeline_id": "pl_01hqxyz",
                    "created_at": "2025-03-27T14:22:10Z",
                    "queued_at": "2025-03-27T14:22:10Z",
                }
            }
        },
        None,
    ),
    (
        "BackfillRequest",
        {
            "start_at": "2025-01-01T00:00:00Z",
            "end_at": "2025-03-01T00:00:00Z",
            "tables": ["public.orders", "public.order_items"],
            "priority": "low",
            "metadata": {"reason": "post_incident_replay"},
        },
        BackfillRequest,
    ),
    (
        "BackfillHolderEnvelope",
        {
            "data": {
                "backfill": {
                    "id": "bf_01jq8bfill01",
                    "connection_id": "conn_01jq8k2m3n4p5q6r7s8t9u0v1",
                    "status": "running",
                    "start_at": "2025-01-01T00:00:00Z",
                    "end_at": "2025-03-01T00:00:00Z",
                    "tables": ["public.orders", "public.order_items"],
                    "progress_percent": 0,
                    "created_at": "2025-03-27T14:25:00Z",
                }
            }
        },
        None,
    ),
    (
        "BackfillListEnvelope",
        {
            "data": [
                {
                    "id": "bf_01jq8bfill01",
                    "connection_id": "conn_01jq8k2m3n4p5q6r7s8t9u0v1",
                    "status": "running",
                    "start_at": "2025-01-01T00:00:00Z",
                    "end_at": "2025-03-01T00:00:00Z",
                    "progress_percent": 37,
                    "created_at": "2025-03-27T14:25:00Z",
                    "updated_at": "2025-03-27T14:28:44Z",
                }
            ],
            "meta": {"page": {"limit": 50, "cursor": "eyJiZiI6ImJmXzAxanE4YmZpbGwwMSJ9"}},
        },
        None,
    ),
    ("Backfill", BACKFILL, Backfill),
    (
        "JobListEnvelope",
        {
            "data": [
                {
                    "id": "job_01jq8syncabc",
                    "type": "connection_sync",
                    "status": "running",
                    "connection_id": "conn_01jq8k2m3n4p5q6r7s8t9u0v1",
                    "pipeline_id": "pl_01hqxyz",
                    "created_at": "2025-03-27T14:22:10Z",
                    "started_at": "2025-03-27T14:22:12Z",
                }
            ],
            "meta": {"page": {"limit": 50, "cursor": None}},
        },
        None,
    ),
    ("Job", JOB_RUNNING, Job),
    (
        "JobResults",
        {
            "job_id": "job_01jq8syncabc",
            "status": "succeeded",
            "tables": [
                {
                    "name": "public.orders",
                    "rows_loaded": 44802,
                    "checksum": "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",  # noqa: E501
                }
            ],
            "warnings": [
                {
                    "code": "column_type_widened",
                    "message": "Column discount_pct coerced from NUMERIC(5,2) to NUMERIC(8,4)",
                }
            ],
        },
        JobResults,
    ),
    (
        "Job",
        {
            "id": "job_01jq8syncabc",
            "status": "cancelling",
            "cancel_requested_at": "2025-03-27T14:30:00Z",
        },
        Job,
    ),
    (
        "WebhookListEnvelope",
        {
            "data": [
                {
                    "id": "wh_01jq8hook01",
                    "url": "https://hooks.slack.com/services/T000/B000/XXXXXXXX",
                    "events": ["job.succeeded", "job.failed", "backfill.completed"],
                    "enabled": True,
                    "created_at": "2025-03-20T09:00:00Z",
                }
            ]
        },
        None,
    ),
    (
        "WebhookCreateRequest",
        {
            "url": "https://api.internal.example.com/planasonix/webhook",
            "events": ["job.succeeded", "job.failed"],
            "secret": "whsec_custom_optional_if_server_generates",
        },
        WebhookCreateRequest,
    ),
    (
        "Webhook",
        {
            "id": "wh_01jq8hook02",
            "url": "https://api.internal.example.com/planasonix/webhook",
            "events": ["job.succeeded", "job.failed"],
            "signing_secret": "whsec_01jq8secretxxxxxxxxxxxxxxxx",
            "enabled": True,
            "created_at": "2025-03-27T15:00:00Z",
        },
        Webhook,
    ),
    (
        "Webhook",
        {
            "id": "wh_01jq8hook02",
            "url": "https://api.internal.example.com/planasonix/webhook",
            "events": ["job.succeeded", "job.failed"],
            "enabled": True,
            "last_delivery_at": "2025-03-27T14:55:01Z",
            "failure_count_24h": 0,
            "created_at": "2025-03-27T15:00:00Z",
        },
        Webhook,
    ),
    (
        "WebhookUpdateRequest",
        {
            "url": "https://api.internal.example.com/v2/planasonix/webhook",
            "events": ["job.succeeded", "job.failed", "backfill.completed"],
            "enabled": True,
        },
        WebhookUpdateRequest,
    ),
    (
        "Webhook",
        {
            "id": "wh_01jq8hook02",
            "url": "https://api.internal.example.com/v2/planasonix/webhook",
            "events": ["job.succeeded", "job.failed", "backfill.completed"],
            "enabled": True,
            "updated_at": "2025-03-27T15:05:00Z",
        },
        Webhook,
    ),
    (
        "WebhookSecret",
        {
            "id": "wh_01jq8hook02",
            "signing_secret": "whsec_01jq8newsecretyyyyyyyyyyyyy",
            "rotated_at": "2025-03-27T15:10:00Z",
        },
        WebhookSecret,
    ),
    ("WebhookTestRequest", {"event": "job.succeeded"}, WebhookTestRequest),
    (
        "WebhookTestDelivery",
        {"delivery_id": "whd_01jq8test01", "status": "pending"},
        WebhookTestDelivery,
    ),
    (
        "WebhookDeliveryListEnvelope",
        {
            "data": [
                {
                    "id": "whd_01jq8del001",
                    "event": "job.succeeded",
                    "status": "delivered",
                    "http_status": 200,
                    "attempt": 1,
                    "delivered_at": "2025-03-27T14:55:01Z",
                },
                {
                    "id": "whd_01jq8del002",
                    "event": "job.failed",
                    "status": "failed",
                    "http_status": 503,
                    "attempt": 3,
                    "last_error": "connection reset by peer",
                    "delivered_at": None,
                },
            ]
        },
        None,
    ),
]


def _validator(name: str) -> Draft202012Validator:
    # Component schemas refer to each other as #/components/schemas/...: validate against the
    # whole document with a $ref to the one schema.
    document = {**SPEC, "$ref": f"#/components/schemas/{name}"}
    return Draft202012Validator(document, format_checker=Draft202012Validator.FORMAT_CHECKER)


def test_document_is_valid_openapi_31() -> None:
    validate(SPEC)
    assert SPEC["openapi"] == "3.1.0"
    assert SPEC["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    operations = {
        (method.upper(), path)
        for path, item in SPEC["paths"].items()
        for method in item
        if method in ("get", "post", "put", "delete")
    }
    assert len(operations) == 17


@pytest.mark.parametrize(("schema", "example", "model"), EXAMPLES)
def test_reference_examples_match_schema_and_models(
    schema: str, example: dict[str, Any], model: Any
) -> None:
    errors = list(_validator(schema).iter_errors(example))
    assert errors == []
    if model is not None:
        assert model.model_validate(example) is not None


def test_schema_rejects_what_the_server_rejects() -> None:
    bad = {"start_at": "2025-01-01T00:00:00Z", "end_at": "x", "priority": "urgent", "extra": 1}
    assert len(list(_validator("BackfillRequest").iter_errors(bad))) >= 2


def test_schemathesis_finds_no_server_error() -> None:
    import schemathesis
    from hypothesis import HealthCheck, Phase, settings
    from schemathesis.checks import not_a_server_error

    with run_sandbox(speed=50, seed=1) as handle:
        schema = schemathesis.openapi.from_dict(SPEC)
        schema.config.update(base_url=handle.base_url)
        failures: list[str] = []
        calls = 0
        for operation in schema.get_all_operations():
            op = operation.ok()
            strategy = op.as_strategy()

            @settings(
                max_examples=25,
                deadline=None,
                database=None,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def check(case: Any) -> None:
                nonlocal calls
                calls += 1
                response = case.call(headers={"Authorization": f"Bearer {handle.api_key}"})
                if response.status_code >= 500:
                    failures.append(f"{case.method} {case.path}: {response.status_code}")
                case.validate_response(response, checks=[not_a_server_error])

            from hypothesis import given

            given(strategy)(check)()
    assert calls >= 17 * 4
    assert failures == []
