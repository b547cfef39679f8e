"""Bad input from DAG authors, each with the message it gets and where it is caught.

``construction``: the operator's ``__init__`` raises, so the DAG fails to parse (the earliest).
``execute``: the check runs when the task runs, before any request is sent.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

import pytest

from planasonix_provider.api import PlanasonixClient
from planasonix_provider.api.errors import PlanasonixValidationError
from planasonix_provider.hooks.planasonix import PlanasonixConnectionError, PlanasonixHook
from planasonix_provider.operators.planasonix import (
    PlanasonixBackfillOperator,
    PlanasonixSyncOperator,
)
from planasonix_provider.sandbox.testing import SandboxHandle
from planasonix_provider.triggers.planasonix import PlanasonixJobTrigger
from tests.reliability.conftest import FIGURES, conn_json, fake_context

UTC = timezone.utc
WINDOW = {"start_at": "2025-01-01T00:00:00Z", "end_at": "2025-02-01T00:00:00Z"}


def sync(**kwargs: Any) -> PlanasonixSyncOperator:
    kwargs.setdefault("connection_id", "conn_1")
    return PlanasonixSyncOperator(task_id="t", **kwargs)


def backfill(**kwargs: Any) -> PlanasonixBackfillOperator:
    args = {"connection_id": "conn_1", **WINDOW, **kwargs}
    return PlanasonixBackfillOperator(task_id="t", **args)


CONSTRUCTION: dict[str, tuple[Any, str]] = {
    "naive start_at": (
        lambda: backfill(start_at=datetime(2025, 1, 1)),
        "start_at must be timezone-aware, got naive 2025-01-01T00:00:00",
    ),
    "naive string end_at": (
        lambda: backfill(end_at="2025-02-01T00:00:00"),
        "end_at must be timezone-aware",
    ),
    "garbled start_at": (lambda: backfill(start_at="last tuesday"), "RFC 3339 timestamp"),
    "start equals end": (
        lambda: backfill(end_at=WINDOW["start_at"]),
        "must be earlier than end_at",
    ),
    "start after end": (
        lambda: backfill(start_at=datetime(2025, 3, 1, tzinfo=UTC)),
        "must be earlier than end_at",
    ),
    "mistyped priority (sync)": (
        lambda: sync(priority="hihg"),
        "priority 'hihg' is not a value Planasonix is known to take: did you mean 'high'",
    ),
    "mistyped priority (backfill)": (lambda: backfill(priority="LOW"), "did you mean 'low'"),
    "negative poll_interval": (
        lambda: sync(poll_interval=-1),
        "poll_interval must be a positive number of seconds, got -1",
    ),
    "zero poll_interval": (lambda: sync(poll_interval=0), "poll_interval must be a positive"),
    "negative timeout": (
        lambda: sync(timeout=-5),
        "timeout must be a positive number of seconds, got -5",
    ),
    "trigger unknown kind": (
        lambda: PlanasonixJobTrigger("job_1", kind="pipeline"),  # type: ignore[arg-type]
        "kind must be one of ('job', 'backfill'), got 'pipeline'",
    ),
    "trigger negative poll": (
        lambda: PlanasonixJobTrigger("job_1", poll_interval=-1),
        "poll_interval must be positive",
    ),
}


@pytest.mark.parametrize("case", CONSTRUCTION)
def test_rejected_at_construction(case: str) -> None:
    build, message = CONSTRUCTION[case]
    with pytest.raises(ValueError, match=re.escape(message)):
        build()
    FIGURES.outcome(f"bad-input/construction/{case}", "rejected")


#: Caught when the task runs, before any request: (callable on a client, message).
AT_EXECUTE: dict[str, tuple[Any, str]] = {
    "empty connection id": (
        lambda api: sync(connection_id="").start(api, fake_context()),
        "connection_id must be a non-empty string, got ''",
    ),
    "blank connection id": (
        lambda api: sync(connection_id="  ").start(api, fake_context()),
        "connection_id must be a non-empty string",
    ),
    "connection id with /": (
        lambda api: sync(connection_id="a/../b").start(api, fake_context()),
        "connection_id must not contain '/'",
    ),
    "empty pipeline id": (
        lambda api: api.trigger_sync("conn_1", pipeline_id=""),
        "pipeline_id: String should have at least 1 character",
    ),
    "empty job id (sensor poke)": (lambda api: api.get_job(""), "job_id must be a non-empty"),
    "job id with /": (lambda api: api.get_job("job/1"), "job_id must not contain '/'"),
    "backfill id '..'": (lambda api: api.get_backfill(".."), "backfill_id must not contain"),
    "naive backfill window (client)": (
        lambda api: api.trigger_backfill(
            "c", start_at=datetime(2025, 1, 1), end_at=datetime(2025, 2, 1)
        ),
        "start_at must be timezone-aware",
    ),
    "reversed window (client)": (
        lambda api: api.trigger_backfill(
            "c", start_at=datetime(2025, 2, 1, tzinfo=UTC), end_at=datetime(2025, 1, 1, tzinfo=UTC)
        ),
        "must be later than start_at",
    ),
    "unknown priority (client)": (
        lambda api: api.trigger_sync("c", priority="nromal"),
        "priority 'nromal' is not a value Planasonix is known to take: did you mean 'normal'",
    ),
    "webhook url not http": (
        lambda api: api.create_webhook("ftp://example.com/x", ["job.failed"]),
        "url must be an absolute http(s) URL, got 'ftp://example.com/x'",
    ),
    "webhook url relative": (
        lambda api: api.create_webhook("/hooks/x", ["job.failed"]),
        "url must be an absolute http(s) URL",
    ),
    "webhook unknown event": (
        lambda api: api.create_webhook("https://example.com/x", ["job.succeded"]),
        "did you mean 'job.succeeded'",
    ),
    "webhook no events": (
        lambda api: api.create_webhook("https://example.com/x", []),
        "events: List should have at least 1 item",
    ),
    "webhook test unknown event": (
        lambda api: api.send_test_event("wh_1", "job.faild"),
        "did you mean 'job.failed'",
    ),
    "page size 0": (lambda api: list(api.list_jobs(page_size=0)), "page_size must be an integer"),
}


@pytest.mark.parametrize("case", AT_EXECUTE)
def test_rejected_before_any_request(case: str) -> None:
    call, message = AT_EXECUTE[case]
    sent: list[str] = []

    def handler(request: Any) -> Any:
        sent.append(str(request.url))
        raise AssertionError("no request may be sent for bad input")

    import httpx

    with PlanasonixClient(
        "https://api.example.test", "pnx_key_abcdef", transport=httpx.MockTransport(handler)
    ) as api:
        with pytest.raises(PlanasonixValidationError) as caught:
            call(api)
        assert message in str(caught.value)
        assert isinstance(caught.value, ValueError)
    assert sent == []
    FIGURES.outcome(f"bad-input/execute/{case}", "rejected")


# --- Connections ------------------------------------------------------------------------------


def test_unknown_conn_id_fails_at_execute() -> None:
    from planasonix_provider.airflow_lines import AirflowNotFoundException

    sync(planasonix_conn_id="no_such_conn")  # constructing does not read the connection
    with pytest.raises(AirflowNotFoundException, match="The conn_id `no_such_conn` isn't defined"):
        _ = PlanasonixHook("no_such_conn").settings
    FIGURES.outcome("bad-input/unknown-conn-id", "rejected at execute")


async def test_unknown_conn_id_in_the_trigger() -> None:
    """The trigger turns Airflow's not-found error into its one error event."""
    trigger = PlanasonixJobTrigger("job_1", planasonix_conn_id="no_such_conn", poll_interval=1)
    events = [event.payload async for event in trigger.run()]
    assert [e["status"] for e in events] == ["error"]
    assert "no_such_conn" in events[0]["message"]


