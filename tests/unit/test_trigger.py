"""PlanasonixJobTrigger: the serialize round trip and every way its one event can come out.

The real paths run against the sandbox over TCP; the unknown status path, which the sandbox
cannot produce, patches the fetch.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

try:
    from airflow.sdk.module_loading import import_string
except ImportError:  # Airflow 3.0 and 3.1, where the triggerer imports it from here
    from airflow.utils.module_loading import import_string

from planasonix_provider.api import AsyncPlanasonixClient, PlanasonixClient
from planasonix_provider.api.models import Job
from planasonix_provider.sandbox.testing import SandboxHandle
from planasonix_provider.triggers.planasonix import PlanasonixJobTrigger
from planasonix_provider.wait import WaitOutcome
from tests.lines import needs

CONN = "conn_trigger_tests"


@pytest.fixture(params=["aiohttp", "httpx"])
def sandbox(
    planasonix_sandbox: SandboxHandle,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> SandboxHandle:
    """The sandbox as the default connection, the async client on each HTTP library in turn."""
    conn = json.loads(planasonix_sandbox.airflow_conn_json)
    conn["extra"] = {"retry_attempts": 2, "retry_max_wait": 0.05, "http_transport": request.param}
    monkeypatch.setenv("AIRFLOW_CONN_PLANASONIX_DEFAULT", json.dumps(conn))
    return planasonix_sandbox


def api(sandbox: SandboxHandle) -> PlanasonixClient:
    return PlanasonixClient(sandbox.base_url, sandbox.api_key)


async def events_of(trigger: PlanasonixJobTrigger, timeout: float = 30) -> list[dict[str, Any]]:
    async def collect() -> list[dict[str, Any]]:
        return [event.payload async for event in trigger.run()]

    return await asyncio.wait_for(collect(), timeout)


def start_job(sandbox: SandboxHandle, **scenario: Any) -> str:
    sandbox.control.set_scenario(CONN, **scenario)
    with api(sandbox) as client:
        return client.trigger_sync(CONN).id


def test_serialize_mirrors_init_and_is_json() -> None:
    trigger = PlanasonixJobTrigger(
        "bf_1",
        kind="backfill",
        planasonix_conn_id="pnx",
        poll_interval=3,
        deadline=1_900_000_000.5,
        cancel_on_timeout=False,
        cancel_on_kill=False,
    )
    path, kwargs = trigger.serialize()
    assert json.loads(json.dumps(kwargs)) == kwargs
    rebuilt = import_string(path)(**kwargs)
    assert rebuilt.serialize() == (path, kwargs)
    assert kwargs == {
        "resource_id": "bf_1",
        "kind": "backfill",
        "planasonix_conn_id": "pnx",
        "poll_interval": 3.0,
        "deadline": 1_900_000_000.5,
        "cancel_on_timeout": False,
        "cancel_on_kill": False,
    }


def test_serialize_leaves_out_the_defaults_and_they_never_change() -> None:
    """Rows in users' databases omit these keys: a changed default would change their meaning."""
    import inspect

    from planasonix_provider.triggers.planasonix import SERIALIZED_DEFAULTS

    assert SERIALIZED_DEFAULTS == {
        "kind": "job",
        "planasonix_conn_id": "planasonix_default",
        "poll_interval": 10.0,
        "deadline": None,
        "cancel_on_timeout": True,
        "cancel_on_kill": True,
    }
    parameters = inspect.signature(PlanasonixJobTrigger).parameters
    assert {name: parameters[name].default for name in SERIALIZED_DEFAULTS} == SERIALIZED_DEFAULTS
    path, kwargs = PlanasonixJobTrigger("job_1").serialize()
    assert kwargs == {"resource_id": "job_1"}
    rebuilt = import_string(path)(**kwargs)
    assert {name: getattr(rebuilt, name) for name in SERIALIZED_DEFAULTS} == SERIALIZED_DEFAULTS
    _, kwargs = PlanasonixJobTrigger("job_1", poll_interval=30, cancel_on_kill=False).serialize()
    assert kwargs == {"resource_id": "job_1", "poll_interval": 30.0, "cancel_on_kill": False}


#: Exactly what version 0.1.0 serialized into the trigger table for a backfill wait whose
#: deadline was not to cancel: such rows are still in users' metadata databases after an upgrade.
SERIALIZED_BY_0_1_0 = (
    "planasonix_provider.triggers.planasonix.PlanasonixJobTrigger",
    {
        "resource_id": "bf_1",
        "kind": "backfill",
        "planasonix_conn_id": "pnx",
        "poll_interval": 3.0,
        "deadline": 1_900_000_000.5,
        "cancel_on_deadline": False,
        "cancel_on_kill": True,
    },
)


