"""Event-driven scheduling in a real Airflow deployment: jobs started straight on the sandbox,
not from Airflow, become asset events through ``PlanasonixJobEventTrigger`` in the triggerer and
run the consumer DAG (``tests/stack/dags/planasonix_stack_events.py``); a triggerer restart
between jobs loses none and repeats none; twenty watchers cost one listing per interval."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import httpx
import pytest

from planasonix_provider.api import PlanasonixClient
from planasonix_provider.triggers import job_events
from tests.lines import needs
from tests.stack.conftest import Stack, wait_until

pytestmark = [
    pytest.mark.stack,
    pytest.mark.timeout(600),
    needs("asset state store"),
    needs("shared streams"),
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
    params = {"asset_id": asset["id"], "limit": 100}
    # Airflow 3.3.2 answers 500 here while a run an event created is still queued (its response
    # model wants the run's start_date, which a queued run lacks): ask again shortly after.
    for _ in range(30):
        response = stack.api.request("GET", "/api/v2/assets/events", params=params)
        if response.status_code != 500:
            break
        time.sleep(1)
    assert response.is_success, response.text[:500]
    events = response.json()["asset_events"]
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

    time.sleep(job_events.SAVE_SETTLE_SECONDS + 2)  # the watcher has saved its position
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


WEBHOOK_CONNECTION = "conn_stack_webhooks"
WEBHOOK_CONSUMER = "stack_webhook_consumer"
WEBHOOK_ASSET = "planasonix/conn_stack_webhooks/job.succeeded"
#: The connection extra the event-driven page documents for the plugin's hmac_json source.
HMAC_JSON_EXTRA = {
    "source_type": "hmac_json",
    "signature_header": "X-Planasonix-Signature",
    "signature_prefix": "sha256=",
    "event_header": "X-Planasonix-Event",
    "delivery_id_header": "X-Planasonix-Delivery",
    "path_field": "data.connection_id",
}


def restart_api_server(stack: Stack, **env: str) -> None:
    stack.procs["api-server"].stop()
    proc = stack.start("api-server", "api-server", env={**stack.env, **env})
    wait_until(
        "the API server with the webhook plugin",
        lambda: httpx.get(f"{stack.api_url}/api/v2/monitor/health", timeout=5).status_code == 200,
        120,
        on_fail=proc.tail(),
    )


def test_signed_webhook_deliveries_become_asset_events_through_inbound_webhooks(
    stack: Stack,
) -> None:
    """The push route: the sandbox's real signed ``job.succeeded`` deliveries, received by the
    ``airflow-provider-inbound-webhooks`` plugin on the API server, run a DAG; a delivery with a
    bad signature is refused."""
    pytest.importorskip(
        "airflow_inbound_webhooks",
        reason="airflow-provider-inbound-webhooks is not installed (the inbound-webhooks extra; Airflow 3.1.1+)",
    )
    secret = secrets.token_hex(32)
    connection = {"conn_type": "inbound_webhook", "password": secret, "extra": HMAC_JSON_EXTRA}
    restart_api_server(
        stack,
        AIRFLOW__INBOUND_WEBHOOKS__WEBHOOK_NAMES="planasonix",
        AIRFLOW_CONN_WEBHOOK_PLANASONIX=json.dumps(connection),
    )
    url = f"{stack.api_url}/webhooks/planasonix"
    stack.control.set_scenario(WEBHOOK_CONNECTION, duration=1)
    with PlanasonixClient(stack.sandbox_url, stack.api_key) as api:
        webhook = api.create_webhook(url, ["job.succeeded"], secret=secret)
        job_id = api.trigger_sync(WEBHOOK_CONNECTION).id

        def delivered() -> list[Any]:
            return [d for d in api.list_webhook_deliveries(webhook.id) if d.status == "delivered"]

        wait_until("the signed delivery", delivered, 60, on_fail=stack.diagnostics())
        api.delete_webhook(webhook.id)

    forged = httpx.post(
        url,
        content=b'{"id": "evt_forged", "type": "job.succeeded", "data": {"id": "job_forged"}}',
        headers={
            "Content-Type": "application/json",
            "X-Planasonix-Event": "job.succeeded",
            "X-Planasonix-Signature": "sha256=" + "0" * 64,
        },
        timeout=10,
    )
    assert forged.status_code in (401, 403), forged.text

    def consumed() -> list[str] | None:
        runs = stack.api.json("GET", f"/api/v2/dags/{WEBHOOK_CONSUMER}/dagRuns")["dag_runs"]
        done = [r for r in runs if r["state"] in ("success", "failed")]
        return done or None

    runs = wait_until("the webhook consumer run", consumed, 120, 1.0, on_fail=stack.diagnostics())
    assert [run["state"] for run in runs] == ["success"]
    path = (
        f"/api/v2/dags/{WEBHOOK_CONSUMER}/dagRuns/{runs[0]['dag_run_id']}"
        "/taskInstances/job_ids/xcomEntries/return_value"
    )
    assert stack.api.json("GET", path)["value"] == [job_id]
