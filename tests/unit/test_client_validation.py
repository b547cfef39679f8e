"""Bad input fails before any request, with a PlanasonixValidationError that names the field."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime, timezone
from typing import Any

import pytest

from planasonix_provider.api import (
    AsyncPlanasonixClient,
    PlanasonixClient,
    PlanasonixError,
    PlanasonixValidationError,
)
from tests import reference_examples as ex
from tests.unit import harness, scripted
from tests.unit.harness import ApiPool
from tests.unit.scripted import API_KEY

UTC = timezone.utc
START = datetime(2025, 1, 1, tzinfo=UTC)
END = datetime(2025, 3, 1, tzinfo=UTC)
NAIVE = datetime(2025, 1, 1)
HOOK_URL = "https://hooks.example.com/planasonix"


@pytest.fixture(params=harness.ALL_KINDS)
async def make_api(request: pytest.FixtureRequest) -> AsyncIterator[Callable[..., harness.Api]]:
    async with ApiPool(request.param) as pool:
        yield pool.make


ID_METHODS = [
    ("trigger_sync", "connection_id", {}),
    ("trigger_backfill", "connection_id", {"start_at": START, "end_at": END}),
    ("get_backfill", "backfill_id", {}),
    ("get_job", "job_id", {}),
    ("get_job_results", "job_id", {}),
    ("cancel_job", "job_id", {}),
    ("get_webhook", "webhook_id", {}),
    ("update_webhook", "webhook_id", {"enabled": True}),
    ("delete_webhook", "webhook_id", {}),
    ("rotate_webhook_secret", "webhook_id", {}),
    ("send_test_event", "webhook_id", {}),
    ("list_webhook_deliveries", "webhook_id", {}),
]


@pytest.mark.parametrize("bad_id", ["", "   ", "a/b", "/", "../jobs", None, 42])
@pytest.mark.parametrize(("name", "field", "kwargs"), ID_METHODS)
async def test_bad_ids_are_rejected_before_any_request(
    make_api: Callable[..., harness.Api], name: str, field: str, kwargs: dict[str, Any], bad_id: Any
) -> None:
    api = make_api()

    with pytest.raises(PlanasonixValidationError, match=field):
        await api.call(name, bad_id, **kwargs)
    assert api.script.count == 0


@pytest.mark.parametrize("dots", [".", ".."])
async def test_dot_segment_ids_are_rejected(
    make_api: Callable[..., harness.Api], dots: str
) -> None:
    api = make_api(scripted.ok(ex.JOB_CANCEL), scripted.raw(204, b""))

    with pytest.raises(PlanasonixValidationError, match="job_id"):
        await api.call("cancel_job", dots)
    assert api.script.count == 0


@pytest.mark.parametrize(
    ("name", "args", "kwargs", "field"),
    [
        ("list_jobs", (), {"since": NAIVE}, "since"),
        ("list_jobs", (), {"until": NAIVE}, "until"),
        ("list_jobs", (), {"page_size": 0}, "page_size"),
        ("list_jobs", (), {"page_size": 101}, "page_size"),
        ("list_jobs", (), {"page_size": True}, "page_size"),
        ("list_jobs", (), {"page_size": 2.0}, "page_size"),
        ("list_jobs", (), {"status": ""}, "status"),
        ("list_backfills", (), {"page_size": 0}, "page_size"),
        ("list_backfills", (), {"page_size": 101}, "page_size"),
        ("list_backfills", (), {"page_size": True}, "page_size"),
        ("trigger_backfill", ("c",), {"start_at": NAIVE, "end_at": END}, "start_at"),
        ("trigger_backfill", ("c",), {"start_at": START, "end_at": datetime(2025, 3, 1)}, "end_at"),
        (
            "trigger_backfill",
            ("c",),
            {"start_at": "2025-01-01T00:00:00Z", "end_at": END},
            "start_at",
        ),
        ("trigger_backfill", ("c",), {"start_at": END, "end_at": START}, "end_at"),
        ("trigger_backfill", ("c",), {"start_at": START, "end_at": START}, "end_at"),
        ("trigger_backfill", ("c",), {"start_at": START, "end_at": END, "tables": [""]}, "tables"),
        (
            "trigger_backfill",
            ("c",),
            {"start_at": START, "end_at": END, "priority": "hihg"},
            "priority",
        ),
        ("trigger_sync", ("c",), {"priority": "Normal"}, "priority"),
        ("trigger_sync", ("c",), {"pipeline_id": ""}, "pipeline_id"),
        ("trigger_sync", ("c",), {"metadata": {"k": ["nested"]}}, "metadata"),
        ("create_webhook", ("not a url", ["job.failed"]), {}, "url"),
        ("create_webhook", ("ftp://hooks.example.com/x", ["job.failed"]), {}, "url"),
        ("create_webhook", ("https:///no-host", ["job.failed"]), {}, "url"),
        ("create_webhook", (HOOK_URL, ["job.succeded"]), {}, "events"),
        ("create_webhook", (HOOK_URL, []), {}, "events"),
        ("update_webhook", ("wh_1",), {"url": "mailto:x@example.com"}, "url"),
        ("update_webhook", ("wh_1",), {"events": []}, "events"),
        ("update_webhook", ("wh_1",), {"events": ["job.succeded"]}, "events"),
        ("send_test_event", ("wh_1", "job.succeded"), {}, "event"),
    ],
)
async def test_bad_arguments_are_rejected_before_any_request(
    make_api: Callable[..., harness.Api],
    name: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    field: str,
) -> None:
    api = make_api()

    with pytest.raises(PlanasonixValidationError, match=field) as caught:
        await api.call(name, *args, **kwargs)
    assert isinstance(caught.value, ValueError)
    assert api.script.count == 0


@pytest.mark.parametrize("name", ["list_jobs", "list_backfills"])
async def test_list_page_size_is_checked_when_called_not_when_iterated(
    make_api: Callable[..., harness.Api], name: str
) -> None:
    api = make_api()

    with pytest.raises(PlanasonixValidationError, match="page_size"):
        getattr(api.client, name)(page_size=500)


async def test_list_jobs_filters_are_checked_when_called(
    make_api: Callable[..., harness.Api],
) -> None:
    api = make_api()

    with pytest.raises(PlanasonixValidationError, match="since"):
        api.client.list_jobs(since=NAIVE)


async def test_list_backfills_filters_are_checked_when_called(
    make_api: Callable[..., harness.Api],
) -> None:
    api = make_api()

    with pytest.raises(PlanasonixValidationError, match="connection_id"):
        api.client.list_backfills(connection_id="")


CLIENTS = [PlanasonixClient, AsyncPlanasonixClient]


@pytest.mark.parametrize("client_class", CLIENTS)
@pytest.mark.parametrize(
    ("base_url", "api_key", "kwargs", "field"),
    [
        ("ftp://api.planasonix.com", API_KEY, {}, "base_url"),
        ("api.planasonix.com", API_KEY, {}, "base_url"),
        ("https://", API_KEY, {}, "base_url"),
        ("https://api.planasonix.com?x=1", API_KEY, {}, "base_url"),
        ("https://api.planasonix.com#frag", API_KEY, {}, "base_url"),
        ("https://user:pw@api.planasonix.com", API_KEY, {}, "base_url"),
        (scripted.BASE_URL, "", {}, "api_key"),
        (scripted.BASE_URL, "   ", {}, "api_key"),
        (scripted.BASE_URL, None, {}, "api_key"),
        (scripted.BASE_URL, API_KEY, {"timeout": 0}, "timeout"),
        (scripted.BASE_URL, API_KEY, {"max_connections": 0}, "max_connections"),
    ],
)
def test_bad_construction_arguments(
    client_class: type, base_url: str, api_key: str, kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(PlanasonixValidationError, match=field) as caught:
        client_class(base_url, api_key, **kwargs)
    assert API_KEY not in str(caught.value)


@pytest.mark.parametrize("client_class", CLIENTS)
def test_base_url_defaults_and_is_normalised(client_class: type) -> None:
    assert client_class(None, API_KEY).base_url == "https://api.planasonix.com"
    assert client_class("", API_KEY).base_url == "https://api.planasonix.com"
    assert client_class(" http://localhost:8080/ ", API_KEY).base_url == "http://localhost:8080"


@pytest.mark.parametrize(
    "base_url", [f"https://user:{API_KEY}@api.planasonix.com", f"https://h.test/?api_key={API_KEY}"]
)
def test_rejected_base_url_does_not_echo_credentials(base_url: str) -> None:
    with pytest.raises(PlanasonixError) as caught:
        PlanasonixClient(base_url, "another-key")
    assert API_KEY not in str(caught.value)
