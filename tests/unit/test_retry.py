"""The retry matrix of DESIGN.md, and the RetryPolicy and Retry-After parsing on their own.

The key proof: a POST that creates work is sent exactly once after a failure that leaves open
whether the server acted (read timeout, dropped connection, 5xx).
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from planasonix_provider.api import (
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    PermissionDeniedError,
    PlanasonixTransportError,
    RateLimitedError,
    RequestMayHaveBeenProcessedError,
    RetryPolicy,
    ServerError,
)
from planasonix_provider.api import operations as ops
from planasonix_provider.api.errors import parse_retry_after
from tests import reference_examples as ex
from tests.unit import harness, scripted
from tests.unit.harness import ApiPool
from tests.unit.scripted import api_error, ok

UTC = timezone.utc
START = datetime(2025, 1, 1, tzinfo=UTC)
END = datetime(2025, 3, 1, tzinfo=UTC)


@pytest.fixture(params=harness.ALL_KINDS)
async def make_api(request: pytest.FixtureRequest) -> AsyncIterator[Callable[..., harness.Api]]:
    async with ApiPool(request.param) as pool:
        yield pool.make


# (method, args, kwargs, success answer)
SAFE_OPS = [
    pytest.param("get_job", ("job_1",), {}, ok(ex.JOB_GET), id="get_job"),
    pytest.param("list_jobs", (), {}, ok(ex.JOB_LIST), id="list_jobs"),
    pytest.param("cancel_job", ("job_1",), {}, ok(ex.JOB_CANCEL), id="cancel_job"),
    pytest.param(  # the PUT alone: the client method reads the subscription first
        "send",
        (ops.update_webhook("wh_1", enabled=False),),
        {},
        ok(ex.WEBHOOK_UPDATE),
        id="update_webhook",
    ),
    pytest.param("delete_webhook", ("wh_1",), {}, scripted.raw(204, b""), id="delete_webhook"),
]
CREATING_OPS = [
    pytest.param("trigger_sync", ("conn_1",), {}, ok(ex.SYNC_RESPONSE, 202), id="trigger_sync"),
    pytest.param(
        "trigger_backfill",
        ("conn_1",),
        {"start_at": START, "end_at": END},
        ok(ex.BACKFILL_RESPONSE, 202),
        id="trigger_backfill",
    ),
    pytest.param(
        "create_webhook",
        ("https://hooks.example.com/x", ["job.failed"]),
        {},
        ok(ex.WEBHOOK_CREATE, 201),
        id="create_webhook",
    ),
    pytest.param("send_test_event", ("wh_1",), {}, ok(ex.WEBHOOK_TEST, 202), id="send_test_event"),
    pytest.param(
        "rotate_webhook_secret", ("wh_1",), {}, ok(ex.WEBHOOK_ROTATE), id="rotate_webhook_secret"
    ),
]
OP_ARGS = ("name", "args", "kwargs", "success")

TRANSIENT = [
    pytest.param(httpx.ConnectError, id="ConnectError"),
    pytest.param(httpx.ConnectTimeout, id="ConnectTimeout"),
    pytest.param(httpx.ReadTimeout, id="ReadTimeout"),
    pytest.param(httpx.RemoteProtocolError, id="RemoteProtocolError"),
    pytest.param(httpx.ReadError, id="ReadError"),
    *(pytest.param(api_error(s), id=str(s)) for s in (429, 500, 502, 503, 504)),
]


@pytest.mark.parametrize("failure", TRANSIENT)
@pytest.mark.parametrize(OP_ARGS, SAFE_OPS)
async def test_safe_operation_is_retried_then_succeeds(
    make_api: Callable[..., harness.Api],
    name: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    success: httpx.Response,
    failure: scripted.Step,
) -> None:
    api = make_api(failure, failure, success)

    await api.call(name, *args, **kwargs)

    assert api.script.count == 3
    assert len(api.sleeps) == 2
    methods = {r.method for r in api.script.requests}
    paths = {r.url.path for r in api.script.requests}
    assert len(methods) == 1
    assert len(paths) == 1


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (501, ServerError),
    ],
)
@pytest.mark.parametrize(OP_ARGS, SAFE_OPS)
async def test_safe_operation_is_not_retried_on_a_final_status(
    make_api: Callable[..., harness.Api],
    name: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    success: httpx.Response,
    status: int,
    error_class: type,
) -> None:
    api = make_api(api_error(status), success)

    with pytest.raises(error_class):
        await api.call(name, *args, **kwargs)
    assert api.script.count == 1
    assert api.sleeps == []


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(httpx.ConnectError, id="ConnectError"),
        pytest.param(httpx.ConnectTimeout, id="ConnectTimeout"),
        pytest.param(httpx.PoolTimeout, id="PoolTimeout"),
        pytest.param(api_error(429), id="429"),
    ],
)
@pytest.mark.parametrize(OP_ARGS, CREATING_OPS)
async def test_creating_post_is_retried_where_the_server_surely_did_not_act(
    make_api: Callable[..., harness.Api],
    name: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    success: httpx.Response,
    failure: scripted.Step,
) -> None:
    api = make_api(failure, failure, success)

    await api.call(name, *args, **kwargs)

    assert api.script.count == 3
    assert len(api.sleeps) == 2
    assert {r.method for r in api.script.requests} == {"POST"}
    bodies = {r.content for r in api.script.requests}
    assert len(bodies) == 1, "a retry sends the very same body"


AMBIGUOUS = [
    pytest.param(httpx.ReadTimeout, None, id="ReadTimeout"),
    pytest.param(httpx.WriteTimeout, None, id="WriteTimeout"),
    pytest.param(httpx.RemoteProtocolError, None, id="RemoteProtocolError"),
    pytest.param(httpx.ReadError, None, id="ReadError"),
    *(pytest.param(api_error(s), s, id=str(s)) for s in (500, 502, 503, 504)),
    pytest.param(scripted.raw(502, "<html>Bad Gateway</html>"), 502, id="502-html"),
    pytest.param(api_error(503, **{"Retry-After": "1"}), 503, id="503-retry-after"),
]


@pytest.mark.parametrize(("failure", "status"), AMBIGUOUS)
@pytest.mark.parametrize(OP_ARGS, CREATING_OPS)
async def test_creating_post_is_sent_exactly_once_after_an_ambiguous_failure(
    make_api: Callable[..., harness.Api],
    name: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    success: httpx.Response,
    failure: scripted.Step,
    status: int | None,
) -> None:
    api = make_api(failure, success, success)

    with pytest.raises(RequestMayHaveBeenProcessedError) as caught:
        await api.call(name, *args, **kwargs)

    assert api.script.count == 1, "a creating POST must never be re-sent after it may have acted"
    assert api.sleeps == []
    assert caught.value.status_code == status
    assert name in str(caught.value)


@pytest.mark.parametrize("failure", [httpx.ReadTimeout, api_error(500)])
async def test_creating_post_stops_at_the_first_ambiguous_failure_after_safe_retries(
    make_api: Callable[..., harness.Api], failure: scripted.Step
) -> None:
    api = make_api(httpx.ConnectError, api_error(429), failure, ok(ex.SYNC_RESPONSE, 202))

    with pytest.raises(RequestMayHaveBeenProcessedError):
        await api.call("trigger_sync", "conn_1")
    assert api.script.count == 3
    assert len(api.sleeps) == 2


@pytest.mark.parametrize(OP_ARGS, CREATING_OPS)
async def test_creating_post_is_not_retried_on_a_final_status(
    make_api: Callable[..., harness.Api],
    name: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    success: httpx.Response,
) -> None:
    api = make_api(api_error(400, "invalid_body"), success)

    with pytest.raises(BadRequestError, match="invalid_body"):
        await api.call(name, *args, **kwargs)
    assert api.script.count == 1


async def test_creating_post_out_of_retries_on_429(make_api: Callable[..., harness.Api]) -> None:
    api = make_api(api_error(429), retry=scripted.fast_policy(max_attempts=3), repeat_last=True)

    with pytest.raises(RateLimitedError):
        await api.call("trigger_sync", "conn_1")
    assert api.script.count == 3
    assert len(api.sleeps) == 2


async def test_creating_post_out_of_retries_on_connect_errors(
    make_api: Callable[..., harness.Api],
) -> None:
    api = make_api(httpx.ConnectError, retry=scripted.fast_policy(max_attempts=3), repeat_last=True)

    with pytest.raises(PlanasonixTransportError):
        await api.call("create_webhook", "https://hooks.example.com/x", ["job.failed"])
    assert api.script.count == 3


# --- Attempts, backoff and Retry-After through the clients ----------------------------------


@pytest.mark.parametrize(
    ("failure", "error_class"),
    [(api_error(503), ServerError), (httpx.ReadTimeout, PlanasonixTransportError)],
)
@pytest.mark.parametrize("max_attempts", [1, 2, 5])
async def test_attempts_are_exhausted_after_max_attempts(
    make_api: Callable[..., harness.Api],
    failure: scripted.Step,
    error_class: type,
    max_attempts: int,
) -> None:
    api = make_api(failure, retry=scripted.fast_policy(max_attempts=max_attempts), repeat_last=True)

    with pytest.raises(error_class):
        await api.call("get_job", "job_1")
    assert api.script.count == max_attempts
    assert len(api.sleeps) == max_attempts - 1


async def test_backoff_is_exponential_with_full_jitter(
    make_api: Callable[..., harness.Api],
) -> None:
    base, cap, attempts = 0.5, 3.0, 6
    policy = RetryPolicy(
        max_attempts=attempts, backoff_base=base, max_wait=cap, rng=random.Random(7)
    )
    api = make_api(api_error(503), retry=policy, repeat_last=True)

    with pytest.raises(ServerError):
        await api.call("get_job", "job_1")

    ceilings = [min(cap, base * 2 ** (n - 1)) for n in range(1, attempts)]
    assert ceilings == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert len(api.sleeps) == attempts - 1
    for wait, ceiling in zip(api.sleeps, ceilings, strict=True):
        assert 0.0 <= wait <= ceiling
    replay = random.Random(7)
    assert api.sleeps == [replay.uniform(0.0, c) for c in ceilings]


def _http_date(offset_seconds: float) -> str:
    moment = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=offset_seconds)
    return format_datetime(moment, usegmt=True)


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize(
    ("retry_after", "max_wait", "expected"),
    [
        ("2", 30.0, 2.0),
        ("0", 30.0, 0.0),
        ("1.5", 30.0, 1.5),
        ("120", 30.0, 30.0),
        ("-4", 30.0, 0.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 30.0, 0.0),
    ],
)
async def test_retry_after_is_honoured_and_capped(
    make_api: Callable[..., harness.Api],
    status: int,
    retry_after: str,
    max_wait: float,
    expected: float,
) -> None:
    api = make_api(
        api_error(status, **{"Retry-After": retry_after}),
        ok(ex.JOB_GET),
        retry=scripted.fast_policy(max_wait=max_wait),
    )

    await api.call("get_job", "job_1")

    assert api.sleeps == [expected]


async def test_retry_after_as_a_future_http_date(make_api: Callable[..., harness.Api]) -> None:
    api = make_api(
        api_error(429, **{"Retry-After": _http_date(100)}),
        api_error(429, **{"Retry-After": _http_date(3600)}),
        ok(ex.JOB_GET),
        retry=scripted.fast_policy(max_wait=300.0),
    )

    await api.call("get_job", "job_1")

    assert api.sleeps[0] == pytest.approx(100, abs=2)
    assert api.sleeps[1] == 300.0


async def test_retry_after_is_honoured_for_a_creating_post_on_429(
    make_api: Callable[..., harness.Api],
) -> None:
    api = make_api(api_error(429, **{"Retry-After": "4"}), ok(ex.SYNC_RESPONSE, 202))

    await api.call("trigger_sync", "conn_1")

    assert api.sleeps == [4.0]
    assert api.script.count == 2


async def test_garbage_retry_after_falls_back_to_backoff(
    make_api: Callable[..., harness.Api],
) -> None:
    api = make_api(
        api_error(503, **{"Retry-After": "soon"}),
        ok(ex.JOB_GET),
        retry=scripted.fast_policy(backoff_base=0.2, max_wait=10.0),
    )

    await api.call("get_job", "job_1")

    assert api.sleeps == [random.Random(0).uniform(0.0, 0.2)]


async def test_rate_limited_error_carries_retry_after(make_api: Callable[..., harness.Api]) -> None:
    api = make_api(
        api_error(429, **{"Retry-After": "7"}), retry=scripted.fast_policy(max_attempts=1)
    )

    with pytest.raises(RateLimitedError) as caught:
        await api.call("get_job", "job_1")
    assert caught.value.retry_after == 7.0


# --- RetryPolicy on its own --------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [{"max_attempts": 0}, {"max_attempts": -1}, {"backoff_base": -0.1}, {"max_wait": -1.0}],
)
def test_invalid_policy_arguments(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"max_attempts|backoff_base|max_wait"):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize(("base", "cap"), [(0.5, 30.0), (1.0, 4.0), (0.0, 10.0), (2.0, 0.0)])
def test_backoff_stays_within_its_bounds(seed: int, base: float, cap: float) -> None:
    policy = RetryPolicy(max_attempts=10, backoff_base=base, max_wait=cap, rng=random.Random(seed))
    for attempt in range(1, 12):
        assert 0.0 <= policy.backoff(attempt) <= min(cap, base * 2 ** (attempt - 1))


def test_backoff_uses_the_full_range() -> None:
    policy = RetryPolicy(backoff_base=1.0, max_wait=100.0, rng=random.Random(1))
    waits = [policy.backoff(4) for _ in range(500)]
    assert max(waits) > 7.0
    assert min(waits) < 1.0


@pytest.mark.parametrize(
    ("retry_after", "expected"), [(5.0, 5.0), (100.0, 30.0), (-3.0, 0.0), (0.0, 0.0)]
)
def test_backoff_with_retry_after_is_capped_and_not_negative(
    retry_after: float, expected: float
) -> None:
    policy = RetryPolicy(max_wait=30.0, rng=random.Random(0))
    assert policy.backoff(1, retry_after) == expected


# --- parse_retry_after -------------------------------------------------------------------------

NOW = datetime(2025, 3, 27, 14, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 5 ", 5.0),
        ("0", 0.0),
        ("-3", 0.0),
        ("2.5", 2.5),
        ("Thu, 27 Mar 2025 14:00:30 GMT", 30.0),
        ("Thu, 27 Mar 2025 15:00:00 GMT", 3600.0),
        ("Thu, 27 Mar 2025 13:59:00 GMT", 0.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
        ("Thu, 27 Mar 2025 14:00:10 -0000", 10.0),
        ("Thu, 27 Mar 2025 16:00:10 +0200", 10.0),
        (None, None),
        ("", None),
        ("   ", None),
        ("soon", None),
        ("Thu, 99 Foo 2025", None),
        ("12 seconds", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected


def test_parse_retry_after_uses_the_clock_by_default() -> None:
    assert parse_retry_after(_http_date(60)) == pytest.approx(60, abs=2)


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf"])
def test_parse_retry_after_rejects_non_finite_numbers(value: str) -> None:
    assert parse_retry_after(value, now=NOW) is None


async def test_client_never_sleeps_nan(make_api: Callable[..., harness.Api]) -> None:
    api = make_api(api_error(503, **{"Retry-After": "nan"}), ok(ex.JOB_GET))

    await api.call("get_job", "job_1")

    assert all(0.0 <= wait <= api.client.retry_policy.max_wait for wait in api.sleeps)