@pytest.mark.parametrize(
    ("conn", "message"),
    [
        (
            {"conn_type": "planasonix", "host": "http://127.0.0.1:9"},
            "Airflow connection 'planasonix_bad': password (the API key) is empty",
        ),
        (
            {"conn_type": "planasonix", "host": "http://127.0.0.1:9", "password": "  "},
            "password (the API key) is empty",
        ),
        (
            {"conn_type": "planasonix", "host": "ftp://x", "password": "pnx_key_abcdef"},
            "host (the base URL) is not usable: base_url must be an absolute http(s) URL",
        ),
        (
            {"conn_type": "planasonix", "password": "pnx_key_abcdef", "extra": {"timeot": 1}},
            "extra field(s) 'timeot' are not known",
        ),
        (
            {"conn_type": "planasonix", "password": "pnx_key_abcdef", "extra": {"timeout": -1}},
            "extra field 'timeout' must be at least 0.1",
        ),
        (
            {
                "conn_type": "planasonix",
                "password": "pnx_key_abcdef",
                "extra": {"retry_attempts": "many"},
            },
            "extra field 'retry_attempts' must be an integer, got 'many'",
        ),
    ],
    ids=["no-key", "blank-key", "bad-host", "unknown-extra", "negative-timeout", "bad-attempts"],
)
def test_bad_connection_fails_at_execute_naming_the_field(
    monkeypatch: pytest.MonkeyPatch, conn: dict[str, Any], message: str
) -> None:
    import json

    monkeypatch.setenv("AIRFLOW_CONN_PLANASONIX_BAD", json.dumps(conn))
    with pytest.raises(PlanasonixConnectionError) as caught:
        _ = PlanasonixHook("planasonix_bad").settings
    assert message in str(caught.value)
    assert "Fix it in the connection" in str(caught.value)
    FIGURES.outcome(f"bad-input/connection/{message[:30]}", "rejected at execute")


async def test_connection_without_key_in_the_trigger_is_an_error_event(
    monkeypatch: pytest.MonkeyPatch, sandbox: SandboxHandle
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_PLANASONIX_NOKEY", conn_json(sandbox.base_url, None))
    trigger = PlanasonixJobTrigger("job_1", planasonix_conn_id="planasonix_nokey", poll_interval=1)
    async for event in trigger.run():
        assert event.payload["status"] == "error"
        assert "password (the API key) is empty" in event.payload["message"]