@pytest.mark.parametrize("cancel", [True, False])
def test_a_trigger_serialized_by_0_1_0_resumes(cancel: bool) -> None:
    path, old_kwargs = SERIALIZED_BY_0_1_0
    trigger = import_string(path)(**{**old_kwargs, "cancel_on_deadline": cancel})
    assert (trigger.resource_id, trigger.kind, trigger.planasonix_conn_id) == (
        "bf_1",
        "backfill",
        "pnx",
    )
    assert (trigger.poll_interval, trigger.deadline) == (3.0, 1_900_000_000.5)
    assert (trigger.cancel_on_timeout, trigger.cancel_on_kill) == (cancel, True)
    # Serialized again in this version's words, which rebuild the same trigger.
    new_path, kwargs = trigger.serialize()
    assert new_path == path
    assert "cancel_on_deadline" not in kwargs
    rebuilt = import_string(new_path)(**kwargs)
    assert rebuilt.cancel_on_timeout is cancel
    assert rebuilt.serialize() == (path, kwargs)


async def test_a_trigger_serialized_by_0_1_0_runs_to_its_event(sandbox: SandboxHandle) -> None:
    job_id = start_job(sandbox, duration=300)
    path, old_kwargs = SERIALIZED_BY_0_1_0
    old_kwargs = {
        **old_kwargs,
        "resource_id": job_id,
        "kind": "job",
        "planasonix_conn_id": "planasonix_default",
        "poll_interval": 0.05,
        "deadline": time.time() + 0.3,
    }
    (event,) = await events_of(import_string(path)(**old_kwargs))
    assert event["status"] == "timeout"
    assert event["message"].endswith(
        "did not finish before the task's timeout; it was left running"
    )
    with api(sandbox) as client:
        assert client.get_job(job_id).status in ("queued", "running")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"kind": "pipeline"}, "kind must be one of"), ({"poll_interval": 0}, "poll_interval")],
)
def test_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PlanasonixJobTrigger("job_1", **kwargs)


@pytest.mark.parametrize(
    ("scenario", "status", "job_status", "message"),
    [
        ({"duration": 1}, "success", "succeeded", "succeeded"),
        (
            {"duration": 1, "outcome": "fail", "error_code": "E42", "error_message": "disk full"},
            "failed",
            "failed",
            "failed: E42: disk full",
        ),
        ({"duration": 1, "outcome": "cancel"}, "cancelled", "cancelled", "cancelled in Planasonix"),
    ],
)
async def test_terminal_outcomes(
    sandbox: SandboxHandle, scenario: dict, status: str, job_status: str, message: str
) -> None:
    job_id = start_job(sandbox, **scenario)
    events = await events_of(PlanasonixJobTrigger(job_id, poll_interval=0.05))
    assert len(events) == 1
    outcome = WaitOutcome.from_event(events[0])
    assert (outcome.status, outcome.resource_id) == (status, job_id)
    assert outcome.resource is None  # the event stays small; the worker reads the job again
    assert message in outcome.message
    with api(sandbox) as client:
        assert client.get_job(job_id).status == job_status


async def test_deadline_cancels_the_job(sandbox: SandboxHandle) -> None:
    job_id = start_job(sandbox, duration=300)
    started = time.monotonic()
    events = await events_of(
        PlanasonixJobTrigger(job_id, poll_interval=0.05, deadline=time.time() + 0.5)
    )
    assert time.monotonic() - started < 5
    (event,) = events
    assert event["status"] == "timeout"
    assert "was cancelled" in event["message"]
    assert event["resource_id"] == job_id
    assert "resource" not in event  # the worker reads it again where it needs it
    with api(sandbox) as client:
        assert client.get_job(job_id).status in ("cancelling", "cancelled")


async def test_deadline_without_cancel_leaves_the_job(sandbox: SandboxHandle) -> None:
    job_id = start_job(sandbox, duration=300)
    trigger = PlanasonixJobTrigger(
        job_id, poll_interval=0.05, deadline=time.time() + 0.3, cancel_on_timeout=False
    )
    (event,) = await events_of(trigger)
    assert event["status"] == "timeout"
    assert "left running" in event["message"]
    with api(sandbox) as client:
        assert client.get_job(job_id).status in ("queued", "running")


async def test_a_deadline_already_past_still_cancels(sandbox: SandboxHandle) -> None:
    """After a long triggerer outage the absolute deadline may lie in the past at restart."""
    job_id = start_job(sandbox, duration=300)
    (event,) = await events_of(PlanasonixJobTrigger(job_id, deadline=time.time() - 60))
    assert event["status"] == "timeout"
    with api(sandbox) as client:
        assert client.get_job(job_id).status in ("cancelling", "cancelled")


