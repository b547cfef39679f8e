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
from planasonix_provider.sensors.planasonix import PlanasonixBackfillSensor, PlanasonixJobSensor
from planasonix_provider.wait import WaitOutcome

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
        ({"priority": "hihg"}, "priority 'hihg' .* did you mean 'high'"),
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
    return PlanasonixJobSensor(task_id="wait", job_id="job_7", **kwargs)


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


def _results(job_id: str) -> Any:
    from planasonix_provider.api.models import JobResults

    return JobResults.model_validate(
        {
            "job_id": job_id,
            "status": "succeeded",
            "tables": [{"name": "orders", "rows_loaded": 3, "checksum": "c1"}],
            "warnings": [{"code": "W1", "message": "late rows"}],
        }
    )


SYNC_KEYS = {
    "job_id",
    "status",
    "connection_id",
    "pipeline_id",
    "created_at",
    "started_at",
    "finished_at",
    "duration_seconds",
    "metrics",
    "tables",
    "warnings",
    "url",
}


def test_sensor_success_returns_what_the_sync_operator_returns(mocker: Any) -> None:
    op = sensor()
    client = op.hook.__dict__["client"] = mocker.Mock()
    from planasonix_provider.api.models import Job

    client.get_job_results.return_value = _results("job_7")
    # The trigger's event does not carry the job: the sensor reads it again.
    client.get_job.return_value = Job(id="job_7", status="succeeded", connection_id="conn_1")
    event = WaitOutcome("success", "job", "job_7", "ok").to_event()
    summary = op.execute_complete(context={}, event=event)
    client.get_job.assert_called_once_with("job_7")
    assert set(summary) == SYNC_KEYS
    assert (summary["job_id"], summary["connection_id"]) == ("job_7", "conn_1")
    assert summary["tables"] == [{"name": "orders", "rows_loaded": 3, "checksum": "c1"}]
    assert summary["url"] == "https://app.planasonix.com/jobs/job_7"


def test_no_wait_returns_the_same_keys_without_results(mocker: Any) -> None:
    from planasonix_provider.api.models import Job

    op = sync(wait_for_completion=False)
    client = op.hook.__dict__["client"] = mocker.Mock()
    client.trigger_sync.return_value = Job(id="job_9", status="queued", connection_id="conn_1")
    ti = mocker.Mock(dag_id="d", run_id="r", task_id="sync", map_index=-1, try_number=1)
    summary = op.execute({"ti": ti})
    assert set(summary) == SYNC_KEYS
    assert (summary["job_id"], summary["status"]) == ("job_9", "queued")
    assert (summary["tables"], summary["warnings"]) == ([], [])
    client.get_job_results.assert_not_called()


@pytest.mark.parametrize(
    ("kwargs", "fix"),
    [
        ({"resource_id": "job_7"}, "no longer takes resource_id"),
        ({"resource_id": "bf_1", "kind": "backfill"}, "no longer takes resource_id or kind"),
    ],
)
def test_the_0_1_0_sensor_arguments_name_the_fix(kwargs: dict[str, Any], fix: str) -> None:
    with pytest.raises(TypeError, match=fix) as info:
        PlanasonixJobSensor(task_id="wait", **kwargs)
    assert "PlanasonixJobSensor(job_id=...)" in str(info.value)
    assert "PlanasonixBackfillSensor(backfill_id=...)" in str(info.value)


def test_a_sensor_needs_its_id() -> None:
    with pytest.raises(TypeError, match="PlanasonixBackfillSensor needs backfill_id="):
        PlanasonixBackfillSensor(task_id="wait")


def test_backfill_sensor_watches_a_backfill() -> None:
    op = PlanasonixBackfillSensor(task_id="wait", backfill_id="bf_1")
    assert (op.kind, op.resource_id) == ("backfill", "bf_1")


