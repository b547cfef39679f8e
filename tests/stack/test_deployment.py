"""The provider in a real Airflow 3 deployment (api-server, scheduler, dag-processor and
triggerer as separate processes, LocalExecutor), proved through Airflow's REST API against the
sandbox started with ``planasonix-sandbox``."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from planasonix_provider.airflow_lines import AIRFLOW_VERSION
from planasonix_provider.api import PlanasonixClient
from tests.form_expectations import assert_planasonix_form
from tests.lines import lacks, needs
from tests.stack.conftest import TRIGGERER_HEALTH_THRESHOLD, Stack, wait_until

pytestmark = [pytest.mark.stack, pytest.mark.timeout(600)]

EXAMPLE_CONNECTION = "conn_01jq8k2m3n4p5q6r7s8t9u0v1"
FAILURE_MESSAGE = "Snowflake warehouse PLANASONIX_WH_7F3A refused the load: quota exceeded"


def jobs_of(stack: Stack, connection_id: str) -> list[dict[str, Any]]:
    with PlanasonixClient(stack.sandbox_url, stack.api_key) as api:
        return [job.model_dump(mode="json") for job in api.list_jobs(connection_id=connection_id)]


def only_job(stack: Stack, connection_id: str) -> dict[str, Any]:
    jobs = jobs_of(stack, connection_id)
    assert len(jobs) == 1, [job["id"] for job in jobs]
    return jobs[0]


def wait_deferred_in_triggerer(stack: Stack, dag_id: str, run_id: str) -> dict[str, Any]:
    """The task deferred and its trigger picked up by a triggerer (``triggerer_job`` is set)."""

    def held() -> dict[str, Any] | None:
        ti = stack.api.task_instance(dag_id, run_id, "sync")
        assert ti["state"] not in ("success", "failed"), ti
        return ti if ti["state"] == "deferred" and ti.get("triggerer_job") else None

    return dict(wait_until(f"{dag_id} deferred in a triggerer", held, 120, 0.3))


def test_example_sync_dag_succeeds_through_the_triggerer(stack: Stack) -> None:
    """1. The shipped example DAG: deferred while the job runs, success at the end."""
    stack.control.set_scenario(EXAMPLE_CONNECTION, duration=6, rows=250)
    run_id = stack.api.trigger("planasonix_sync")
    seen: list[str] = []
    ti = stack.api.wait_task(
        "planasonix_sync", run_id, "sync_orders", {"success", "failed"}, seen=seen
    )
    assert ti["state"] == "success", stack.diagnostics()
    assert "deferred" in seen, seen
    assert stack.api.wait_run("planasonix_sync", run_id) == "success"
    report = stack.api.task_instance("planasonix_sync", run_id, "report")
    assert report["state"] == "success"
    assert stack.control.jobs_started(metadata_key="airflow_run_id", metadata_value=run_id) == 1
    job = only_job(stack, EXAMPLE_CONNECTION)
    assert job["status"] == "succeeded"
    assert job["metadata"]["airflow_dag_id"] == "planasonix_sync"
    # The downstream task printed what the sync loaded.
    log = stack.api.log_text("planasonix_sync", run_id, "report", report["try_number"])
    assert f"Planasonix job {job['id']} succeeded" in log
    # The trigger's own lines (one logger shared by all its instances) reach the task's log: its
    # status changes are DEBUG lines, and the stack's triggerer logs at DEBUG. Airflow 3.0.2
    # writes no DEBUG line of a trigger to the task log even then (docs/trigger.md).
    sync_log = stack.api.log_text("planasonix_sync", run_id, "sync_orders", ti["try_number"])
    trigger_events = [
        json.loads(line)["event"]
        for line in sync_log.splitlines()
        if '"logger": "planasonix_provider.triggers.planasonix.PlanasonixJobTrigger"' in line
    ]
    if AIRFLOW_VERSION >= (3, 3, 0):
        assert f"Planasonix job {job['id']} is running" in trigger_events, sync_log[-3000:]
    else:
        assert trigger_events == [], trigger_events


def test_failed_job_fails_the_task_with_the_planasonix_error_in_its_log(stack: Stack) -> None:
    """2. A job that fails in Planasonix fails the task; the log says why."""
    conn = "conn_stack_failed"
    stack.control.set_scenario(
        conn,
        duration=2,
        outcome="fail",
        error_code="warehouse_quota_exceeded",
        error_message=FAILURE_MESSAGE,
    )
    run_id = stack.api.trigger("stack_failed")
    ti = stack.api.wait_task("stack_failed", run_id, "sync", {"success", "failed"})
    assert ti["state"] == "failed"
    assert stack.api.wait_run("stack_failed", run_id) == "failed"
    job = only_job(stack, conn)
    assert job["status"] == "failed"
    log = stack.api.log_text("stack_failed", run_id, "sync", ti["try_number"])
    assert FAILURE_MESSAGE in log, log[-3000:]
    assert "warehouse_quota_exceeded" in log
    assert job["id"] in log


@needs("trigger on_kill")
def test_marking_a_deferred_task_failed_cancels_the_job(stack: Stack) -> None:
    """3. A user marks the deferred task failed: the trigger's on_kill cancels the job."""
    conn = "conn_stack_mark_failed"
    stack.control.set_scenario(conn, duration=120)
    run_id = stack.api.trigger("stack_mark_failed")
    wait_deferred_in_triggerer(stack, "stack_mark_failed", run_id)
    job = only_job(stack, conn)
    assert job["status"] in ("queued", "running")
    path = f"/api/v2/dags/stack_mark_failed/dagRuns/{run_id}/taskInstances/sync"
    stack.api.json("PATCH", path, json={"new_state": "failed"})
    status = wait_until(
        "the Planasonix job to be cancelled",
        lambda: (s := only_job(stack, conn)["status"]) in ("cancelling", "cancelled") and s,
        60,
        on_fail=stack.diagnostics(),
    )
    assert status in ("cancelling", "cancelled")
    assert stack.api.task_instance("stack_mark_failed", run_id, "sync")["state"] == "failed"
    assert stack.control.jobs_started(connection_id=conn) == 1


