"""Operator and sensor checks that need no DAG run: arguments, and the events they accept."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from planasonix_provider.airflow_lines import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
)
from planasonix_provider.operators.planasonix import (
    PlanasonixBackfillOperator,
    PlanasonixSyncOperator,
    parse_window,
)
from planasonix_provider.sensors.planasonix import PlanasonixJobSensor
from planasonix_provider.triggers.outcome import WaitOutcome

UTC = timezone.utc


@pytest.fixture(autouse=True)
def _connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_PLANASONIX_DEFAULT",
        '{"conn_type": "planasonix", "host": "https://api.planasonix.com", "password": "k_123456"}',
    )


def sync(**kwargs: Any) -> PlanasonixSyncOperator:
    return PlanasonixSyncOperator(task_id="sync", connection_id="conn_1", **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"poll_interval": -1}, "poll_interval must be a positive number of seconds, got -1"),
        ({"poll_interval": 0}, "poll_interval must be a positive"),
        ({"timeout": -5}, "timeout must be a positive number of seconds, got -5"),
        ({"timeout": timedelta(0)}, "timeout must be a positive"),
        ({"priority": "urgent"}, "priority must be one of low, normal, high, got 'urgent'"),
    ],
)
def test_sync_arguments_are_checked_at_parse_time(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sync(**kwargs)


def test_timedelta_arguments_become_seconds() -> None:
    operator = sync(poll_interval=timedelta(seconds=30), timeout=timedelta(hours=1))
    assert (operator.poll_interval, operator.timeout) == (30.0, 3600.0)


def test_templated_priority_is_checked_later() -> None:
    assert sync(priority="{{ params.priority }}").priority == "{{ params.priority }}"


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (datetime(2025, 1, 1), datetime(2025, 2, 1, tzinfo=UTC), "start_at must be timezone-aware"),
        ("2025-01-01T00:00:00", "2025-02-01T00:00:00Z", "start_at must be timezone-aware"),
        ("2025-01-01T00:00:00Z", "2025-02-01", "end_at must be timezone-aware"),
        ("yesterday", "2025-02-01T00:00:00Z", "start_at must be an RFC 3339 timestamp"),
        ("2025-02-01T00:00:00Z", "2025-01-01T00:00:00Z", "start_at .* must be earlier than end_at"),
        ("2025-01-01T00:00:00Z", "2025-01-01T00:00:00+00:00", "must be earlier than end_at"),
    ],
)
def test_backfill_window_is_checked_before_any_request(start: Any, end: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PlanasonixBackfillOperator(task_id="b", connection_id="c", start_at=start, end_at=end)


def test_backfill_window_accepts_aware_values_in_any_zone() -> None:
    start, end = parse_window("2025-01-01T02:00:00+02:00", datetime(2025, 1, 2, tzinfo=UTC))
    assert start == datetime(2025, 1, 1, tzinfo=UTC)
    assert end.tzinfo is not None


def test_templated_window_is_checked_at_run_time() -> None:
    operator = PlanasonixBackfillOperator(
        task_id="b",
        connection_id="c",
        start_at="{{ data_interval_start }}",
        end_at="{{ data_interval_end }}",
    )
    assert operator.priority == "low"
    assert set(operator.template_fields) >= {"start_at", "end_at", "connection_id"}


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (None, "the trigger sent no event"),
        ("done", "the trigger event is a str"),
        ({"status": "great", "kind": "job", "resource_id": "j"}, "unknown status 'great'"),
        ({"status": "success", "kind": "pipeline", "resource_id": "j"}, "lacks a valid kind"),
        ({"status": "success", "kind": "job"}, "lacks a valid kind and resource_id"),
        ({"status": "success", "kind": "job", "resource_id": "j", "resource": [1]}, "not a JSON"),
    ],
)
def test_execute_complete_rejects_bad_events(event: Any, message: str) -> None:
    with pytest.raises(AirflowException, match=message):
        sync().execute_complete(context={}, event=event)


@pytest.mark.parametrize("status", ["failed", "cancelled", "timeout", "error"])
def test_execute_complete_fails_for_every_non_success(status: str) -> None:
    event = WaitOutcome(status, "job", "job_7", f"Planasonix job job_7 {status}").to_event()  # type: ignore[arg-type]
    with pytest.raises(AirflowException) as info:
        sync().execute_complete(context={}, event=event)
    assert "job_7" in str(info.value)
    assert "https://app.planasonix.com/jobs/job_7" in str(info.value)


def sensor(**kwargs: Any) -> PlanasonixJobSensor:
    return PlanasonixJobSensor(task_id="wait", resource_id="job_7", **kwargs)


@pytest.mark.parametrize(
    ("status", "soft_fail", "expected"),
    [
        ("failed", False, AirflowFailException),
        ("cancelled", False, AirflowFailException),
        ("timeout", False, AirflowSensorTimeout),
        ("error", False, AirflowException),
        ("failed", True, AirflowSkipException),
        ("timeout", True, AirflowSkipException),
        ("error", True, AirflowException),
    ],
)
def test_sensor_execute_complete(status: str, soft_fail: bool, expected: type) -> None:
    event = WaitOutcome(status, "job", "job_7", "it ended").to_event()  # type: ignore[arg-type]
    with pytest.raises(expected):
        sensor(soft_fail=soft_fail).execute_complete(context={}, event=event)


def test_sensor_success_returns_the_job() -> None:
    event = WaitOutcome("success", "job", "job_7", "ok", {"id": "job_7"}).to_event()
    assert sensor().execute_complete(context={}, event=event) == {"id": "job_7"}


def test_sensor_rejects_unknown_kind() -> None:
    with pytest.raises(ValueError, match="kind must be one of"):
        sensor(kind="pipeline")


@pytest.mark.parametrize(
    ("status", "useful"),
    [
        ("queued", True),
        ("running", True),
        ("a_status_from_the_future", True),
        ("succeeded", True),
        ("cancelling", False),
        ("cancelled", False),
        ("failed", False),
    ],
)
def test_what_a_retry_reattaches_to(status: str, useful: bool) -> None:
    from planasonix_provider.api.models import Job

    assert sync()._still_useful(Job(id="job_1", status=status)) is useful
