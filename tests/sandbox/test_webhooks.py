"""Webhook CRUD and real, signed, retried deliveries to a local receiver."""

from __future__ import annotations

import json

import pytest

from planasonix_provider.api import NotFoundError, PlanasonixClient, verify_signature
from planasonix_provider.sandbox.testing import SandboxHandle
from tests.sandbox.conftest import Receiver, wait_for


def test_webhook_crud_and_secret_visibility(client: PlanasonixClient) -> None:
    created = client.create_webhook("https://example.com/hook", ["job.succeeded"], secret="s3cr3t")
    assert created.id.startswith("wh_") and created.enabled is True
    assert created.signing_secret is not None
    assert created.signing_secret.get_secret_value() == "s3cr3t"
    got = client.get_webhook(created.id)
    assert got.signing_secret is None and got.url == "https://example.com/hook"
    assert got.failure_count_24h == 0 and got.last_delivery_at is None
    generated = client.create_webhook("http://example.org/x", ["job.failed", "backfill.failed"])
    assert generated.signing_secret is not None
    assert generated.signing_secret.get_secret_value().startswith("whsec_")
    listed = list(client.list_webhooks())
    assert [w.id for w in listed] == [generated.id, created.id]
    assert all(w.signing_secret is None for w in listed)
    updated = client.update_webhook(created.id, events=["job.failed"], enabled=False)
    assert updated.events == ["job.failed"] and updated.enabled is False
    assert updated.updated_at is not None and updated.signing_secret is None
    rotated = client.rotate_webhook_secret(created.id)
    assert rotated.signing_secret.get_secret_value() not in ("", "s3cr3t")
    assert rotated.rotated_at is not None
    client.delete_webhook(created.id)
    with pytest.raises(NotFoundError):
        client.get_webhook(created.id)
    assert [w.id for w in client.list_webhooks()] == [generated.id]


def test_lifecycle_events_are_delivered_and_signed(
    sandbox: SandboxHandle, client: PlanasonixClient, receiver: Receiver
) -> None:
    hook = client.create_webhook(
        receiver.url, ["job.queued", "job.started", "job.succeeded", "backfill.completed"]
    )
    assert hook.signing_secret is not None
    secret = hook.signing_secret.get_secret_value()
    job = client.trigger_sync("conn_hook", metadata={"k": "v"})
    wait_for(lambda: "job.succeeded" in receiver.events())
    assert receiver.events() == ["job.queued", "job.started", "job.succeeded"]
    for item in receiver.received:
        assert verify_signature(item.body, item.headers["x-planasonix-signature"], secret)
        payload = json.loads(item.body)
        assert payload["id"].startswith("evt_")
        assert payload["type"] == item.headers["x-planasonix-event"]
        assert payload["created_at"].endswith("Z")
        assert payload["data"]["id"] == job.id
        assert item.headers["x-planasonix-delivery"].startswith("whd_")
    last = json.loads(receiver.received[-1].body)
    assert last["data"]["status"] == "succeeded" and last["data"]["metadata"] == {"k": "v"}
    # The sandbox records a delivery once it has read the receiver's answer, just after the
    # receiver saw the request: wait for the record, do not race it.
    wait_for(lambda: {d.status for d in client.list_webhook_deliveries(hook.id)} == {"delivered"})
    deliveries = list(client.list_webhook_deliveries(hook.id))
    assert len(deliveries) == 3
    assert all(d.http_status == 200 and d.attempt == 1 for d in deliveries)
    assert client.get_webhook(hook.id).last_delivery_at is not None


def test_failure_and_backfill_events_only_to_listeners(
    sandbox: SandboxHandle, client: PlanasonixClient, receiver: Receiver
) -> None:
    from datetime import datetime, timedelta, timezone

    client.create_webhook(receiver.url, ["job.failed", "backfill.failed", "job.cancelled"])
    sandbox.control.set_scenario("conn_f", outcome="fail", duration=0.5)
    client.trigger_sync("conn_f")
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    client.trigger_backfill("conn_f", start_at=start, end_at=start + timedelta(days=2))
    wait_for(lambda: "backfill.failed" in receiver.events())
    assert sorted(receiver.events()) == ["backfill.failed", "job.failed", "job.failed"]


def test_disabled_subscription_gets_nothing(client: PlanasonixClient, receiver: Receiver) -> None:
    hook = client.create_webhook(receiver.url, ["job.queued"])
    client.update_webhook(hook.id, enabled=False)
    client.trigger_sync("conn_x")
    other = client.create_webhook(receiver.url, ["job.queued"])
    client.trigger_sync("conn_x")
    wait_for(lambda: receiver.received)
    assert list(client.list_webhook_deliveries(hook.id)) == []
    assert len(list(client.list_webhook_deliveries(other.id))) == 1


def test_retry_after_receiver_fails_twice(client: PlanasonixClient, receiver: Receiver) -> None:
    hook = client.create_webhook(receiver.url, ["job.succeeded"])
    receiver.fail_next = 2
    test = client.send_test_event(hook.id, "job.succeeded")
    assert test.status == "pending" and test.delivery_id.startswith("whd_")
    wait_for(lambda: receiver.received)
    assert receiver.attempts == 3
    delivery = wait_for(
        lambda: (
            (d := next(iter(client.list_webhook_deliveries(hook.id)))).status == "delivered" and d
        )
    )
    assert delivery.id == test.delivery_id and delivery.attempt == 3
    assert delivery.http_status == 200 and delivery.delivered_at is not None


def test_delivery_fails_after_three_attempts(client: PlanasonixClient, receiver: Receiver) -> None:
    hook = client.create_webhook(receiver.url, ["job.succeeded"])
    receiver.fail_next = 10
    client.send_test_event(hook.id)
    delivery = wait_for(
        lambda: (d := next(iter(client.list_webhook_deliveries(hook.id)))).status == "failed" and d
    )
    assert delivery.attempt == 3 and delivery.http_status == 503
    assert delivery.last_error == "HTTP 503" and delivery.delivered_at is None
    assert receiver.attempts == 3
    assert client.get_webhook(hook.id).failure_count_24h == 1


def test_unreachable_receiver_records_the_error(client: PlanasonixClient) -> None:
    hook = client.create_webhook("http://127.0.0.1:9/nothing", ["job.succeeded"])
    client.send_test_event(hook.id, "job.failed")
    delivery = wait_for(
        lambda: (d := next(iter(client.list_webhook_deliveries(hook.id)))).status == "failed" and d
    )
    assert delivery.event == "job.failed" and delivery.http_status is None
    assert delivery.last_error and "Connect" in delivery.last_error


def test_rotated_secret_signs_later_deliveries(
    client: PlanasonixClient, receiver: Receiver
) -> None:
    hook = client.create_webhook(receiver.url, ["job.succeeded"], secret="old")
    rotated = client.rotate_webhook_secret(hook.id).signing_secret.get_secret_value()
    client.send_test_event(hook.id)
    wait_for(lambda: receiver.received)
    item = receiver.received[0]
    signature = item.headers["x-planasonix-signature"]
    assert verify_signature(item.body, signature, rotated)
    assert not verify_signature(item.body, signature, "old")
    assert json.loads(item.body)["type"] == "job.succeeded"
