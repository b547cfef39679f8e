"""Every error class, with a message that says what failed; and no error or log holds the key."""

from __future__ import annotations

import logging
import traceback
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from planasonix_provider.api import (
    AuthenticationError,
    BadRequestError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    PlanasonixAPIError,
    PlanasonixError,
    PlanasonixTransportError,
    RateLimitedError,
    RequestMayHaveBeenProcessedError,
    ResponseParseError,
    ServerError,
)
from planasonix_provider.api.errors import NotSentError
from tests import reference_examples as ex
from tests.unit import harness, scripted
from tests.unit.harness import ApiPool
from tests.unit.scripted import API_KEY, api_error, ok, raw

GET_JOB = ("get_job", ("job_01jq8syncabc",), "GET /api/v1/jobs/job_01jq8syncabc")


@pytest.fixture(params=harness.ALL_KINDS)
async def make_api(request: pytest.FixtureRequest) -> AsyncIterator[Callable[..., harness.Api]]:
    async with ApiPool(request.param) as pool:
        yield pool.make


@pytest.mark.parametrize(
    ("status", "error_class", "hint"),
    [
        (400, BadRequestError, "fix the field"),
        (422, BadRequestError, "fix the field"),
        (401, AuthenticationError, "API key was refused"),
        (403, PermissionDeniedError, "lacks the scope"),
        (404, NotFoundError, "Check the id"),
        (409, ConflictError, ""),
    ],
)
async def test_error_status_raises_its_class_at_once_with_a_full_message(
    make_api: Callable[..., harness.Api],
    status: int,
    error_class: type[PlanasonixAPIError],
    hint: str,
) -> None:
    api = make_api(api_error(status, "job_bad_state", "the job is in a bad state", "req_01ABC"))

    with pytest.raises(error_class) as caught:
        await api.call("get_job", "job_01jq8syncabc")

    error = caught.value
    assert type(error) is error_class
    message = str(error)
    for part in (
        "get_job",
        "GET /api/v1/jobs/job_01jq8syncabc",
        f"HTTP {status}",
        "job_bad_state",
        "the job is in a bad state",
        "request_id=req_01ABC",
        hint,
    ):
        assert part in message
    assert (error.status_code, error.code, error.request_id) == (
        status,
        "job_bad_state",
        "req_01ABC",
    )
    assert error.api_message == "the job is in a bad state"
    assert api.script.count == 1, "4xx are never retried"
    assert api.sleeps == []


async def test_401_is_an_authentication_error_but_403_is_more_precise(
    make_api: Callable[..., harness.Api],
) -> None:
    api = make_api(api_error(401), api_error(403))
    with pytest.raises(AuthenticationError) as unauthenticated:
        await api.call("get_job", "j")
    with pytest.raises(PermissionDeniedError):
        await api.call("get_job", "j")
    assert not isinstance(unauthenticated.value, PermissionDeniedError)


async def test_409_on_an_operation_other_than_results_is_a_conflict(
    make_api: Callable[..., harness.Api],
) -> None:
    api = make_api(api_error(409, "already_running", "a sync is already running"))

    with pytest.raises(ConflictError, match=r"trigger_sync.*HTTP 409: already_running"):
        await api.call("trigger_sync", "conn_1")
    assert api.script.count == 1


async def test_429_out_of_retries_is_rate_limited(make_api: Callable[..., harness.Api]) -> None:
    api = make_api(api_error(429, "rate_limited", "slow down"), repeat_last=True)

    with pytest.raises(RateLimitedError, match=r"HTTP 429: rate_limited: slow down") as caught:
        await api.call("get_job", "j")
    assert "out of retries" in str(caught.value)
    assert api.script.count == 4


async def test_500_out_of_retries_is_a_server_error(make_api: Callable[..., harness.Api]) -> None:
    api = make_api(api_error(500, "internal", "boom", "req_500"), repeat_last=True)

    with pytest.raises(ServerError) as caught:
        await api.call("list_jobs")
    message = str(caught.value)
    assert "list_jobs (GET /api/v1/jobs)" in message
    assert "HTTP 500: internal: boom [request_id=req_500]" in message
    assert api.script.count == 4


async def test_transport_failure_out_of_retries(make_api: Callable[..., harness.Api]) -> None:
    api = make_api(httpx.ConnectError, repeat_last=True)

    with pytest.raises(PlanasonixTransportError) as caught:
        await api.call("get_job", "job_1")
    error = caught.value
    assert error.cause_name == "ConnectError"
    assert "get_job (GET /api/v1/jobs/job_1) got no answer (ConnectError" in str(error)
    # httpx's error, mapped into ours (never sent), is kept in the chain for the traceback.
    assert isinstance(error.__cause__, NotSentError)
    assert isinstance(error.__cause__.__cause__, httpx.ConnectError)
    assert api.script.count == 4


