"""Models: the reference payloads parse, datetimes are aware, secrets never print; statuses."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from planasonix_provider.api import (
    Backfill,
    BackfillRequest,
    ErrorBody,
    Job,
    JobResults,
    ResponseParseError,
    SyncRequest,
    Webhook,
    WebhookCreateRequest,
    WebhookDelivery,
    WebhookEventPayload,
    WebhookSecret,
    WebhookTestDelivery,
    WebhookUpdateRequest,
)
from planasonix_provider.api.checks import to_rfc3339
from planasonix_provider.api.models import (
    BackfillHolder,
    DataEnvelope,
    JobHolder,
    ListEnvelope,
)
from planasonix_provider.api.status import (
    BACKFILL_TERMINAL_STATUSES,
    JOB_ACTIVE_STATUSES,
    JOB_TERMINAL_STATUSES,
    SUCCESS_STATUS,
    BackfillStatus,
    JobStatus,
    is_backfill_terminal,
    is_job_terminal,
    is_known_backfill_status,
    is_known_job_status,
)
from tests import reference_examples as ex
from tests.unit import harness
from tests.unit.harness import ApiPool
from tests.unit.scripted import ok

UTC = timezone.utc


@pytest.fixture(params=harness.ALL_KINDS)
async def make_api(request: pytest.FixtureRequest) -> AsyncIterator[Callable[..., harness.Api]]:
    async with ApiPool(request.param) as pool:
        yield pool.make


EXAMPLES: list[tuple[str, type[BaseModel], dict[str, Any]]] = [
    ("sync", DataEnvelope[JobHolder], ex.SYNC_RESPONSE),
    ("backfill", DataEnvelope[BackfillHolder], ex.BACKFILL_RESPONSE),
    ("backfill-list", ListEnvelope[Backfill], ex.BACKFILL_LIST),
    ("backfill-get", DataEnvelope[Backfill], ex.BACKFILL_GET),
    ("job-list", ListEnvelope[Job], ex.JOB_LIST),
    ("job-get", DataEnvelope[Job], ex.JOB_GET),
    ("job-results", DataEnvelope[JobResults], ex.JOB_RESULTS),
    ("job-cancel", DataEnvelope[Job], ex.JOB_CANCEL),
    ("webhook-list", ListEnvelope[Webhook], ex.WEBHOOK_LIST),
    ("webhook-create", DataEnvelope[Webhook], ex.WEBHOOK_CREATE),
    ("webhook-get", DataEnvelope[Webhook], ex.WEBHOOK_GET),
    ("webhook-update", DataEnvelope[Webhook], ex.WEBHOOK_UPDATE),
    ("webhook-rotate", DataEnvelope[WebhookSecret], ex.WEBHOOK_ROTATE),
    ("webhook-test", DataEnvelope[WebhookTestDelivery], ex.WEBHOOK_TEST),
    ("webhook-deliveries", ListEnvelope[WebhookDelivery], ex.WEBHOOK_DELIVERIES),
]


def _datetimes(value: Any) -> list[datetime]:
    if isinstance(value, datetime):
        return [value]
    if isinstance(value, BaseModel):
        return [d for item in dict(value).values() for d in _datetimes(item)]
    if isinstance(value, list):
        return [d for item in value for d in _datetimes(item)]
    return []


def _timestamp_count(value: Any) -> int:
    """How many non-null ``*_at`` fields a JSON example holds."""
    if isinstance(value, dict):
        return sum(
            (1 if k.endswith("_at") and v is not None else _timestamp_count(v))
            for k, v in value.items()
        )
    if isinstance(value, list):
        return sum(_timestamp_count(v) for v in value)
    return 0


@pytest.mark.parametrize(
    ("envelope", "example"), [e[1:] for e in EXAMPLES], ids=[e[0] for e in EXAMPLES]
)
def test_reference_examples_parse_with_aware_datetimes(
    envelope: type[BaseModel], example: dict[str, Any]
) -> None:
    parsed = envelope.model_validate(example)

    moments = _datetimes(parsed)
    assert len(moments) == _timestamp_count(example)
    assert all(m.utcoffset() == timedelta(0) for m in moments)


def test_reference_request_examples_validate() -> None:
    assert SyncRequest.model_validate(ex.SYNC_REQUEST).model_dump(mode="json") == ex.SYNC_REQUEST
    backfill = BackfillRequest.model_validate(ex.BACKFILL_REQUEST)
    assert backfill.model_dump(mode="json") == ex.BACKFILL_REQUEST
    create = WebhookCreateRequest.model_validate(ex.WEBHOOK_CREATE_REQUEST)
    assert create.secret is not None
    assert create.secret.get_secret_value() == ex.WEBHOOK_CREATE_REQUEST["secret"]
    update = WebhookUpdateRequest.model_validate(ex.WEBHOOK_UPDATE_REQUEST)
    assert update.model_dump(mode="json") == ex.WEBHOOK_UPDATE_REQUEST


@pytest.mark.parametrize("model", [SyncRequest, WebhookUpdateRequest], ids=lambda m: m.__name__)
def test_request_models_forbid_unknown_fields(model: type[BaseModel]) -> None:
    with pytest.raises(ValidationError, match="surprise"):
        model.model_validate({"surprise": 1})


def test_response_models_keep_unknown_fields() -> None:
    job = Job.model_validate({"id": "j", "status": "running", "shards": [1, 2]})
    assert job.model_extra == {"shards": [1, 2]}
    assert job.model_dump()["shards"] == [1, 2]


def test_error_body_parses() -> None:
    body = ErrorBody.model_validate(
        {"error": {"code": "not_found", "message": "no job", "request_id": "req_1", "x": 1}}
    )
    assert (body.error.code, body.error.request_id) == ("not_found", "req_1")


def test_webhook_event_payload_parses() -> None:
    event = WebhookEventPayload.model_validate(
        {
            "id": "evt_1",
            "type": "job.succeeded",
            "created_at": "2025-03-27T14:55:01Z",
            "data": {"job": {"id": "job_1"}},
        }
    )
    assert event.created_at.tzinfo is not None
    assert event.data["job"]["id"] == "job_1"


@pytest.mark.parametrize(
    ("name", "args", "answer", "field"),
    [
        (
            "get_job",
            ("j",),
            {"data": {"id": "j", "status": "running", "created_at": "2025-03-27T14:22:10"}},
            "data.created_at",
        ),
        (
            "get_backfill",
            ("b",),
            {"data": {"id": "b", "status": "running", "start_at": "2025-01-01T00:00:00"}},
            "data.start_at",
        ),
        (
            "list_webhook_deliveries",
            ("w",),
            {"data": [{"id": "d", "event": "e", "status": "s", "delivered_at": "2025-03-27"}]},
            "data.0.delivered_at",
        ),
    ],
)
async def test_a_naive_timestamp_in_a_response_is_a_parse_error_naming_the_field(
    make_api: Callable[..., harness.Api], name: str, args: tuple[str, ...], answer: Any, field: str
) -> None:
    api = make_api(ok(answer))

    with pytest.raises(ResponseParseError) as caught:
        await api.call(name, *args)
    assert f"{field}:" in str(caught.value)


def test_offset_timestamps_are_kept_aware() -> None:
    job = Job.model_validate({"id": "j", "status": "s", "created_at": "2025-03-27T16:22:10+02:00"})
    assert job.created_at == datetime(2025, 3, 27, 14, 22, 10, tzinfo=UTC)


def test_backfill_request_rejects_naive_and_backwards_windows() -> None:
    with pytest.raises(ValidationError, match="start_at"):
        BackfillRequest(start_at=datetime(2025, 1, 1), end_at=datetime(2025, 2, 1, tzinfo=UTC))
    with pytest.raises(ValidationError, match="end_at"):
        BackfillRequest(
            start_at=datetime(2025, 2, 1, tzinfo=UTC), end_at=datetime(2025, 1, 1, tzinfo=UTC)
        )


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2025, 3, 27, 14, 0, tzinfo=UTC), "2025-03-27T14:00:00Z"),
        (datetime(2025, 3, 27, 16, 0, tzinfo=timezone(timedelta(hours=2))), "2025-03-27T14:00:00Z"),
        (datetime(2025, 3, 27, 9, 0, tzinfo=timezone(timedelta(hours=-5))), "2025-03-27T14:00:00Z"),
        (datetime(2025, 3, 27, 14, 0, 0, 123456, tzinfo=UTC), "2025-03-27T14:00:00.123456Z"),
    ],
)
def test_to_rfc3339(moment: datetime, text: str) -> None:
    assert to_rfc3339(moment) == text


def test_to_rfc3339_rejects_naive() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        to_rfc3339(datetime(2025, 3, 27))


# --- Signing secrets never print -----------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "example", "secret"),
    [
        (Webhook, ex.WEBHOOK_CREATE["data"], ex.SIGNING_SECRET),
        (WebhookSecret, ex.WEBHOOK_ROTATE["data"], ex.NEW_SIGNING_SECRET),
    ],
    ids=["Webhook", "WebhookSecret"],
)
def test_signing_secret_never_prints(
    model: type[BaseModel], example: dict[str, Any], secret: str
) -> None:
    parsed = model.model_validate(example)

    for text in (
        repr(parsed),
        str(parsed),
        str(parsed.model_dump(mode="json")),
        str(parsed.model_dump()),
        parsed.model_dump_json(),
    ):
        assert secret not in text
    assert parsed.signing_secret.get_secret_value() == secret  # type: ignore[attr-defined]


def test_webhook_create_request_hides_its_secret() -> None:
    request = WebhookCreateRequest.model_validate(ex.WEBHOOK_CREATE_REQUEST)
    secret = ex.WEBHOOK_CREATE_REQUEST["secret"]
    assert secret not in repr(request)
    assert secret not in str(request.model_dump(mode="json"))


# --- Statuses ---------------------------------------------------------------------------------


def test_job_status_sets() -> None:
    assert {"succeeded", "failed", "cancelled"} == JOB_TERMINAL_STATUSES
    assert {"queued", "running", "cancelling"} == JOB_ACTIVE_STATUSES
    assert {s.value for s in JobStatus} == JOB_TERMINAL_STATUSES | JOB_ACTIVE_STATUSES
    assert not JOB_TERMINAL_STATUSES & JOB_ACTIVE_STATUSES


def test_backfill_status_sets() -> None:
    assert {"completed", "failed", "cancelled"} == BACKFILL_TERMINAL_STATUSES
    assert {s.value for s in BackfillStatus} > BACKFILL_TERMINAL_STATUSES


def test_success_is_one_terminal_status_and_never_cancelled() -> None:
    assert SUCCESS_STATUS == {"job": "succeeded", "backfill": "completed"}
    assert "cancelled" not in SUCCESS_STATUS.values()


@pytest.mark.parametrize("status", ["succeeded", "failed", "cancelled"])
def test_job_terminal(status: str) -> None:
    assert is_job_terminal(status)
    assert is_known_job_status(status)


@pytest.mark.parametrize(
    "status", ["queued", "running", "cancelling", "paused", "SUCCEEDED", "", "completed"]
)
def test_job_not_terminal(status: str) -> None:
    assert not is_job_terminal(status)


@pytest.mark.parametrize("status", ["completed", "failed", "cancelled"])
def test_backfill_terminal(status: str) -> None:
    assert is_backfill_terminal(status)
    assert is_known_backfill_status(status)


@pytest.mark.parametrize("status", ["queued", "running", "sharding", "succeeded", ""])
def test_backfill_not_terminal(status: str) -> None:
    assert not is_backfill_terminal(status)


@pytest.mark.parametrize("status", ["paused", "unknown_future_state"])
def test_unknown_statuses_are_not_known_and_not_terminal(status: str) -> None:
    assert not is_known_job_status(status)
    assert not is_known_backfill_status(status)
    assert not is_job_terminal(status)
    assert not is_backfill_terminal(status)
    assert Job.model_validate({"id": "j", "status": status}).status == status
    assert Backfill.model_validate({"id": "b", "status": status}).status == status