@pytest.mark.parametrize(
    "make",
    [
        lambda: sync(),
        lambda: PlanasonixBackfillOperator(
            task_id="b", connection_id="c", start_at="{{ a }}", end_at="{{ b }}"
        ),
        lambda: sensor(),
        lambda: PlanasonixBackfillSensor(task_id="wait", backfill_id="bf_1"),
    ],
)
def test_planasonix_conn_id_is_templated_everywhere(make: Any) -> None:
    assert "planasonix_conn_id" in make().template_fields


def test_connection_id_is_keyword_only_as_airflow_requires() -> None:
    import inspect

    for cls in (PlanasonixSyncOperator, PlanasonixBackfillOperator):
        parameter = inspect.signature(cls.__init__).parameters["connection_id"]
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY


@pytest.mark.parametrize("cancel", [True, False])
def test_worker_timeout_cancels_unless_told_not_to(mocker: Any, cancel: bool) -> None:
    from planasonix_provider.api.models import Job

    op = sync(timeout=1, cancel_on_timeout=cancel)
    client = mocker.Mock()
    client.get_job.return_value = Job(id="job_1", status="running")
    outcome = op._wait_on_worker(client, "job_1", deadline=0.0)
    assert outcome.status == "timeout"
    expected = "cancelled (job_1)" if cancel else "left running"
    assert outcome.message == (
        f"Planasonix job job_1 did not finish before the task's timeout; it was {expected}"
    )
    assert client.cancel_job.called is cancel


def test_deferring_passes_cancel_on_timeout_to_the_trigger(mocker: Any) -> None:
    from planasonix_provider.api.models import Job

    op = sync(deferrable=True, timeout=60, cancel_on_timeout=False)
    client = op.hook.__dict__["client"] = mocker.Mock()
    client.trigger_sync.return_value = Job(id="job_9", status="queued")
    defer = mocker.patch.object(op, "defer", side_effect=RuntimeError("deferred"))
    ti = mocker.Mock(dag_id="d", run_id="r", task_id="sync", map_index=-1, try_number=1)
    with pytest.raises(RuntimeError, match="deferred"):
        op.execute({"ti": ti})
    trigger = defer.call_args.kwargs["trigger"]
    assert trigger.cancel_on_timeout is False
    assert trigger.cancel_on_kill is True
    assert trigger.serialize()[1]["cancel_on_timeout"] is False


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


# --- Retries without a task state store (Airflow 3.0 to 3.2) ---------------------------------

RUN_START = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)


def _retry_context(mocker: Any, try_number: int = 2) -> dict[str, Any]:
    ti = mocker.Mock(dag_id="d", run_id="r", task_id="sync", map_index=-1, try_number=try_number)
    return {"ti": ti, "dag_run": mocker.Mock(start_date=RUN_START)}


def _job(job_id: str, status: str = "running", **metadata: Any) -> Any:
    from planasonix_provider.api.models import Job

    return Job(id=job_id, status=status, metadata=metadata or None)


def test_a_first_try_neither_searches_nor_warns(mocker: Any) -> None:
    client = mocker.Mock()
    op = sync(reattach_on_retry=True)
    warn = mocker.patch.object(op.log, "warning")
    assert op._reattach_without_store(client, _retry_context(mocker, try_number=1)) is None
    client.list_jobs.assert_not_called()
    warn.assert_not_called()


def test_without_the_option_a_retry_says_it_starts_new_work(mocker: Any) -> None:
    client = mocker.Mock()
    op = sync()
    warn = mocker.patch.object(op.log, "warning")
    assert op._reattach_without_store(client, _retry_context(mocker)) is None
    client.list_jobs.assert_not_called()
    message = warn.call_args.args[0] % warn.call_args.args[1:]
    assert "has no task state store (Airflow 3.3.0+)" in message
    assert "This retry starts a new Planasonix job (reattach_on_retry=False)." in message