async def test_unknown_job_is_an_error_event(sandbox: SandboxHandle) -> None:
    (event,) = await events_of(PlanasonixJobTrigger("job_does_not_exist", poll_interval=0.05))
    assert event["status"] == "error"
    assert "HTTP 404" in event["message"]


async def test_bad_connection_is_an_error_event(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_PNX_NOKEY", json.dumps({"conn_type": "planasonix"}))
    (event,) = await events_of(PlanasonixJobTrigger("job_1", planasonix_conn_id="pnx_nokey"))
    assert event["status"] == "error"
    assert "'pnx_nokey'" in event["message"]
    assert "API key" in event["message"]


async def test_transient_failures_are_ridden_out(sandbox: SandboxHandle) -> None:
    job_id = start_job(sandbox, duration=1)
    # Three failed polls in a row (each one already retried by the client) are not yet fatal.
    sandbox.control.add_fault(method="GET", path=f"/api/v1/jobs/{job_id}", status=503, count=6)
    (event,) = await events_of(PlanasonixJobTrigger(job_id, poll_interval=0.05))
    assert event["status"] == "success"


async def test_persistent_transient_failures_end_in_an_error(sandbox: SandboxHandle) -> None:
    job_id = start_job(sandbox, duration=60)
    sandbox.control.add_fault(method="GET", path=f"/api/v1/jobs/{job_id}", status=503)
    (event,) = await events_of(PlanasonixJobTrigger(job_id, poll_interval=0.05))
    assert event["status"] == "error"
    assert "gave up after 5 failed polls" in event["message"]


async def test_backfill_kind(sandbox: SandboxHandle) -> None:
    sandbox.control.set_scenario(CONN, duration=0.5)
    from datetime import datetime, timezone

    with api(sandbox) as client:
        backfill = client.trigger_backfill(
            CONN,
            start_at=datetime(2025, 1, 1, tzinfo=timezone.utc),
            end_at=datetime(2025, 2, 15, tzinfo=timezone.utc),
        )
    (event,) = await events_of(
        PlanasonixJobTrigger(backfill.id, kind="backfill", poll_interval=0.05)
    )
    assert event["status"] == "success"
    assert event["kind"] == "backfill"
    assert event == {"status": "success", "kind": "backfill", "resource_id": backfill.id}
    message = WaitOutcome.from_event(event).message
    assert message == f"Planasonix backfill {backfill.id} completed"


async def test_on_kill_cancels_the_job(sandbox: SandboxHandle) -> None:
    job_id = start_job(sandbox, duration=300)
    await PlanasonixJobTrigger(job_id).on_kill()
    with api(sandbox) as client:
        assert client.get_job(job_id).status in ("cancelling", "cancelled")


async def test_on_kill_respects_cancel_on_kill_false(sandbox: SandboxHandle) -> None:
    job_id = start_job(sandbox, duration=300)
    await PlanasonixJobTrigger(job_id, cancel_on_kill=False).on_kill()
    with api(sandbox) as client:
        assert client.get_job(job_id).status in ("queued", "running")


async def test_unknown_status_keeps_waiting_logged_once(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_PLANASONIX_DEFAULT",
        json.dumps({"conn_type": "planasonix", "host": "http://127.0.0.1:9", "password": "k"}),
    )
    polls = 0

    async def fake_send(self: Any, operation: Any) -> Job:
        nonlocal polls
        polls += 1
        return Job(id="job_1", status="paused_for_maintenance")

    async def fake_cancel(client: Any, kind: str, resource_id: str) -> list[str]:
        return [resource_id]

    monkeypatch.setattr(AsyncPlanasonixClient, "send", fake_send)
    monkeypatch.setattr("planasonix_provider.wait.acancel", fake_cancel)
    trigger = PlanasonixJobTrigger("job_1", poll_interval=0.02, deadline=time.time() + 0.4)
    (event,) = await events_of(trigger)
    assert event["status"] == "timeout"
    assert polls > 3
    assert capsys.readouterr().out.count("'paused_for_maintenance', unknown to this provider") == 1


async def test_known_statuses_are_debug_lines_in_the_triggerer(
    monkeypatch: pytest.MonkeyPatch, mocker: Any
) -> None:
    """Every line of every trigger crosses the triggerer's supervisor (docs/scale.md): a status
    change is DEBUG there; an unknown status stays a warning."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_PLANASONIX_DEFAULT",
        json.dumps({"conn_type": "planasonix", "host": "http://127.0.0.1:9", "password": "k"}),
    )
    statuses = iter(["queued", "running", "running", "paused_for_maintenance", "succeeded"])

    async def fake_send(self: Any, operation: Any) -> Job:
        return Job(id="job_1", status=next(statuses))

    monkeypatch.setattr(AsyncPlanasonixClient, "send", fake_send)
    logger = mocker.Mock()
    monkeypatch.setattr(PlanasonixJobTrigger, "log", property(lambda self: logger))
    (event,) = await events_of(PlanasonixJobTrigger("job_1", poll_interval=0.01))
    assert event["status"] == "success"
    debug_lines = [call.args[1:] for call in logger.debug.call_args_list]
    assert debug_lines == [
        ("Planasonix job job_1", "queued"),
        ("Planasonix job job_1", "running"),
    ]
    logger.info.assert_not_called()
    assert "unknown to this provider" in logger.warning.call_args.args[0]


async def test_many_triggers_share_one_client(sandbox: SandboxHandle) -> None:
    job_ids = [start_job(sandbox, duration=0.5) for _ in range(20)]
    results = await asyncio.gather(
        *(events_of(PlanasonixJobTrigger(j, poll_interval=0.05)) for j in job_ids)
    )
    assert [r[0]["status"] for r in results] == ["success"] * 20
    from planasonix_provider.hooks.client_pool import _shared_clients

    # The last trigger out closed the shared client and removed it.
    assert _shared_clients.get(asyncio.get_running_loop(), {}) == {}


def test_one_logger_per_class_named_as_airflow_names_it() -> None:
    first, second = PlanasonixJobTrigger("job_1"), PlanasonixJobTrigger("job_2")
    assert first.log is second.log

    class CustomTrigger(PlanasonixJobTrigger):
        pass

    custom = CustomTrigger("job_3")
    assert custom.log is not first.log
    for trigger in (first, custom):
        cls = type(trigger)
        assert trigger.log.name == f"{cls.__module__}.{cls.__name__}"


def _deferred_task(monkeypatch: pytest.MonkeyPatch, trigger: Any, state: str | None) -> list[Any]:
    """The trigger runs for a task instance, and the supervisor answers its state."""
    from types import SimpleNamespace

    from airflow.sdk.execution_time import task_runner

    asked: list[Any] = []

    class Supervisor:
        async def asend(self, msg: Any) -> Any:
            asked.append(msg)
            return SimpleNamespace(task_states={"run_1": {"sync": state}})

    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", Supervisor(), raising=False)
    trigger._task_instance = SimpleNamespace(
        dag_id="dag_1", run_id="run_1", task_id="sync", map_index=-1
    )
    return asked


@needs("trigger on_kill")
async def test_on_kill_spares_the_job_when_the_trigger_only_moved(
    sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Airflow 3.3 cancels a trigger it hands to another triggerer as it cancels a user's: the
    task is still deferred then, and the job must run on for the new holder."""
    job_id = start_job(sandbox, duration=300)
    trigger = PlanasonixJobTrigger(job_id)
    asked = _deferred_task(monkeypatch, trigger, "deferred")
    await trigger.on_kill()
    assert [(m.dag_id, m.task_ids, m.run_ids) for m in asked] == [("dag_1", ["sync"], ["run_1"])]
    with api(sandbox) as client:
        assert client.get_job(job_id).status in ("queued", "running")


@pytest.mark.parametrize("state", ["failed", "success", None])
async def test_on_kill_cancels_when_the_user_moved_the_task_on(
    sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch, state: str | None
) -> None:
    job_id = start_job(sandbox, duration=300)
    trigger = PlanasonixJobTrigger(job_id)
    _deferred_task(monkeypatch, trigger, state)
    await trigger.on_kill()
    with api(sandbox) as client:
        assert client.get_job(job_id).status in ("cancelling", "cancelled")


def test_the_event_holds_every_field_of_the_outcome_but_the_resource_and_reads_back() -> None:
    """to_event is written field by field: a field added to WaitOutcome must reach the event
    too. The resource stays out (Airflow keeps the event in next_kwargs, docs/scale.md); an
    event of an older trigger that carries it still reads back whole."""
    import dataclasses

    resource = {"id": "job_7", "metrics": {"rows_loaded": 3}}
    outcome = WaitOutcome("failed", "job", "job_7", "it failed", resource)
    event = outcome.to_event()
    assert list(event) == [f.name for f in dataclasses.fields(WaitOutcome) if f.name != "resource"]
    assert WaitOutcome.from_event(json.loads(json.dumps(event))) == dataclasses.replace(
        outcome, resource=None
    )
    assert WaitOutcome.from_event({**event, "resource": resource}) == outcome
