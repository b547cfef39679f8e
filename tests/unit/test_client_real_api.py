"""Issue 13: the client holds up against answers the reference allows but we did not choose.

Each test here failed on the code before issue 13 (a partial PUT, a key echoed in a header, an
error as a string, a null list, a repeating cursor, an open set, a string ``since``...).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from planasonix_provider.api import (
    BadRequestError,
    PlanasonixClient,
    PlanasonixValidationError,
    ResponseParseError,
    ServerError,
    find_started_work,
)
from planasonix_provider.api.recovery import judge
from tests import reference_examples as ex
from tests.unit import harness, scripted
from tests.unit.harness import ApiPool
from tests.unit.scripted import API_KEY, assert_no_secret, body_of, ok

UTC = timezone.utc


@pytest.fixture(params=harness.ALL_KINDS)
async def make_api(request: pytest.FixtureRequest) -> AsyncIterator[Callable[..., harness.Api]]:
    async with ApiPool(request.param) as pool:
        yield pool.make


# --- PUT /webhooks/{id}: whole subscription, merge or replace ----------------------------------


async def test_partial_update_sends_the_whole_subscription(
    make_api: Callable[..., harness.Api],
) -> None:
    current = ex.payload(ex.WEBHOOK_GET)
    current["data"]["events"] = ["job.succeeded", "job.paused"]  # one the provider does not know
    replaced = ex.payload(current)
    replaced["data"]["enabled"] = False
    api = make_api(ok(current), ok(replaced))

    updated = await api.call("update_webhook", "wh_01jq8hook02", enabled=False)

    get, put = api.script.requests
    assert (get.method, put.method) == ("GET", "PUT")
    assert body_of(put) == {
        "url": current["data"]["url"],
        "events": ["job.succeeded", "job.paused"],
        "enabled": False,
    }
    assert updated.enabled is False


async def test_update_keeps_the_fields_it_is_given(make_api: Callable[..., harness.Api]) -> None:
    api = make_api(ok(ex.WEBHOOK_GET), ok(ex.WEBHOOK_UPDATE))

    await api.call("update_webhook", "wh_01jq8hook02", events=["job.failed"])

    assert body_of(api.script.last) == {
        "url": ex.WEBHOOK_GET["data"]["url"],
        "events": ["job.failed"],
        "enabled": True,
    }


# --- Nothing the server sends back shows the key -----------------------------------------------


def _echo_key_everywhere(request: httpx.Request) -> httpx.Response:
    authorization = request.headers["authorization"]
    return httpx.Response(
        400,
        json={
            "error": {
                "code": f"bad_key_{API_KEY}",
                "message": f"refused header Authorization: {authorization}",
                "request_id": f"req_{API_KEY}",
            }
        },
        headers={"x-echo": authorization},
    )


async def test_error_code_message_and_request_id_echoing_the_key_are_redacted(
    make_api: Callable[..., harness.Api],
) -> None:
    api = make_api(_echo_key_everywhere)

    with pytest.raises(BadRequestError) as caught:
        await api.call("get_job", "job_1")

    assert_no_secret(caught.value)
    for text in (caught.value.code, caught.value.api_message, caught.value.request_id):
        assert text is not None and API_KEY not in text
    assert "Authorization: Bearer ***" in str(caught.value)


def _string_error(request: httpx.Request) -> httpx.Response:
    return httpx.Response(
        500, json={"error": f"upstream rejected {request.headers['authorization']}"}
    )


async def test_a_string_error_is_read_and_redacted(make_api: Callable[..., harness.Api]) -> None:
    api = make_api(_string_error, retry=scripted.fast_policy(max_attempts=1))

    with pytest.raises(ServerError) as caught:
        await api.call("get_job", "job_1")

    assert caught.value.api_message == "upstream rejected Bearer ***"
    assert_no_secret(caught.value)


def _key_in_content_type(request: httpx.Request) -> httpx.Response:
    return httpx.Response(
        502,
        content=b"<html>bad gateway</html>",
        headers={"content-type": f"text/html; k={API_KEY}"},
    )


async def test_a_header_quoted_in_a_message_is_redacted(
    make_api: Callable[..., harness.Api],
) -> None:
    api = make_api(_key_in_content_type, retry=scripted.fast_policy(max_attempts=1))

    with pytest.raises(ServerError) as caught:
        await api.call("get_job", "job_1")

    assert "bad gateway" in str(caught.value)
    assert_no_secret(caught.value)


def _job_echoing_the_key(request: httpx.Request) -> httpx.Response:
    answer = ex.payload(ex.JOB_GET)
    answer["data"]["status"] = "failed"
    answer["data"]["error"] = {"code": "auth", "message": f"token {API_KEY} expired upstream"}
    return ok(answer)


async def test_a_job_echoing_the_key_is_parsed_without_it(
    make_api: Callable[..., harness.Api],
) -> None:
    api = make_api(_job_echoing_the_key)

    job = await api.call("get_job", "job_1")

    assert job.error.message == "token *** expired upstream"
    assert API_KEY not in job.model_dump_json()


# --- Lenient reading ---------------------------------------------------------------------------


async def test_fields_no_task_needs_are_read_leniently(
    make_api: Callable[..., harness.Api],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from planasonix_provider.api import models

    monkeypatch.setattr(models, "_SURPRISES_LOGGED", set())
    answer = ex.payload(ex.JOB_GET)
    answer["data"].update(
        status="succeeded",
        error="a plain string",
        metadata=["any", {"json": True}],
        metrics="not an object",
        duration_seconds="about a minute",
    )
    api = make_api(ok(answer), ok(answer))

    with caplog.at_level(logging.WARNING, logger="planasonix_provider.api"):
        job = await api.call("get_job", "job_01jq8syncabc")
        await api.call("get_job", "job_01jq8syncabc")  # a second poll logs nothing more

    logged = sorted(r.getMessage().split(" in a shape")[0] for r in caplog.records)
    assert logged == [
        "Planasonix answered Job.duration_seconds",
        "Planasonix answered Job.metrics",
    ]

    assert (job.id, job.status) == ("job_01jq8syncabc", "succeeded")
    assert job.error.message == "a plain string"
    assert job.metadata == ["any", {"json": True}]
    assert job.metrics is None and job.duration_seconds is None


async def test_results_with_null_lists_and_warnings_without_message(
    make_api: Callable[..., harness.Api],
) -> None:
    answer = ex.payload(ex.JOB_RESULTS)
    answer["data"]["warnings"] = [{"code": "column_type_widened"}, {}]
    api = make_api(ok(answer))
    results = await api.call("get_job_results", "job_1")
    assert [w.code for w in results.warnings] == ["column_type_widened", None]

    answer["data"].update(tables=None, warnings=None)
    api = make_api(ok(answer))
    results = await api.call("get_job_results", "job_1")
    assert (results.tables, results.warnings) == ([], [])


async def test_null_lists_on_backfills_webhooks_and_pages(
    make_api: Callable[..., harness.Api],
) -> None:
    backfill = ex.payload(ex.BACKFILL_GET)
    backfill["data"]["job_ids"] = None
    api = make_api(ok(backfill), ok({"data": None, "meta": {"page": {"cursor": None}}}))
    assert (await api.call("get_backfill", "bf_1")).job_ids == []
    assert await api.call("list_webhooks") == []


async def test_what_a_task_depends_on_stays_strict(make_api: Callable[..., harness.Api]) -> None:
    answer = ex.payload(ex.JOB_GET)
    answer["data"]["created_at"] = "yesterday"
    api = make_api(ok(answer))

    with pytest.raises(ResponseParseError, match="created_at"):
        await api.call("get_job", "job_1")


# --- Open sets ---------------------------------------------------------------------------------


async def test_unknown_open_set_values_are_sent(make_api: Callable[..., harness.Api]) -> None:
    api = make_api(ok(ex.SYNC_RESPONSE, 202), ok(ex.WEBHOOK_CREATE, 201), ok(ex.JOB_LIST))

    await api.call("trigger_sync", "conn_1", priority="critical")
    await api.call("create_webhook", "https://example.com/hook", ["pipeline.finished"])
    await api.call("list_jobs", type="dbt_run")

    sync, create, listing = api.script.requests
    assert body_of(sync) == {"priority": "critical"}
    assert body_of(create)["events"] == ["pipeline.finished"]
    assert listing.url.params["type"] == "dbt_run"


@pytest.mark.parametrize(
    ("call", "hint"),
    [
        (lambda c: c.trigger_sync("conn_1", priority="hgih"), "did you mean 'high'"),
        (lambda c: c.list_jobs(type="conection_sync"), "did you mean 'connection_sync'"),
        (
            lambda c: c.send_test_event("wh_1", "backfill.complete"),
            "did you mean 'backfill.completed'",
        ),
    ],
)
def test_a_likely_typo_is_refused_with_a_suggestion(
    call: Callable[[PlanasonixClient], Any], hint: str
) -> None:
    script = scripted.Script()
    with (
        PlanasonixClient(
            scripted.BASE_URL, API_KEY, transport=scripted.ClosingTransport(script)
        ) as client,
        pytest.raises(PlanasonixValidationError, match=hint),
    ):
        call(client)
    assert script.count == 0


# --- Pagination --------------------------------------------------------------------------------


@pytest.mark.parametrize("cursors", [["c1", "c1"], ["c1", "c2", "c1"]], ids=["repeats", "cycles"])
async def test_a_cursor_that_comes_back_stops_the_listing(
    make_api: Callable[..., harness.Api], cursors: list[str]
) -> None:
    job = ex.JOB_LIST["data"][0]
    api = make_api(*(scripted.page([job], cursor) for cursor in cursors))

    with pytest.raises(ResponseParseError, match="cursor 'c1' came back"):
        await api.call("list_jobs")
    assert api.script.count == len(cursors)


async def test_a_cursor_on_the_last_page_ends_with_an_empty_page(
    make_api: Callable[..., harness.Api],
) -> None:
    job = ex.JOB_LIST["data"][0]
    api = make_api(scripted.page([job], "c_end"), scripted.page([], None))

    assert len(await api.call("list_jobs")) == 1


# --- since / until -----------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["since", "until"])
def test_since_and_until_refuse_strings(field: str) -> None:
    script = scripted.Script()
    with (
        PlanasonixClient(
            scripted.BASE_URL, API_KEY, transport=scripted.ClosingTransport(script)
        ) as client,
        pytest.raises(PlanasonixValidationError, match=f"{field} must be a timezone-aware"),
    ):
        client.list_jobs(**{field: "2025-01-01T00:00:00Z"})
    assert script.count == 0


# --- After RequestMayHaveBeenProcessedError ----------------------------------------------------

ASKED_AT = datetime(2025, 3, 27, 14, 22, tzinfo=UTC)


def _job(job_id: str, created: datetime, **fields: Any) -> dict[str, Any]:
    return {
        "id": job_id,
        "type": "connection_sync",
        "status": "running",
        "connection_id": "conn_1",
        "created_at": created.isoformat().replace("+00:00", "Z"),
        **fields,
    }


def test_a_job_without_metadata_echo_is_cannot_tell_not_nothing() -> None:
    """The old recipe filtered on metadata the reference never promises: it saw nothing."""
    script = scripted.Script(
        scripted.page([_job("job_new", ASKED_AT + timedelta(seconds=1))], None)
    )
    with PlanasonixClient(
        scripted.BASE_URL, API_KEY, transport=scripted.ClosingTransport(script)
    ) as client:
        lookup = find_started_work(client, "conn_1", since=ASKED_AT, metadata={"run": "r1"})

    assert lookup.verdict == "cannot_tell"
    assert [job.id for job in lookup.candidates] == ["job_new"]
    assert lookup.started is None
    params = script.last.url.params
    assert (params["connection_id"], params["type"]) == ("conn_1", "connection_sync")
    assert params["since"] == "2025-03-27T14:20:00Z"  # two minutes of clock skew


def test_no_work_since_the_request_is_none() -> None:
    script = scripted.Script(scripted.page([], None))
    with PlanasonixClient(
        scripted.BASE_URL, API_KEY, transport=scripted.ClosingTransport(script)
    ) as client:
        assert find_started_work(client, "conn_1", since=ASKED_AT).verdict == "none"


def test_an_echoed_metadata_match_is_found() -> None:
    mine = _job("job_mine", ASKED_AT, metadata={"run": "r1"})
    other = _job("job_other", ASKED_AT, metadata={"run": "r2"})
    script = scripted.Script(scripted.page([other, mine], None))
    with PlanasonixClient(
        scripted.BASE_URL, API_KEY, transport=scripted.ClosingTransport(script)
    ) as client:
        lookup = find_started_work(client, "conn_1", since=ASKED_AT, metadata={"run": "r1"})
    assert lookup.verdict == "found"
    assert lookup.started is not None and lookup.started.id == "job_mine"


def test_a_failed_lookup_or_an_undated_candidate_cannot_tell() -> None:
    script = scripted.Script(scripted.api_error(401, "unauthorized", "bad key"))
    with PlanasonixClient(
        scripted.BASE_URL, API_KEY, transport=scripted.ClosingTransport(script)
    ) as client:
        lookup = find_started_work(client, "conn_1", since=ASKED_AT)
    assert lookup.verdict == "cannot_tell" and "lookup failed" in lookup.reason

    from planasonix_provider.api.models import Job

    undated = Job(id="job_x", status="queued")
    assert judge([undated], since=ASKED_AT).verdict == "cannot_tell"


def test_a_backfill_lookup_filters_on_created_at() -> None:
    old = {"id": "bf_old", "status": "completed", "created_at": "2025-03-01T00:00:00Z"}
    new = {"id": "bf_new", "status": "running", "created_at": "2025-03-27T14:23:00Z"}
    script = scripted.Script(scripted.page([new, old], None))
    with PlanasonixClient(
        scripted.BASE_URL, API_KEY, transport=scripted.ClosingTransport(script)
    ) as client:
        lookup = find_started_work(client, "conn_1", since=ASKED_AT, kind="backfill")
    assert lookup.verdict == "cannot_tell"
    assert [b.id for b in lookup.candidates] == ["bf_new"]
    assert script.last.url.path == "/api/v1/backfills"


# --- A backfill cancel reaches shards created while it cancels ---------------------------------


class GrowingBackfill:
    """A backfill that creates a new shard each time it is read, up to ``shards``."""

    def __init__(self, shards: int) -> None:
        self.shards = shards
        self.created = 0
        self.cancelled: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/api/v1/backfills/bf_1":
            self.created = min(self.created + 1, self.shards)
            ids = [f"job_{n}" for n in range(1, self.created + 1)]
            return ok({"data": {"id": "bf_1", "status": "running", "job_ids": ids}})
        job_id = path.split("/")[4]
        if path.endswith("/cancel"):
            self.cancelled.append(job_id)
            return ok({"data": {"id": job_id, "status": "cancelling"}})
        status = "cancelling" if job_id in self.cancelled else "running"
        return ok({"data": {"id": job_id, "status": status}})


def test_backfill_cancel_rereads_and_reaches_shards_created_meanwhile() -> None:
    from planasonix_provider.wait import cancel

    backfill = GrowingBackfill(shards=3)
    script = scripted.Script(backfill, repeat_last=True)
    with PlanasonixClient(
        scripted.BASE_URL, API_KEY, transport=scripted.ClosingTransport(script)
    ) as client:
        cancelled = cancel(client, "backfill", "bf_1")

    assert cancelled == backfill.cancelled == ["job_1", "job_2", "job_3"]


async def test_async_backfill_cancel_rereads_too() -> None:
    from planasonix_provider.api import AsyncPlanasonixClient
    from planasonix_provider.wait import acancel

    backfill = GrowingBackfill(shards=2)
    script = scripted.Script(backfill, repeat_last=True)
    transport = httpx.MockTransport(script)
    async with AsyncPlanasonixClient(scripted.BASE_URL, API_KEY, transport=transport) as client:
        cancelled = await acancel(client, "backfill", "bf_1")

    assert cancelled == ["job_1", "job_2"]