def test_the_only_match_is_reattached_and_the_search_is_bounded(mocker: Any) -> None:
    client = mocker.Mock()
    client.list_jobs.return_value = iter([_job("job_1"), _job("job_done", "failed")])
    op = sync(reattach_on_retry=True, pipeline_id="pl_1")
    assert op._reattach_without_store(client, _retry_context(mocker)).id == "job_1"
    client.list_jobs.assert_called_once_with(
        connection_id="conn_1",
        pipeline_id="pl_1",
        type="connection_sync",
        since=RUN_START - timedelta(minutes=1),
    )


@pytest.mark.parametrize(
    "jobs",
    [
        [],
        [_job("job_1"), _job("job_2", "succeeded")],
        [_job("job_1", "cancelling")],
    ],
    ids=["none", "two", "cancelling"],
)
def test_anything_but_exactly_one_match_starts_new_work(mocker: Any, jobs: list[Any]) -> None:
    client = mocker.Mock()
    client.list_jobs.return_value = iter(jobs)
    op = sync(reattach_on_retry=True)
    warn = mocker.patch.object(op.log, "warning")
    assert op._reattach_without_store(client, _retry_context(mocker)) is None
    message = warn.call_args.args[0] % warn.call_args.args[1:]
    assert "not exactly one: starting a new job" in message


@pytest.mark.parametrize("status", ["provisioning", "succeeded"])
def test_a_job_in_a_status_not_in_the_reference_is_reattached_not_started_twice(
    mocker: Any, status: str
) -> None:
    client = mocker.Mock()
    client.list_jobs.return_value = iter([_job("job_1", status), _job("job_old", "cancelled")])
    op = sync(reattach_on_retry=True)
    assert op._reattach_without_store(client, _retry_context(mocker)).id == "job_1"


def test_echoed_metadata_of_another_task_rules_a_job_out(mocker: Any) -> None:
    client = mocker.Mock()
    client.list_jobs.return_value = iter(
        [
            _job("job_other", airflow_dag_id="d", airflow_run_id="r", airflow_task_id="other"),
            _job("job_mine", airflow_dag_id="d", airflow_run_id="r", airflow_task_id="sync"),
        ]
    )
    op = sync(reattach_on_retry=True)
    assert op._reattach_without_store(client, _retry_context(mocker)).id == "job_mine"


def test_a_backfill_retry_matches_its_own_window_only(mocker: Any) -> None:
    from planasonix_provider.api.models import Backfill

    window = {"start_at": "2025-01-01T00:00:00Z", "end_at": "2025-02-01T00:00:00Z"}
    other = {"start_at": "2025-02-01T00:00:00Z", "end_at": "2025-03-01T00:00:00Z"}
    client = mocker.Mock()
    client.list_backfills.return_value = iter(
        [
            Backfill(id="bf_mine", status="running", **window),
            Backfill(id="bf_other", status="running", **other),
            Backfill(id="bf_mine_failed", status="failed", **window),
            Backfill(id="bf_mine_cancelling", status="cancelling", **window),
        ]
    )
    op = PlanasonixBackfillOperator(
        task_id="backfill", connection_id="conn_1", reattach_on_retry=True, **window
    )
    assert op._reattach_without_store(client, _retry_context(mocker)).id == "bf_mine"
    client.list_backfills.assert_called_once_with(connection_id="conn_1")


def test_a_backfill_in_a_status_not_in_the_reference_is_reattached(mocker: Any) -> None:
    from planasonix_provider.api.models import Backfill

    window = {"start_at": "2025-01-01T00:00:00Z", "end_at": "2025-02-01T00:00:00Z"}
    client = mocker.Mock()
    client.list_backfills.return_value = iter(
        [Backfill(id="bf_sharding", status="sharding", **window)]
    )
    op = PlanasonixBackfillOperator(
        task_id="backfill", connection_id="conn_1", reattach_on_retry=True, **window
    )
    assert op._reattach_without_store(client, _retry_context(mocker)).id == "bf_sharding"