@lacks("trigger on_kill")
def test_without_trigger_on_kill_marking_failed_leaves_the_job_and_says_so(stack: Stack) -> None:
    """3b. The documented fallback: the trigger is never told, so the job runs on; the task's log
    said so when it deferred."""
    conn = "conn_stack_mark_failed"
    stack.control.set_scenario(conn, duration=120)
    run_id = stack.api.trigger("stack_mark_failed")
    ti = wait_deferred_in_triggerer(stack, "stack_mark_failed", run_id)
    path = f"/api/v2/dags/stack_mark_failed/dagRuns/{run_id}/taskInstances/sync"
    stack.api.json("PATCH", path, json={"new_state": "failed"})
    time.sleep(5)  # as long as the 3.3 test gives the cancel to arrive
    job = only_job(stack, conn)
    assert job["status"] in ("queued", "running"), job
    assert stack.api.task_instance("stack_mark_failed", run_id, "sync")["state"] == "failed"
    log = stack.api.log_text("stack_mark_failed", run_id, "sync", ti["try_number"])
    assert "has no trigger on_kill (Airflow 3.3.0+)" in log, log[-3000:]
    with PlanasonixClient(stack.sandbox_url, stack.api_key) as api:
        api.cancel_job(job["id"])


def test_task_survives_a_killed_and_restarted_triggerer(stack: Stack) -> None:
    """4. SIGKILL the triggerer holding the trigger, start a new one: one job, success."""
    conn = "conn_stack_triggerer_restart"
    stack.control.set_scenario(conn, duration=25)
    run_id = stack.api.trigger("stack_triggerer_restart")
    ti = wait_deferred_in_triggerer(stack, "stack_triggerer_restart", run_id)
    holder = stack.triggerer_of(ti["triggerer_job"]["id"])
    holder.kill_group(signal.SIGKILL)
    holder.popen.wait(30)
    replacement = stack.start_triggerer(f"{holder.name}-restarted")
    ti = stack.api.wait_task(
        "stack_triggerer_restart", run_id, "sync", {"success", "failed"}, timeout=180
    )
    assert ti["state"] == "success", stack.diagnostics()
    assert replacement.alive()
    assert stack.control.jobs_started(connection_id=conn) == 1
    job = only_job(stack, conn)
    assert job["status"] == "succeeded"
    assert job["metadata"]["airflow_try_number"] == 1


