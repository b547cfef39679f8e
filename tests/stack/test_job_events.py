"""Event-driven scheduling in a real Airflow deployment: jobs started straight on the sandbox,
not from Airflow, become asset events through ``PlanasonixJobEventTrigger`` in the triggerer and
run the consumer DAG (``tests/stack/dags/planasonix_stack_events.py``); a triggerer restart
between jobs loses none and repeats none; twenty watchers cost one listing per interval."""

from __future__ import annotations

import time
from typing import Any

import pytest

from planasonix_provider.airflow_lines import AIRFLOW_VERSION_STRING, has
from planasonix_provider.api import PlanasonixClient
from tests.stack.conftest import Stack, wait_until

pytestmark = [
    pytest.mark.stack,
    pytest.mark.timeout(600),
    pytest.mark.skipif(
        not (has("asset state store") and has("shared streams")),
        reason=f"the asset state store and shared streams need Airflow 3.3+, not "
        f"{AIRFLOW_VERSION_STRING}",
    ),
]

CONNECTION = "conn_stack_events"
CONSUMER = "stack_events_consumer"
ASSET = "stack_events_synced"
POLL = 5.0
LIST = "GET /api/v1/jobs"


def list_requests(stack: Stack) -> int:
    return int(stack.control.counters()["requests"].get(LIST, 0))


def start_job(stack: Stack) -> str:
    """A sync started the way Planasonix's own schedule would: straight on the API."""
    with PlanasonixClient(stack.sandbox_url, stack.api_key) as api:
        return api.trigger_sync(CONNECTION).id


def wait_job_succeeded(stack: Stack, job_id: str) -> None:
    wait_until(
        f"job {job_id} to succeed",
        lambda: stack.control.get_internal_job(job_id)["status"] == "succeeded",
        30,
    )


def wait_watching(stack: Stack) -> None:
    """Two more listings than now: a watcher is running and past its first poll."""
    before = list_requests(stack)
    wait_until(
        "the watcher to poll",
        lambda: list_requests(stack) >= before + 2,
        120,
        1.0,
        on_fail=stack.diagnostics(),
    )


def fired_job_ids(stack: Stack) -> list[str]:
    """The job of every asset event of the watched asset, oldest first."""
    assets = stack.api.json("GET", "/api/v2/assets", params={"name_pattern": ASSET})["assets"]
    (asset,) = [a for a in assets if a["name"] == ASSET]
    events = stack.api.json(
        "GET", "/api/v2/assets/events", params={"asset_id": asset["id"], "limit": 100}
    )["asset_events"]
    assert all(event["extra"]["from_trigger"] is True for event in events)
    return [event["extra"]["payload"]["job_id"] for event in events]


def consumer_runs(stack: Stack) -> list[dict[str, Any]]:
    runs = stack.api.json("GET", f"/api/v2/dags/{CONSUMER}/dagRuns")["dag_runs"]
    return [run for run in runs if run["run_type"] == "asset_triggered"]


def triggering_job_ids(stack: Stack, run_id: str) -> list[str]:
    path = f"/api/v2/dags/{CONSUMER}/dagRuns/{run_id}/upstreamAssetEvents"
    events = stack.api.json("GET", path)["asset_events"]
    return [event["extra"]["payload"]["job_id"] for event in events]


def xcom_job_ids(stack: Stack, run_id: str) -> list[str]:
    path = (
        f"/api/v2/dags/{CONSUMER}/dagRuns/{run_id}/taskInstances/job_ids/xcomEntries/return_value"
    )
    value = stack.api.json("GET", path)["value"]
    return list(value)


def restart_triggerers(stack: Stack, while_down: Any) -> None:
    """Stop every running triggerer (SIGTERM), call ``while_down``, start a fresh one."""
    for proc in [p for p in stack.procs.values() if p.job_id is not None and p.alive()]:
        proc.stop()
    while_down()
    stack.start_triggerer(f"triggerer-events-{int(time.monotonic())}")


def test_jobs_started_outside_airflow_run_the_consumer_once_each(stack: Stack) -> None:
    stack.control.set_scenario(CONNECTION, duration=1)
    wait_watching(stack)
    first = start_job(stack)
    wait_until(
        "the first job's event",
        lambda: first in fired_job_ids(stack),
        90,
        1.0,
        on_fail=stack.diagnostics(),
    )

    during: list[str] = []

    def start_and_finish_a_job() -> None:
        during.append(start_job(stack))
        wait_job_succeeded(stack, during[0])

    restart_triggerers(stack, start_and_finish_a_job)
    wait_until(
        "the event of the job that ended while down",
        lambda: during[0] in fired_job_ids(stack),
        120,
        1.0,
        on_fail=stack.diagnostics(),
    )
    third = start_job(stack)
    expected = sorted([first, during[0], third])
    wait_until(
        "the third job's event",
        lambda: third in fired_job_ids(stack),
        90,
        1.0,
        on_fail=stack.diagnostics(),
    )

    def all_consumed() -> list[dict[str, Any]] | None:
        runs = consumer_runs(stack)
        done = [r for r in runs if r["state"] in ("success", "failed")]
        named = sorted(j for r in done for j in triggering_job_ids(stack, r["dag_run_id"]))
        return done if named == expected and len(done) == len(runs) else None

    runs = wait_until("the consumer runs", all_consumed, 120, 1.0, on_fail=stack.diagnostics())
    # Several polls later, still one event per job: nothing fired twice, nothing was lost.
    wait_watching(stack)
    assert sorted(fired_job_ids(stack)) == expected
    assert all(run["state"] == "success" for run in runs), runs
    # The task saw its triggering_asset_events: together the runs name the three jobs once each
    # (Airflow may put several events into one run).
    from_tasks = sorted(j for run in runs for j in xcom_job_ids(stack, run["dag_run_id"]))
    assert from_tasks == expected


def test_twenty_watchers_of_one_connection_cost_one_listing_per_interval(stack: Stack) -> None:
    wait_watching(stack)
    start, began = list_requests(stack), time.monotonic()
    time.sleep(6 * POLL)
    made, intervals = list_requests(stack) - start, (time.monotonic() - began) / POLL
    # Unshared, twenty watchers would list twenty times an interval (120 here).
    assert intervals * 0.7 <= made <= intervals * 1.3 + 1, (made, intervals)