HTML = "<html><head><title>502 Bad Gateway</title></head><body><h1>nginx</h1></body></html>"


async def test_html_on_a_200_is_a_parse_error(make_api: Callable[..., harness.Api]) -> None:
    api = make_api(raw(200, HTML))

    with pytest.raises(ResponseParseError) as caught:
        await api.call("get_job", "job_1")
    message = str(caught.value)
    assert "get_job (GET /api/v1/jobs/job_1) returned HTTP 200" in message
    assert "not JSON" in message
    assert "text/html" in message
    assert "502 Bad Gateway" in message
    assert caught.value.status_code == 200


async def test_a_huge_non_json_body_is_cut_in_the_message(
    make_api: Callable[..., harness.Api],
) -> None:
    api = make_api(raw(200, "x" * 10_000, "text/plain"))

    with pytest.raises(ResponseParseError) as caught:
        await api.call("get_job", "job_1")
    assert len(str(caught.value)) < 600


@pytest.mark.parametrize(
    ("status", "error_class"),
    [(404, NotFoundError), (401, AuthenticationError), (502, ServerError)],
)
async def test_html_on_an_error_status_is_the_api_error_with_a_clear_message(
    make_api: Callable[..., harness.Api], status: int, error_class: type
) -> None:
    api = make_api(raw(status, HTML), retry=scripted.fast_policy(max_attempts=1))

    with pytest.raises(error_class) as caught:
        await api.call("get_job", "job_1")
    message = str(caught.value)
    assert f"get_job (GET /api/v1/jobs/job_1) failed with HTTP {status}" in message
    assert "no error envelope in the response" in message
    assert "text/html" in message
    assert "502 Bad Gateway" in message


@pytest.mark.parametrize(
    ("response", "shown"),
    [
        (raw(400, b"", "text/plain"), "(empty body)"),
        (ok({"detail": "Field required"}, 400), "Field required"),
        (ok({"error": "just a string"}, 400), "just a string"),
    ],
    ids=["empty", "json-without-envelope", "error-not-an-object"],
)
async def test_error_status_without_an_error_envelope(
    make_api: Callable[..., harness.Api], response: httpx.Response, shown: str
) -> None:
    api = make_api(response)

    with pytest.raises(BadRequestError) as caught:
        await api.call("get_job", "job_1")
    assert "HTTP 400" in str(caught.value)
    assert shown in str(caught.value)
    assert caught.value.code is None


async def test_error_envelope_without_request_id(make_api: Callable[..., harness.Api]) -> None:
    api = make_api(api_error(404, "not_found", "no such job", request_id=None))

    with pytest.raises(NotFoundError) as caught:
        await api.call("get_job", "job_1")
    assert "request_id" not in str(caught.value)
    assert "not_found: no such job" in str(caught.value)


@pytest.mark.parametrize(
    ("name", "args", "answer", "field"),
    [
        ("get_job", ("j",), {"data": {"id": "job_1"}}, "data.status"),
        ("get_job", ("j",), {"data": {"status": "running"}}, "data.id"),
        ("get_job", ("j",), {"job": {"id": "job_1", "status": "running"}}, "data"),
        ("trigger_sync", ("c",), {"data": {"job": {"id": "job_1"}}}, "data.job.status"),
        ("trigger_sync", ("c",), {"data": {"id": "job_1", "status": "queued"}}, "data.job"),
        ("list_jobs", (), {"data": [{"id": "job_1"}], "meta": {}}, "data.0.status"),
        ("rotate_webhook_secret", ("w",), {"data": {"id": "w"}}, "data.signing_secret"),
        (
            "get_job",
            ("j",),
            {"data": {"id": "j", "status": "running", "created_at": "yesterday"}},
            "data.created_at",
        ),
    ],
)
async def test_missing_or_malformed_required_field_is_named(
    make_api: Callable[..., harness.Api],
    name: str,
    args: tuple[str, ...],
    answer: object,
    field: str,
) -> None:
    api = make_api(ok(answer))

    with pytest.raises(ResponseParseError) as caught:
        await api.call(name, *args)
    message = str(caught.value)
    assert f"{field}:" in message
    assert name in message
    assert "HTTP 200" in message


async def test_an_empty_200_is_a_parse_error(make_api: Callable[..., harness.Api]) -> None:
    api = make_api(raw(200, b"", "application/json"))

    with pytest.raises(ResponseParseError, match=r"get_job .*empty body"):
        await api.call("get_job", "job_1")


async def test_results_409_with_html_is_still_not_ready(
    make_api: Callable[..., harness.Api],
) -> None:
    api = make_api(raw(409, HTML))

    assert await api.call("get_job_results", "job_1") is None


