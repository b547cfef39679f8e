"""Transient faults on every operation the operators and the trigger use, over real TCP.

Each cell injects one fault, once, on the exact path of one resource, so that the trigger (in the
event loop) and the operator's worker wait (in a thread) run side by side on two resources of
their own. Every cell checks that the wait still ends as it should, that ``Retry-After`` was
honoured (by elapsed time), that the sandbox really applied the fault, and that the whole retry
stayed within the connection's caps.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from planasonix_provider.api import PlanasonixClient
from planasonix_provider.api.errors import (
    PlanasonixTransportError,
    RequestMayHaveBeenProcessedError,
    ServerError,
)
from planasonix_provider.operators.planasonix import (
    PlanasonixBackfillOperator,
    PlanasonixSyncOperator,
)
from planasonix_provider.sandbox.testing import SandboxHandle
from planasonix_provider.triggers.planasonix import PlanasonixJobTrigger
from planasonix_provider.wait import WaitOutcome
from tests.reliability.conftest import (
    FAST,
    FIGURES,
    POLL,
    RETRY_ATTEMPTS,
    RETRY_MAX_WAIT,
    SLACK,
    TIGHT_CONN,
    TIGHT_MAX_WAIT,
    TIMEOUT,
    Faults,
    fake_context,
    retry_after_date,
    run_trigger,
    wait_until,
)

#: name -> (fault fields, the least time the retry must have waited)
FAULTS: dict[str, tuple[dict[str, Any], float]] = {
    "429": ({"status": 429}, 0.0),
    "429-retry-after-seconds": ({"status": 429, "retry_after": "1"}, 1.0),
    "429-retry-after-date": ({"status": 429, "retry_after": "<date>"}, 0.5),
    "500": ({"status": 500}, 0.0),
    "502": ({"status": 502}, 0.0),
    "503": ({"status": 503}, 0.0),
    "504": ({"status": 504}, 0.0),
    "drop": ({"drop": True}, 0.0),
    "read-timeout": ({"latency": TIMEOUT + 0.6}, TIMEOUT),
    "slow": ({"latency": TIMEOUT * 0.4}, TIMEOUT * 0.4),
}
#: Worst time a cell's one fault may add: a timeout plus the longest wait, and some noise.
CAP = TIMEOUT + RETRY_MAX_WAIT + SLACK


def fault_fields(name: str) -> dict[str, Any]:
    fields = dict(FAULTS[name][0])
    if fields.get("retry_after") == "<date>":
        fields["retry_after"] = retry_after_date(2)
    return fields


def sync_op(**kwargs: Any) -> PlanasonixSyncOperator:
    kwargs.setdefault("connection_id", "unused")
    return PlanasonixSyncOperator(task_id="sync", poll_interval=POLL, **kwargs)


def backfill_op(**kwargs: Any) -> PlanasonixBackfillOperator:
    return PlanasonixBackfillOperator(
        task_id="backfill",
        connection_id="unused",
        start_at="2025-01-01T00:00:00Z",
        end_at="2025-01-10T00:00:00Z",
        poll_interval=POLL,
        **kwargs,
    )


def client_of(sandbox: SandboxHandle) -> PlanasonixClient:
    return PlanasonixClient(sandbox.base_url, sandbox.api_key, timeout=10)


def timed_worker_wait(op: Any, resource_id: str, deadline: float | None) -> tuple[Any, float]:
    started = time.monotonic()
    try:
        return op._wait_on_worker(op.hook.client, resource_id, deadline), (
            time.monotonic() - started
        )
    finally:
        op.hook.client.close()


async def timed_trigger(trigger: PlanasonixJobTrigger) -> tuple[WaitOutcome, float]:
    started = time.monotonic()
    payload = await run_trigger(trigger)
    return WaitOutcome.from_event(payload), time.monotonic() - started


def check_timing(name: str, elapsed: float, base: float) -> None:
    least = FAULTS[name][1]
    assert elapsed >= least - 0.05, f"{name}: waited {elapsed:.2f}s, less than {least}s"
    assert elapsed <= base + CAP, f"{name}: took {elapsed:.2f}s, over the cap {base + CAP:.1f}s"


# --- GET /jobs/{id}: the trigger's poll and the worker's poll ---------------------------------


@pytest.mark.parametrize("name", FAULTS)
async def test_get_job(sandbox: SandboxHandle, faults: Faults, name: str) -> None:
    conn = f"rel_get_job_{name}"
    sandbox.control.set_scenario(conn, **FAST)
    with client_of(sandbox) as api:
        deferred, worker = api.trigger_sync(conn), api.trigger_sync(conn)
    for job in (deferred, worker):
        faults.add(method="GET", path=f"/api/v1/jobs/{job.id}", count=1, **fault_fields(name))
    (trigger_outcome, trigger_elapsed), (worker_outcome, worker_elapsed) = await asyncio.gather(
        timed_trigger(PlanasonixJobTrigger(deferred.id, poll_interval=POLL)),
        asyncio.to_thread(timed_worker_wait, sync_op(), worker.id, None),
    )
    assert trigger_outcome.status == "success", trigger_outcome.message
    assert worker_outcome.status == "success", worker_outcome.message
    assert faults.unused() == []
    check_timing(name, trigger_elapsed, FAST["duration"])
    check_timing(name, worker_elapsed, FAST["duration"])
    assert sandbox.control.jobs_started(connection_id=conn) == 2
    FIGURES.outcome(f"get_job/{name}/deferrable", trigger_outcome.status)
    FIGURES.outcome(f"get_job/{name}/worker", worker_outcome.status)


# --- GET /backfills/{id} ----------------------------------------------------------------------


@pytest.mark.parametrize("name", FAULTS)
async def test_get_backfill(sandbox: SandboxHandle, faults: Faults, name: str) -> None:
    conn = f"rel_get_backfill_{name}"
    sandbox.control.set_scenario(conn, **FAST)
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    with client_of(sandbox) as api:
        deferred, worker = (
            api.trigger_backfill(conn, start_at=start, end_at=start + timedelta(days=9))
            for _ in range(2)
        )
    for backfill in (deferred, worker):
        faults.add(
            method="GET", path=f"/api/v1/backfills/{backfill.id}", count=1, **fault_fields(name)
        )
    (trigger_outcome, trigger_elapsed), (worker_outcome, worker_elapsed) = await asyncio.gather(
        timed_trigger(PlanasonixJobTrigger(deferred.id, kind="backfill", poll_interval=POLL)),
        asyncio.to_thread(timed_worker_wait, backfill_op(), worker.id, None),
    )
    assert trigger_outcome.status == "success", trigger_outcome.message
    assert worker_outcome.status == "success", worker_outcome.message
    assert worker_outcome.resource and worker_outcome.resource["status"] == "completed"
    assert faults.unused() == []
    check_timing(name, trigger_elapsed, FAST["duration"])
    check_timing(name, worker_elapsed, FAST["duration"])
    FIGURES.outcome(f"get_backfill/{name}/deferrable", trigger_outcome.status)
    FIGURES.outcome(f"get_backfill/{name}/worker", worker_outcome.status)


# --- POST /jobs/{id}/cancel: the deadline of either mode cancels the job ----------------------


@pytest.mark.parametrize("name", FAULTS)
async def test_cancel_on_deadline(sandbox: SandboxHandle, faults: Faults, name: str) -> None:
    conn = f"rel_cancel_{name}"
    sandbox.control.set_scenario(conn, duration=60, queued_for=0.05)
    with client_of(sandbox) as api:
        deferred, worker = api.trigger_sync(conn), api.trigger_sync(conn)
    for job in (deferred, worker):
        faults.add(
            method="POST", path=f"/api/v1/jobs/{job.id}/cancel", count=1, **fault_fields(name)
        )
    deadline = time.time() + 0.3
    trigger = PlanasonixJobTrigger(deferred.id, poll_interval=POLL, deadline=deadline)
    (trigger_outcome, trigger_elapsed), (worker_outcome, worker_elapsed) = await asyncio.gather(
        timed_trigger(trigger),
        asyncio.to_thread(timed_worker_wait, sync_op(timeout=0.3), worker.id, deadline),
    )
    for outcome in (trigger_outcome, worker_outcome):
        assert outcome.status == "timeout"
        assert "NOT cancelled" not in outcome.message, outcome.message
        assert f"cancelled ({outcome.resource_id})" in outcome.message
    assert faults.unused() == []
    check_timing(name, trigger_elapsed, 0.3)
    check_timing(name, worker_elapsed, 0.3)
    for job in (deferred, worker):
        status = sandbox.control.get_internal_job(job.id)["status"]
        assert status in ("cancelling", "cancelled")
    FIGURES.outcome(f"cancel/{name}/deferrable", "timeout+cancelled")
    FIGURES.outcome(f"cancel/{name}/worker", "timeout+cancelled")


# --- GET /jobs/{id}/results: read after success in both modes (execute_complete / execute) ---


@pytest.mark.parametrize("name", FAULTS)
def test_get_results(sandbox: SandboxHandle, faults: Faults, name: str) -> None:
    conn = f"rel_results_{name}"
    sandbox.control.set_scenario(conn, **FAST, rows=42, tables=["public.orders"])
    with client_of(sandbox) as api:
        job = api.trigger_sync(conn)
        finished = wait_until(lambda: (j := api.get_job(job.id)).status == "succeeded" and j)
    outcome = WaitOutcome(
        "success", "job", job.id, "done", finished.model_dump(mode="json", exclude_none=True)
    )
    faults.add(method="GET", path=f"/api/v1/jobs/{job.id}/results", count=1, **fault_fields(name))
    op = sync_op()
    started = time.monotonic()
    try:
        summary = op._summarize(op.hook.client, outcome.resource_id, outcome.resource, "http://x")
    finally:
        op.hook.client.close()
    check_timing(name, time.monotonic() - started, 0.0)
    assert summary["tables"][0]["name"] == "public.orders"
    assert summary["tables"][0]["rows_loaded"] == 42
    assert faults.unused() == []
    FIGURES.outcome(f"results/{name}", "success")


# --- POST /connections/{id}/sync: the one POST that starts work -------------------------------

#: Faults after which the server surely did not act: the client retries.
SAFE_TO_RETRY = {"429", "429-retry-after-seconds", "429-retry-after-date", "slow"}


@pytest.mark.parametrize("name", FAULTS)
def test_trigger_sync(sandbox: SandboxHandle, faults: Faults, name: str) -> None:
    conn = f"rel_post_sync_{name}"
    sandbox.control.set_scenario(conn, **FAST)
    path = f"/api/v1/connections/{conn}/sync"
    faults.add(method="POST", path=path, count=1, **fault_fields(name))
    before = sandbox.control.counters()["requests"].get(
        "POST /api/v1/connections/{connection_id}/sync", 0
    )
    op = sync_op(connection_id=conn)
    started = time.monotonic()
    try:
        if name in SAFE_TO_RETRY:
            job = op.start(op.hook.client, fake_context())
            check_timing(name, time.monotonic() - started, 0.0)
            assert job.connection_id == conn
            attempts = 1 if name == "slow" else 2
            FIGURES.outcome(f"trigger_sync/{name}", "started once")
        else:
            with pytest.raises(RequestMayHaveBeenProcessedError) as caught:
                op.start(op.hook.client, fake_context())
            assert "may have started" in str(caught.value)
            assert "not retried" in str(caught.value)
            attempts = 1
            FIGURES.outcome(f"trigger_sync/{name}", "failed clearly")
    finally:
        op.hook.client.close()
    after = sandbox.control.counters()["requests"]["POST /api/v1/connections/{connection_id}/sync"]
    assert after - before == attempts
    assert faults.unused() == []
    # The fault came before the server read the request: a retry would have been the only way
    # to start the job. Give a late request time to land, then check nothing did.
    if name == "read-timeout":
        time.sleep(TIMEOUT)
    expected = 1 if name in SAFE_TO_RETRY else 0
    assert sandbox.control.jobs_started(connection_id=conn) == expected


# --- The caps: persistent faults end within the configured attempts and waits -----------------


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ({"status": 503}, ServerError),
        ({"status": 429, "retry_after": "30"}, Exception),
        ({"drop": True}, PlanasonixTransportError),
    ],
    ids=["503", "429-retry-after-30s", "drop"],
)
def test_retries_stay_within_the_caps(
    sandbox: SandboxHandle, faults: Faults, fault: dict[str, Any], error: type[Exception]
) -> None:
    from planasonix_provider.hooks.planasonix import PlanasonixHook

    conn = "rel_caps"
    sandbox.control.set_scenario(conn, **FAST)
    hook = PlanasonixHook(TIGHT_CONN)
    job = hook.client.trigger_sync(conn)
    faults.add(method="GET", path=f"/api/v1/jobs/{job.id}", **fault)
    started = time.monotonic()
    with pytest.raises(error) as caught:
        hook.client.get_job(job.id)
    elapsed = time.monotonic() - started
    hook.client.close()
    # A Retry-After of 30 s is cut to the connection's 0.2 s cap.
    assert elapsed <= (RETRY_ATTEMPTS - 1) * TIGHT_MAX_WAIT + SLACK / 2
    assert sum(faults.hits().values()) == RETRY_ATTEMPTS
    assert "Planasonix get_job" in str(caught.value)
    FIGURES.outcome(f"caps/{next(iter(fault))}", "gave up within cap")


async def test_trigger_gives_up_on_a_persistent_fault(
    sandbox: SandboxHandle, faults: Faults
) -> None:
    """Five failed polls in a row (each already retried by the client) end in an error event."""
    from planasonix_provider.triggers import planasonix as trigger_module

    conn = "rel_trigger_gives_up"
    sandbox.control.set_scenario(conn, **FAST)
    with client_of(sandbox) as api:
        job = api.trigger_sync(conn)
    faults.add(method="GET", path=f"/api/v1/jobs/{job.id}", status=503)
    started = time.monotonic()
    payload = await run_trigger(
        PlanasonixJobTrigger(job.id, planasonix_conn_id=TIGHT_CONN, poll_interval=POLL)
    )
    polls = trigger_module.MAX_CONSECUTIVE_TRANSIENT_FAILURES
    assert payload["status"] == "error"
    assert f"gave up after {polls} failed polls in a row" in payload["message"]
    assert "HTTP 503" in payload["message"]
    assert sum(faults.hits().values()) == polls * RETRY_ATTEMPTS
    worst = polls * ((RETRY_ATTEMPTS - 1) * TIGHT_MAX_WAIT + POLL * 1.1)
    assert time.monotonic() - started <= worst + SLACK
    FIGURES.outcome("trigger/persistent-503", "error")
