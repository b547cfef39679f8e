"""Subscribe an endpoint to Planasonix job events, and send it a test event.

Set ``PLANASONIX_WEBHOOK_URL`` to the receiving endpoint. The API shows the signing secret once,
in the answer to the create call; this DAG never prints it: fetch it into your secrets backend
with the client (``webhook.signing_secret.get_secret_value()``) or rotate it there.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone

from airflow.sdk import DAG, task

from planasonix_provider.hooks.planasonix import PlanasonixHook

WEBHOOK_URL = os.environ.get("PLANASONIX_WEBHOOK_URL", "https://hooks.example.com/planasonix")
EVENTS = ["job.succeeded", "job.failed", "backfill.completed", "backfill.failed"]

with DAG(
    dag_id="planasonix_webhooks",
    start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
    schedule=None,
    catchup=False,
    tags=["planasonix", "example"],
):

    @task
    def ensure_subscription() -> str:
        """Create the subscription once; later runs find it and keep it."""
        client = PlanasonixHook().client
        for webhook in client.list_webhooks():
            if webhook.url == WEBHOOK_URL:
                print(f"Webhook {webhook.id} already subscribed to {webhook.events}")
                return webhook.id
        webhook = client.create_webhook(WEBHOOK_URL, list(EVENTS))
        print(f"Created webhook {webhook.id} for {WEBHOOK_URL}: store its signing secret now")
        return webhook.id

    @task
    def send_test(webhook_id: str) -> str:
        delivery = PlanasonixHook().client.send_test_event(webhook_id, "job.succeeded")
        print(f"Test delivery {delivery.delivery_id} is {delivery.status}")
        return delivery.delivery_id

    send_test(ensure_subscription())