async def test_results_with_a_garbage_200_is_not_silently_none(
    make_api: Callable[..., harness.Api],
) -> None:
    api = make_api(ok({"data": {"status": "succeeded"}}))

    with pytest.raises(ResponseParseError, match=r"data\.job_id"):
        await api.call("get_job_results", "job_1")


async def test_may_have_been_processed_message(make_api: Callable[..., harness.Api]) -> None:
    api = make_api(httpx.ReadTimeout)

    with pytest.raises(RequestMayHaveBeenProcessedError) as caught:
        await api.call("trigger_sync", "conn_1")
    message = str(caught.value)
    assert "trigger_sync (POST /api/v1/connections/conn_1/sync)" in message
    assert "ReadTimeout" in message
    assert "may have been processed" in message
    assert "job may have started" in message
    assert "not retried" in message


async def test_may_have_been_processed_after_5xx_names_status_code_and_message(
    make_api: Callable[..., harness.Api],
) -> None:
    api = make_api(api_error(503, "overloaded", "try later", "req_503"))

    with pytest.raises(RequestMayHaveBeenProcessedError) as caught:
        await api.call("trigger_sync", "conn_1")
    message = str(caught.value)
    assert caught.value.status_code == 503
    assert "HTTP 503: overloaded: try later" in message
    assert isinstance(caught.value.__cause__, ServerError)


async def test_may_have_been_processed_after_5xx_names_the_request_id(
    make_api: Callable[..., harness.Api],
) -> None:
    api = make_api(api_error(503, "overloaded", "try later", "req_503"))

    with pytest.raises(RequestMayHaveBeenProcessedError) as caught:
        await api.call("trigger_sync", "conn_1")
    assert "req_503" in str(caught.value)


def test_every_client_error_is_a_planasonix_error() -> None:
    for error_class in (
        BadRequestError,
        AuthenticationError,
        PermissionDeniedError,
        NotFoundError,
        ConflictError,
        RateLimitedError,
        ServerError,
    ):
        assert issubclass(error_class, PlanasonixAPIError)
    for base_class in (
        PlanasonixAPIError,
        PlanasonixTransportError,
        ResponseParseError,
        RequestMayHaveBeenProcessedError,
    ):
        assert issubclass(base_class, PlanasonixError)


# --- The API key never leaks ----------------------------------------------------------------

FAILURES = [
    ("get_job", ("j",), [api_error(401, "invalid_api_key", "bad key")]),
    ("get_job", ("j",), [api_error(403, "missing_scope", "needs jobs:read")]),
    ("get_job", ("j",), [api_error(500)] * 4),
    ("get_job", ("j",), [httpx.ConnectError] * 4),
    ("get_job", ("j",), [raw(200, HTML)]),
    ("get_job", ("j",), [raw(401, HTML)]),
    ("get_job", ("j",), [ok({"data": {}})]),
    ("trigger_sync", ("c",), [httpx.ReadTimeout]),
    ("trigger_sync", ("c",), [api_error(502)]),
    ("trigger_sync", ("c",), [api_error(429)] * 4),
    ("create_webhook", ("https://x.example.com/h", ["job.failed"]), [httpx.RemoteProtocolError]),
]


@pytest.mark.parametrize(("name", "args", "steps"), FAILURES)
async def test_no_error_holds_the_api_key(
    make_api: Callable[..., harness.Api],
    name: str,
    args: tuple[str, ...],
    steps: list[scripted.Step],
    caplog: pytest.LogCaptureFixture,
) -> None:
    api = make_api(*steps)
    caplog.set_level(logging.DEBUG)

    with pytest.raises(PlanasonixError) as caught:
        await api.call(name, *args)

    scripted.assert_no_secret(caught.value)
    assert API_KEY not in "".join(traceback.format_exception(caught.value))
    for record in caplog.records:
        assert API_KEY not in record.getMessage()
        assert API_KEY not in str(record.args)


async def test_no_log_record_holds_the_api_key(
    make_api: Callable[..., harness.Api], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api = make_api(
        httpx.ConnectError,
        api_error(503),
        ok(ex.JOB_GET),
        scripted.page([], None),
        ok(ex.SYNC_RESPONSE, 202),
    )

    await api.call("get_job", "job_1")
    await api.call("list_jobs")
    await api.call("trigger_sync", "conn_1", metadata={"k": "v"})

    assert api.script.count == 5
    for record in caplog.records:
        text = record.getMessage()
        assert API_KEY not in text
        assert "Bearer" not in text


async def test_repr_and_str_of_clients_hide_the_key(make_api: Callable[..., harness.Api]) -> None:
    api = make_api()

    for text in (repr(api.client), str(api.client), repr(api.client._settings)):
        assert API_KEY not in text
    assert api.base_url in repr(api.client)