@needs("task state store")
def test_retry_reattaches_to_the_job_of_the_first_try(stack: Stack) -> None:
    """5. The first try starts the job and then fails (its first poll gets a 403, which is not
    retried); Airflow retries the task, and the retry waits on the same job."""
    conn = "conn_stack_retry"
    stack.control.clear_faults()
    stack.control.set_scenario(conn, duration=4)
    stack.control.add_fault(method="GET", path="/api/v1/jobs/*", status=403, count=1)
    try:
        run_id = stack.api.trigger("stack_retry")
        ti = stack.api.wait_task("stack_retry", run_id, "sync", {"success", "failed"})
    finally:
        stack.control.clear_faults()
    assert ti["state"] == "success", stack.diagnostics()
    assert ti["try_number"] == 2
    assert stack.control.jobs_started(connection_id=conn) == 1
    job = only_job(stack, conn)
    assert job["status"] == "succeeded"
    first = stack.api.log_text("stack_retry", run_id, "sync", 1)
    assert "403" in first, first[-3000:]
    second = stack.api.log_text("stack_retry", run_id, "sync", 2)
    assert f"Reattaching to Planasonix job {job['id']}" in second, second[-3000:]


def test_second_triggerer_takes_over_from_a_dead_one(stack: Stack) -> None:
    """6. Two triggerers; SIGKILL the one that holds the trigger; the other takes it over."""
    conn = "conn_stack_two_triggerers"
    stack.start_triggerer("triggerer-b")
    stack.control.set_scenario(conn, duration=45)
    run_id = stack.api.trigger("stack_two_triggerers")
    ti = wait_deferred_in_triggerer(stack, "stack_two_triggerers", run_id)
    holder = stack.triggerer_of(ti["triggerer_job"]["id"])
    survivors = [
        p for p in stack.procs.values() if p.job_id is not None and p.alive() and p is not holder
    ]
    assert survivors, "no second triggerer alive"
    killed_at = time.monotonic()
    holder.kill_group(signal.SIGKILL)
    holder.popen.wait(30)

    def taken_over() -> int | None:
        current = stack.api.task_instance("stack_two_triggerers", run_id, "sync")
        assert current["state"] == "deferred", current["state"]
        job = current.get("triggerer_job") or {}
        return job.get("id") if job.get("id") != holder.job_id else None

    new_holder = wait_until(
        "another triggerer to take the trigger over",
        taken_over,
        TRIGGERER_HEALTH_THRESHOLD + 60,
        on_fail=stack.diagnostics(),
    )
    assert new_holder in {p.job_id for p in survivors}
    takeover_seconds = time.monotonic() - killed_at
    assert only_job(stack, conn)["status"] in ("queued", "running"), takeover_seconds
    ti = stack.api.wait_task("stack_two_triggerers", run_id, "sync", {"success", "failed"})
    assert ti["state"] == "success", stack.diagnostics()
    assert stack.control.jobs_started(connection_id=conn) == 1
    assert only_job(stack, conn)["status"] == "succeeded"


def test_the_api_key_leaks_nowhere(stack: Stack) -> None:
    """7. Last: no file under AIRFLOW_HOME (database, config, task and trigger logs), no output
    of an Airflow process and no REST response body collected in this session holds the key."""
    key = stack.api_key.encode()
    scanned = 0
    leaks = []
    airflow_logs = [p.log for p in stack.procs.values() if p.name != "sandbox"]
    for root, _dirs, files in os.walk(stack.home):
        for name in files:
            path = Path(root) / name
            scanned += 1
            if key in path.read_bytes():
                leaks.append(str(path))
    for path in airflow_logs:
        scanned += 1
        if key in path.read_bytes():
            leaks.append(str(path))
    assert scanned > 10
    assert not leaks, leaks
    assert len(stack.api.bodies) > 20
    assert not [body[:200] for body in stack.api.bodies if stack.api_key in body]
    # The check itself works: the key is the one the deployment really used, and the scan finds
    # it where it is meant to be (the sandbox's console command prints it).
    assert stack.control.jobs_started() >= 5
    assert key in stack.procs["sandbox"].log.read_bytes()


def test_hook_meta_declares_the_planasonix_form(stack: Stack) -> None:
    assert_planasonix_form(stack.api.json("GET", "/ui/connections/hook_meta"))
