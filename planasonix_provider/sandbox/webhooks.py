"""Real webhook deliveries: signed POSTs, retried with backoff, recorded per subscription.

A light ticker (every 0.1 s) turns the store's due lifecycle transitions into events; each event
becomes one delivery per enabled subscription that listens to it. Retries are scaled by ``speed``
so that tests of the retry path stay fast.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import logging
from typing import Any

import httpx

from planasonix_provider.sandbox.records import DeliveryRecord, WebhookRecord, iso
from planasonix_provider.sandbox.state import Store

log = logging.getLogger("planasonix_provider.sandbox.webhooks")

# The headers of a delivery (DESIGN.md), spelled here rather than imported: the sandbox signs as
# a service would, not with the client's signer.
SIGNATURE_HEADER = "X-Planasonix-Signature"
EVENT_HEADER = "X-Planasonix-Event"
DELIVERY_HEADER = "X-Planasonix-Delivery"

TICK_SECONDS = 0.1
MAX_ATTEMPTS = 3
BACKOFF_SECONDS = (1.0, 2.0)
DELIVERY_TIMEOUT = 5.0


def signature(body: bytes, secret: str, encoding: str) -> str:
    """The signature header of ``body``: ``sha256=<hex>``, or the bare base64 of the digest."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    if encoding == "base64":
        return base64.b64encode(digest).decode()
    return "sha256=" + digest.hex()


class Dispatcher:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.client: httpx.AsyncClient | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self.ticker: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.client = httpx.AsyncClient(timeout=DELIVERY_TIMEOUT, follow_redirects=False)
        for deliveries in self.store.deliveries.values():
            for delivery in deliveries:
                if delivery.status == "pending":
                    self._spawn(delivery)
        self.ticker = asyncio.create_task(self._tick_forever())

    async def stop(self) -> None:
        tasks = [t for t in (self.ticker, *self.tasks) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.client is not None:
            await self.client.aclose()

    async def _tick_forever(self) -> None:
        while True:
            try:
                self.tick()
            except Exception:  # a bug here must not stop every later delivery
                log.exception("webhook ticker failed")
            await asyncio.sleep(TICK_SECONDS)

    def tick(self) -> None:
        for event, data in self.store.collect_events():
            self.emit(event, data)

    def emit(self, event: str, data: dict[str, Any]) -> None:
        if not self.store.webhooks:
            return
        for hook in list(self.store.webhooks.values()):
            if hook.enabled and event in hook.events:
                self._queue(hook, event, data)

    def send_test(self, hook: WebhookRecord, event: str) -> DeliveryRecord:
        """A test event goes to this subscription whatever its event list or enabled flag."""
        now = self.store.now()
        kind = event.split(".", 1)[0]
        if kind == "backfill":
            sample: dict[str, Any] = {
                "id": "bf_test",
                "status": "completed" if event.endswith("completed") else "failed",
                "test": True,
            }
        else:
            sample = {
                "id": "job_test",
                "type": "connection_sync",
                "status": event.split(".", 1)[1].replace("started", "running"),
                "created_at": iso(now),
                "test": True,
            }
        return self._queue(hook, event, sample)

    def _queue(self, hook: WebhookRecord, event: str, data: dict[str, Any]) -> DeliveryRecord:
        store = self.store
        payload = {
            "id": store.new_id("evt_"),
            "type": event,
            "created_at": iso(store.now()),
            "data": data,
        }
        body = json.dumps(payload, separators=(",", ":"))
        delivery = store.add_delivery(hook.id, event, body)
        self._spawn(delivery)
        return delivery

    def _spawn(self, delivery: DeliveryRecord) -> None:
        task = asyncio.create_task(self._deliver(delivery))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _deliver(self, delivery: DeliveryRecord) -> None:
        assert self.client is not None
        store = self.store
        while delivery.attempt < MAX_ATTEMPTS:
            hook = store.webhooks.get(delivery.webhook_id)
            if hook is None:
                return
            delivery.attempt += 1
            raw = delivery.body.encode()
            headers = {
                "Content-Type": "application/json",
                EVENT_HEADER: delivery.event,
                DELIVERY_HEADER: delivery.id,
                SIGNATURE_HEADER: signature(raw, hook.secret, store.profile.signature),
                "User-Agent": "planasonix-sandbox-webhooks/1",
            }
            try:
                response = await self.client.post(hook.url, content=raw, headers=headers)
            except httpx.HTTPError as exc:
                delivery.http_status = None
                delivery.last_error = f"{type(exc).__name__}: {exc}".rstrip(": ")
            else:
                delivery.http_status = response.status_code
                if response.is_success:
                    delivery.status = "delivered"
                    delivery.delivered_at = store.now()
                    delivery.last_error = None
                    store.dirty = True
                    return
                delivery.last_error = f"HTTP {response.status_code}"
            store.dirty = True
            if delivery.attempt < MAX_ATTEMPTS:
                await asyncio.sleep(store.scaled(BACKOFF_SECONDS[delivery.attempt - 1]))
        delivery.status = "failed"
        store.dirty = True
