"""Every client method, sync and async: the request it sends and the model it returns."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from planasonix_provider.api import (
    Backfill,
    Job,
    JobResults,
    PlanasonixClient,
    Priority,
    Webhook,
    WebhookDelivery,
    WebhookEvent,
    WebhookSecret,
    WebhookTestDelivery,
)
from tests import reference_examples as ex
from tests.unit import harness, scripted
from tests.unit.harness import ApiPool
from tests.unit.scripted import API_KEY, USER_AGENT, body_of, ok, params_of

UTC = timezone.utc
NO_BODY = object()


@pytest.fixture(params=harness.ALL_KINDS)
async def make_api(request: pytest.FixtureRequest) -> AsyncIterator[Callable[..., harness.Api]]:
    async with ApiPool(request.param) as pool:
        yield pool.make


@dataclass
class Case:
    """One call, the one request it must send, the answer, and a check of the result."""

    id: str
    name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    method: str
    path: str
    answer: Any
    check: Callable[[Any], None]
    params: dict[str, str] = field(default_factory=dict)
    body: Any = NO_BODY


def _job_queued(job: Any) -> None:
    assert isinstance(job, Job)
    assert (job.id, job.status, job.type) == ("job_01jq8syncabc", "queued", "connection_sync")
    assert job.pipeline_id == "pl_01hqxyz"
    assert job.created_at == datetime(2025, 3, 27, 14, 22, 10, tzinfo=UTC)


def _backfill_running(bf: Any) -> None:
    assert isinstance(bf, Backfill)
    assert (bf.id, bf.status, bf.progress_percent) == ("bf_01jq8bfill01", "running", 0)
    assert bf.start_at == datetime(2025, 1, 1, tzinfo=UTC)
    assert bf.tables == ["public.orders", "public.order_items"]


def _backfills(items: Any) -> None:
    assert [type(b) for b in items] == [Backfill]
    assert items[0].progress_percent == 37
    assert items[0].updated_at == datetime(2025, 3, 27, 14, 28, 44, tzinfo=UTC)


def _backfill_detail(bf: Any) -> None:
    assert isinstance(bf, Backfill)
    assert bf.rows_processed == 1849200
    assert bf.job_ids == ["job_01jq8chunk01", "job_01jq8chunk02"]
    assert bf.error is None


def _jobs(items: Any) -> None:
    assert [(type(j), j.status) for j in items] == [(Job, "running")]
    assert items[0].started_at == datetime(2025, 3, 27, 14, 22, 12, tzinfo=UTC)


def _job_detail(job: Any) -> None:
    assert isinstance(job, Job)
    assert job.metrics is not None
    assert (job.metrics.rows_extracted, job.metrics.rows_loaded) == (45210, 44802)
    assert job.metrics.bytes_read == 67108864
    assert job.finished_at is None
    assert job.error is None


def _results(results: Any) -> None:
    assert isinstance(results, JobResults)
    assert results.status == "succeeded"
    assert results.tables[0].name == "public.orders"
    assert results.tables[0].rows_loaded == 44802
    assert results.warnings[0].code == "column_type_widened"


def _is_none(result: Any) -> None:
    assert result is None


def _cancelling(job: Any) -> None:
    assert isinstance(job, Job)
    assert job.status == "cancelling"
    assert job.cancel_requested_at == datetime(2025, 3, 27, 14, 30, tzinfo=UTC)


def _webhooks(items: Any) -> None:
    assert [(type(w), w.id) for w in items] == [(Webhook, "wh_01jq8hook01")]
    assert items[0].events == ["job.succeeded", "job.failed", "backfill.completed"]


def _webhook_created(webhook: Any) -> None:
    assert isinstance(webhook, Webhook)
    assert webhook.id == "wh_01jq8hook02"
    assert webhook.signing_secret is not None
    assert webhook.signing_secret.get_secret_value() == ex.SIGNING_SECRET


def _webhook_got(webhook: Any) -> None:
    assert isinstance(webhook, Webhook)
    assert webhook.signing_secret is None
    assert webhook.failure_count_24h == 0
    assert webhook.last_delivery_at == datetime(2025, 3, 27, 14, 55, 1, tzinfo=UTC)


def _webhook_updated(webhook: Any) -> None:
    assert isinstance(webhook, Webhook)
    assert webhook.url == "https://api.internal.example.com/v2/planasonix/webhook"
    assert webhook.updated_at == datetime(2025, 3, 27, 15, 5, tzinfo=UTC)


def _rotated(secret: Any) -> None:
    assert isinstance(secret, WebhookSecret)
    assert secret.signing_secret.get_secret_value() == ex.NEW_SIGNING_SECRET
    assert secret.rotated_at == datetime(2025, 3, 27, 15, 10, tzinfo=UTC)


def _test_delivery(delivery: Any) -> None:
    assert isinstance(delivery, WebhookTestDelivery)
    assert (delivery.delivery_id, delivery.status) == ("whd_01jq8test01", "pending")


def _deliveries(items: Any) -> None:
    assert [type(d) for d in items] == [WebhookDelivery, WebhookDelivery]
    assert items[1].last_error == "connection reset by peer"
    assert items[1].delivered_at is None
    assert items[0].http_status == 200


def _spec(text: Any) -> None:
    assert text == ex.OPENAPI_YAML


CEST = timezone(timedelta(hours=2))

CASES = [
    Case(
        "trigger_sync-full",
        "trigger_sync",
        ("conn_01jq8k2m3n4p5q6r7s8t9u0v1",),
        {
            "pipeline_id": "pl_01hqxyz",
            "priority": "normal",
            "metadata": ex.SYNC_REQUEST["metadata"],
        },
        "POST",
        "/api/v1/connections/conn_01jq8k2m3n4p5q6r7s8t9u0v1/sync",
        ok(ex.SYNC_RESPONSE, 202),
        _job_queued,
        body=ex.SYNC_REQUEST,
    ),
    Case(
        "trigger_sync-omits-none",
        "trigger_sync",
        ("conn 1%x",),
        {},
        "POST",
        "/api/v1/connections/conn%201%25x/sync",
        ok(ex.SYNC_RESPONSE, 202),
        _job_queued,
        body={},
    ),
    Case(
        "trigger_sync-priority-enum",
        "trigger_sync",
        ("conn_1",),
        {"priority": Priority.HIGH},
        "POST",
        "/api/v1/connections/conn_1/sync",
        ok(ex.SYNC_RESPONSE, 202),
        _job_queued,
        body={"priority": "high"},
    ),
    Case(
        "trigger_backfill",
        "trigger_backfill",
        ("conn_01jq8k2m3n4p5q6r7s8t9u0v1",),
        {
            "start_at": datetime(2025, 1, 1, tzinfo=UTC),
            "end_at": datetime(2025, 3, 1, tzinfo=UTC),
            "tables": ["public.orders", "public.order_items"],
            "priority": Priority.LOW,
            "metadata": {"reason": "post_incident_replay"},
        },
        "POST",
        "/api/v1/connections/conn_01jq8k2m3n4p5q6r7s8t9u0v1/backfill",
        ok(ex.BACKFILL_RESPONSE, 202),
        _backfill_running,
        body=ex.BACKFILL_REQUEST,
    ),
    Case(
        "trigger_backfill-minimal",
        "trigger_backfill",
        ("c/x".replace("/", "?"),),
        {"start_at": datetime(2025, 1, 1, tzinfo=UTC), "end_at": datetime(2025, 1, 2, tzinfo=UTC)},
        "POST",
        "/api/v1/connections/c%3Fx/backfill",
        ok(ex.BACKFILL_RESPONSE, 202),
        _backfill_running,
        body={"start_at": "2025-01-01T00:00:00Z", "end_at": "2025-01-02T00:00:00Z"},
    ),
    Case(
        "list_backfills",
        "list_backfills",
        (),
        {"connection_id": "conn_1", "status": "running", "page_size": 10},
        "GET",
        "/api/v1/backfills",
        scripted.page(ex.BACKFILL_LIST["data"], None),
        _backfills,
        params={"connection_id": "conn_1", "status": "running", "limit": "10"},
    ),
    Case(
        "get_backfill",
        "get_backfill",
        ("bf 01#x",),
        {},
        "GET",
        "/api/v1/backfills/bf%2001%23x",
        ok(ex.BACKFILL_GET),
        _backfill_detail,
    ),
    Case(
        "list_jobs",
        "list_jobs",
        (),
        {
            "connection_id": "conn_1",
            "pipeline_id": "pl_1",
            "type": "connection_sync",
            "status": "running",
            "since": datetime(2025, 3, 27, 16, 0, tzinfo=CEST),
            "until": datetime(2025, 3, 28, 1, 2, 3, tzinfo=UTC),
            "page_size": 100,
        },
        "GET",
        "/api/v1/jobs",
        ok(ex.JOB_LIST),
        _jobs,
        params={
            "connection_id": "conn_1",
            "pipeline_id": "pl_1",
            "type": "connection_sync",
            "status": "running",
            "since": "2025-03-27T14:00:00Z",
            "until": "2025-03-28T01:02:03Z",
            "limit": "100",
        },
    ),
    Case(
        "list_jobs-no-filters",
        "list_jobs",
        (),
        {},
        "GET",
        "/api/v1/jobs",
        ok(ex.JOB_LIST),
        _jobs,
    ),
    Case(
        "get_job",
        "get_job",
        ("job 50%",),
        {},
        "GET",
        "/api/v1/jobs/job%2050%25",
        ok(ex.JOB_GET),
        _job_detail,
    ),
    Case(
        "get_job_results-terminal",
        "get_job_results",
        ("job_01jq8syncabc",),
        {},
        "GET",
        "/api/v1/jobs/job_01jq8syncabc/results",
        ok(ex.JOB_RESULTS),
        _results,
    ),
    Case(
        "get_job_results-409-not-ready",
        "get_job_results",
        ("job_01jq8syncabc",),
        {},
        "GET",
        "/api/v1/jobs/job_01jq8syncabc/results",
        scripted.api_error(409, "job_not_terminal", "job is still running"),
        _is_none,
    ),
    Case(
        "get_job_results-stub-not-ready",
        "get_job_results",
        ("job_01jq8syncabc",),
        {},
        "GET",
        "/api/v1/jobs/job_01jq8syncabc/results",
        ok({"data": {"job_id": "job_01jq8syncabc", "status": "running", "tables": []}}),
        _is_none,
    ),
    Case(
        "get_job_results-stub-unknown-status",
        "get_job_results",
        ("job_01jq8syncabc",),
        {},
        "GET",
        "/api/v1/jobs/job_01jq8syncabc/results",
        ok({"data": {"job_id": "job_01jq8syncabc", "status": "warming_up"}}),
        _is_none,
    ),
    Case(
        "cancel_job",
        "cancel_job",
        ("job_01jq8syncabc",),
        {},
        "POST",
        "/api/v1/jobs/job_01jq8syncabc/cancel",
        ok(ex.JOB_CANCEL),
        _cancelling,
    ),
    Case(
        "list_webhooks",
        "list_webhooks",
        (),
        {},
        "GET",
        "/api/v1/webhooks",
        ok(ex.WEBHOOK_LIST),
        _webhooks,
    ),
    Case(
        "create_webhook",
        "create_webhook",
        (ex.WEBHOOK_CREATE_REQUEST["url"], [WebhookEvent.JOB_SUCCEEDED, "job.failed"]),
        {"secret": ex.WEBHOOK_CREATE_REQUEST["secret"]},
        "POST",
        "/api/v1/webhooks",
        ok(ex.WEBHOOK_CREATE, 201),
        _webhook_created,
        body=ex.WEBHOOK_CREATE_REQUEST,
    ),
    Case(
        "create_webhook-server-secret",
        "create_webhook",
        (ex.WEBHOOK_CREATE_REQUEST["url"], ["job.succeeded"]),
        {},
        "POST",
        "/api/v1/webhooks",
        ok(ex.WEBHOOK_CREATE, 201),
        _webhook_created,
        body={"url": ex.WEBHOOK_CREATE_REQUEST["url"], "events": ["job.succeeded"]},
    ),
    Case(
        "get_webhook",
        "get_webhook",
        ("wh 02",),
        {},
        "GET",
        "/api/v1/webhooks/wh%2002",
        ok(ex.WEBHOOK_GET),
        _webhook_got,
    ),
    Case(
        "delete_webhook",
        "delete_webhook",
        ("wh_01jq8hook02",),
        {},
        "DELETE",
        "/api/v1/webhooks/wh_01jq8hook02",
        scripted.raw(204, b"", "text/plain"),
        _is_none,
    ),
    Case(
        "rotate_webhook_secret",
        "rotate_webhook_secret",
        ("wh_01jq8hook02",),
        {},
        "POST",
        "/api/v1/webhooks/wh_01jq8hook02/rotate-secret",
        ok(ex.WEBHOOK_ROTATE),
        _rotated,
    ),
    Case(
        "send_test_event",
        "send_test_event",
        ("wh_01jq8hook02", "job.succeeded"),
        {},
        "POST",
        "/api/v1/webhooks/wh_01jq8hook02/test",
        ok(ex.WEBHOOK_TEST, 202),
        _test_delivery,
        body={"event": "job.succeeded"},
    ),
    Case(
        "send_test_event-default",
        "send_test_event",
        ("wh_01jq8hook02",),
        {},
        "POST",
        "/api/v1/webhooks/wh_01jq8hook02/test",
        ok(ex.WEBHOOK_TEST, 202),
        _test_delivery,
        body={},
    ),
    Case(
        "list_webhook_deliveries",
        "list_webhook_deliveries",
        ("wh:02",),
        {},
        "GET",
        "/api/v1/webhooks/wh%3A02/deliveries",
        ok(ex.WEBHOOK_DELIVERIES),
        _deliveries,
    ),
    Case(
        "get_openapi_spec",
        "get_openapi_spec",
        (),
        {},
        "GET",
        "/api/v1/openapi.yaml",
        scripted.raw(200, ex.OPENAPI_YAML, "application/yaml"),
        _spec,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
async def test_method_sends_the_contract_request_and_parses_the_answer(
    make_api: Callable[..., harness.Api], case: Case
) -> None:
    api = make_api(case.answer)

    result = await api.call(case.name, *case.args, **case.kwargs)

    case.check(result)
    assert api.script.count == 1
    request = api.script.last
    assert request.method == case.method
    assert request.url.raw_path.split(b"?")[0].decode() == case.path
    assert f"{request.url.scheme}://{request.url.host}" == scripted.BASE_URL
    assert params_of(request) == case.params
    if case.body is NO_BODY:
        assert request.content == b""
    else:
        assert body_of(request) == case.body
        assert request.headers["content-type"] == "application/json"
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.headers["user-agent"] == USER_AGENT
    assert api.sleeps == []


async def test_update_webhook_reads_then_puts_the_whole_subscription(
    make_api: Callable[..., harness.Api],
) -> None:
    """The one method of two requests: GET the subscription, then PUT it whole (issue 13)."""
    api = make_api(ok(ex.WEBHOOK_GET), ok(ex.WEBHOOK_UPDATE))

    result = await api.call("update_webhook", "wh_01jq8hook02", **ex.WEBHOOK_UPDATE_REQUEST)

    _webhook_updated(result)
    get, put = api.script.requests
    assert (get.method, get.url.path) == ("GET", "/api/v1/webhooks/wh_01jq8hook02")
    assert (put.method, put.url.path) == ("PUT", "/api/v1/webhooks/wh_01jq8hook02")
    assert body_of(put) == ex.WEBHOOK_UPDATE_REQUEST
    assert put.headers["content-type"] == "application/json"
    assert put.headers["authorization"] == f"Bearer {API_KEY}"
    assert api.sleeps == []


async def test_backfill_window_is_rendered_in_utc_whatever_the_zone(
    make_api: Callable[..., harness.Api],
) -> None:
    api = make_api(ok(ex.BACKFILL_RESPONSE, 202))
    await api.call(
        "trigger_backfill",
        "conn_1",
        start_at=datetime(2025, 1, 1, 2, 0, tzinfo=CEST),
        end_at=datetime(2025, 3, 1, 2, 0, tzinfo=CEST),
    )
    body = body_of(api.script.last)
    assert body["start_at"] == "2025-01-01T00:00:00Z"
    assert body["end_at"] == "2025-03-01T00:00:00Z"


async def test_base_url_path_prefix_is_kept() -> None:
    script = scripted.Script(ok(ex.JOB_GET))
    with PlanasonixClient(
        "https://proxy.example.com/planasonix/",
        API_KEY,
        transport=scripted.ClosingTransport(script),
    ) as client:
        client.get_job("job_1")
    assert str(script.last.url) == "https://proxy.example.com/planasonix/api/v1/jobs/job_1"


async def test_unknown_fields_are_kept_on_resources_and_envelopes(
    make_api: Callable[..., harness.Api],
) -> None:
    answer = ex.payload(ex.JOB_GET)
    answer["data"]["shard_count"] = 4
    answer["data"]["metrics"]["rows_skipped"] = 12
    answer["trace"] = {"region": "eu"}
    api = make_api(ok(answer))

    job = await api.call("get_job", "job_01jq8syncabc")

    assert job.model_extra == {"shard_count": 4}
    assert job.metrics.model_extra == {"rows_skipped": 12}


async def test_unknown_status_is_accepted(make_api: Callable[..., harness.Api]) -> None:
    answer = ex.payload(ex.JOB_GET)
    answer["data"]["status"] = "paused_for_maintenance"
    api = make_api(ok(answer))

    job = await api.call("get_job", "job_01jq8syncabc")

    assert job.status == "paused_for_maintenance"
