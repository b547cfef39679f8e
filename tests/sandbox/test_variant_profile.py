"""The sandbox's ``variant`` profile: the other shapes the reference allows, and the client
holding up against each (issue 13). The answers are plain data, so these tests can disagree with
the client's own reading of the reference."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from planasonix_provider.api import (
    NotFoundError,
    PlanasonixClient,
    RequestMayHaveBeenProcessedError,
    find_started_work,
    verify_signature,
)
from planasonix_provider.sandbox.testing import SandboxHandle, run_sandbox
from planasonix_provider.wait import cancel
from tests.sandbox.conftest import SPEED, Receiver, make_client, wait_for

UTC = timezone.utc
START = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.fixture
def variant() -> Iterator[SandboxHandle]:
    with run_sandbox(speed=SPEED, seed=11, profile="variant") as handle:
        yield handle


@pytest.fixture
def api(variant: SandboxHandle) -> Iterator[PlanasonixClient]:
    with make_client(variant) as client:
        yield client


def raw(handle: SandboxHandle, method: str, path: str, **kwargs: object) -> httpx.Response:
    headers = {"Authorization": f"Bearer {handle.api_key}"}
    return httpx.request(method, handle.base_url + path, headers=headers, **kwargs)  # type: ignore[arg-type]


def test_errors_are_bare_strings_and_the_client_reads_them(
    variant: SandboxHandle, api: PlanasonixClient
) -> None:
    answer = raw(variant, "GET", "/api/v1/jobs/job_nope")
    assert answer.status_code == 404
    assert isinstance(answer.json()["error"], str)

    with pytest.raises(NotFoundError) as caught:
        api.get_job("job_nope")
    assert caught.value.api_message == "job 'job_nope' not found"


def test_a_failed_job_carries_its_error_as_a_string(
    variant: SandboxHandle, api: PlanasonixClient
) -> None:
    variant.control.set_scenario("conn_fail", duration=0.2, outcome="fail", error_message="boom")
    job = api.trigger_sync("conn_fail")
    wait_for(lambda: api.get_job(job.id).status == "failed")
    assert raw(variant, "GET", f"/api/v1/jobs/{job.id}").json()["data"]["error"] == "boom"
    assert api.get_job(job.id).error.message == "boom"


def test_no_metadata_echo_makes_the_recovery_lookup_cannot_tell(
    variant: SandboxHandle, api: PlanasonixClient
) -> None:
    """The old recipe filtered list_jobs on echoed metadata: here it would say "nothing"."""
    asked_at = datetime.now(UTC)
    variant.control.add_fault(
        method="POST", path="/api/v1/connections/conn_lost/sync", status=500, after=True, count=1
    )
    with pytest.raises(RequestMayHaveBeenProcessedError):
        api.trigger_sync("conn_lost", metadata={"run_key": "r1"})

    (started,) = api.list_jobs(connection_id="conn_lost")
    assert started.metadata is None  # the job exists, without the metadata sent
    lookup = find_started_work(api, "conn_lost", since=asked_at, metadata={"run_key": "r1"})
    assert lookup.verdict == "cannot_tell"
    assert [job.id for job in lookup.candidates] == [started.id]
    assert variant.control.jobs_started(connection_id="conn_lost") == 1


def test_results_of_a_running_job_are_a_stub_that_reads_as_not_ready(
    variant: SandboxHandle, api: PlanasonixClient
) -> None:
    variant.control.set_scenario("conn_slow", duration=30)
    job = api.trigger_sync("conn_slow")
    stub = raw(variant, "GET", f"/api/v1/jobs/{job.id}/results")
    assert stub.status_code == 200 and stub.json()["data"]["tables"] is None
    assert api.get_job_results(job.id) is None


def test_backfill_shards_appear_over_time_and_a_cancel_reaches_them(
    variant: SandboxHandle, api: PlanasonixClient
) -> None:
    variant.control.set_scenario("conn_bf", duration=10.0, queued_for=0)
    backfill = api.trigger_backfill("conn_bf", start_at=START, end_at=START + timedelta(days=90))
    assert len(backfill.job_ids) == 1  # the later shards do not exist yet
    wait_for(lambda: len(api.get_backfill(backfill.id).job_ids) >= 2)

    cancelled = cancel(api, "backfill", backfill.id)

    assert cancelled
    wait_for(lambda: api.get_backfill(backfill.id).status == "cancelled")
    final = api.get_backfill(backfill.id)
    assert all(api.get_job(j).status in ("succeeded", "cancelled") for j in final.job_ids)
    assert len(final.job_ids) < 3  # no shard was created after the cancel


def test_shard_results_are_not_promised(variant: SandboxHandle, api: PlanasonixClient) -> None:
    variant.control.set_scenario("conn_bf_done", duration=0.2, queued_for=0)
    backfill = api.trigger_backfill(
        "conn_bf_done", start_at=START, end_at=START + timedelta(days=5)
    )
    wait_for(lambda: api.get_backfill(backfill.id).status == "completed")
    with pytest.raises(NotFoundError):
        api.get_job_results(backfill.job_ids[0])


def test_a_cursor_on_the_last_page_ends_the_listing(
    variant: SandboxHandle, api: PlanasonixClient
) -> None:
    ids = {api.trigger_sync("conn_pages").id for _ in range(3)}
    last_page = raw(variant, "GET", "/api/v1/jobs", params={"connection_id": "conn_pages"})
    assert last_page.json()["meta"]["page"]["cursor"] is not None
    assert {job.id for job in api.list_jobs(connection_id="conn_pages", page_size=2)} == ids


def test_a_put_that_replaces_keeps_what_a_partial_update_did_not_name(
    variant: SandboxHandle, api: PlanasonixClient
) -> None:
    hook = api.create_webhook("https://hooks.example.com/x", ["job.failed", "job.succeeded"])
    partial = raw(variant, "PUT", f"/api/v1/webhooks/{hook.id}", json={"enabled": False})
    assert partial.status_code == 400  # this service replaces: a partial body is refused

    updated = api.update_webhook(hook.id, enabled=False)

    assert (updated.url, updated.events, updated.enabled) == (
        "https://hooks.example.com/x",
        ["job.failed", "job.succeeded"],
        False,
    )
    assert api.update_webhook(hook.id, url="https://hooks.example.com/y").enabled is False


def test_deliveries_signed_in_base64_verify(
    variant: SandboxHandle, api: PlanasonixClient, receiver: Receiver
) -> None:
    hook = api.create_webhook(receiver.url, ["job.succeeded"])
    secret = hook.signing_secret.get_secret_value()
    api.send_test_event(hook.id, "job.succeeded")
    wait_for(lambda: receiver.received)

    delivery = receiver.received[0]
    signature = delivery.headers["x-planasonix-signature"]
    digest = hmac.new(secret.encode(), delivery.body, hashlib.sha256).digest()
    assert signature == base64.b64encode(digest).decode()  # not sha256=<hex>
    assert verify_signature(delivery.body, signature, ["whsec_old", secret])
    assert json.loads(delivery.body)["type"] == "job.succeeded"
