"""The hand-written OpenAPI document: valid, matching the reference examples, and the server.

The examples are the ones the client tests answer with (``tests/reference_examples.py``).
"""

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
from tests import reference_examples as ex

SPEC: dict[str, Any] = yaml.safe_load(
    (resources.files("planasonix_provider.api") / "openapi.yaml").read_text("utf-8")
)

#: (schema of the document, a reference example, our model of it or None for an envelope).
EXAMPLES: list[tuple[str, dict[str, Any], Any]] = [
    ("SyncRequest", ex.SYNC_REQUEST, SyncRequest),
    ("JobHolderEnvelope", ex.SYNC_RESPONSE, None),
    ("BackfillRequest", ex.BACKFILL_REQUEST, BackfillRequest),
    ("BackfillHolderEnvelope", ex.BACKFILL_RESPONSE, None),
    ("BackfillListEnvelope", ex.BACKFILL_LIST, None),
    ("Backfill", ex.BACKFILL_GET["data"], Backfill),
    ("JobListEnvelope", ex.JOB_LIST, None),
    ("Job", ex.JOB_GET["data"], Job),
    ("JobResults", ex.JOB_RESULTS["data"], JobResults),
    ("Job", ex.JOB_CANCEL["data"], Job),
    ("WebhookListEnvelope", ex.WEBHOOK_LIST, None),
    ("WebhookCreateRequest", ex.WEBHOOK_CREATE_REQUEST, WebhookCreateRequest),
    ("Webhook", ex.WEBHOOK_CREATE["data"], Webhook),
    ("Webhook", ex.WEBHOOK_GET["data"], Webhook),
    ("WebhookUpdateRequest", ex.WEBHOOK_UPDATE_REQUEST, WebhookUpdateRequest),
    ("Webhook", ex.WEBHOOK_UPDATE["data"], Webhook),
    ("WebhookSecret", ex.WEBHOOK_ROTATE["data"], WebhookSecret),
    ("WebhookTestRequest", ex.WEBHOOK_TEST_REQUEST, WebhookTestRequest),
    ("WebhookTestDelivery", ex.WEBHOOK_TEST["data"], WebhookTestDelivery),
    ("WebhookDeliveryListEnvelope", ex.WEBHOOK_DELIVERIES, None),
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
