"""The asynchronous client: one connection pool (aiohttp's, or httpx's) for its lifetime."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

import httpx

import planasonix_provider.api.operations as ops
from planasonix_provider.api.config import ClientSettings, RetryPolicy
from planasonix_provider.api.defaults import (
    DEFAULT_HTTP_TRANSPORT,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_TIMEOUT,
    HTTP_TRANSPORTS,
)
from planasonix_provider.api.errors import PlanasonixValidationError, SendError
from planasonix_provider.api.models import (
    Backfill,
    Job,
    JobResults,
    Metadata,
    Priority,
    Webhook,
    WebhookDelivery,
    WebhookEvent,
    WebhookSecret,
    WebhookTestDelivery,
)
from planasonix_provider.api.operations import path_segment
from planasonix_provider.api.pages import CursorTrail, Page
from planasonix_provider.api.retry import Wait, result_or_wait, wait_after_send_error
from planasonix_provider.api.senders import AsyncHttpxSender, AsyncSender, Prepared
from planasonix_provider.api.senders import unpack as _unpack

T = TypeVar("T")


def _sender(
    settings: ClientSettings, http_transport: str, transport: httpx.AsyncBaseTransport | None
) -> AsyncSender:
    """aiohttp by default; httpx when asked (a proxy aiohttp cannot use) or given a transport."""
    if http_transport not in HTTP_TRANSPORTS:
        raise PlanasonixValidationError(
            f"http_transport must be one of {HTTP_TRANSPORTS}, got {http_transport!r}"
        )
    if transport is not None or http_transport == "httpx":
        if http_transport == "aiohttp":
            raise PlanasonixValidationError(
                "transport= takes an httpx transport, which http_transport='aiohttp' cannot use: "
                "pass one or the other"
            )
        return AsyncHttpxSender(settings, transport)
    from planasonix_provider.api.aiohttp_sender import AiohttpSender  # aiohttp: imported on use

    return AiohttpSender(settings)


class AsyncPlanasonixClient:
    """Calls the Planasonix Orchestration API v1, retrying as DESIGN.md allows.

    Use it as an async context manager, or await :meth:`aclose`, to release its connection pool.

    :param http_transport: ``"auto"`` or ``"aiohttp"`` (the same: aiohttp, a dependency), or
        ``"httpx"`` for a proxy aiohttp cannot use (see ``docs/client.md``); ``transport`` (an
        httpx transport, such as ``httpx.MockTransport`` in tests) implies httpx.
    """

    def __init__(
        self,
        base_url: str | None,
        api_key: str,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        http_transport: str = DEFAULT_HTTP_TRANSPORT,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._settings = ClientSettings(
            base_url, api_key, timeout=timeout, retry=retry, max_connections=max_connections
        )
        self._sender = _sender(self._settings, http_transport, transport)
        self._sleep = sleep
        # Many coroutines share one client in a triggerer: queue them here, ahead of the pool,
        # so that a burst waits its turn instead of failing with PoolTimeout.
        self._slots = asyncio.Semaphore(max_connections)

    @property
    def base_url(self) -> str:
        return self._settings.base_url

    @property
    def retry_policy(self) -> RetryPolicy:
        return self._settings.retry

    def __repr__(self) -> str:
        return f"AsyncPlanasonixClient(base_url={self.base_url!r})"

    async def __aenter__(self) -> AsyncPlanasonixClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._sender.aclose()

    def prepare(self, operation: ops.Operation[T]) -> Prepared[T]:
        """The operation with its URL resolved once, for an operation sent again and again (a
        poll): building a URL per request costs measurably (``docs/performance.md``)."""
        return Prepared(operation, self._sender.resolve(operation))

    async def send(self, request: ops.Operation[T] | Prepared[T]) -> T:
        """Send one operation (or a prepared one) under the retry policy; its parsed answer."""
        operation, url = _unpack(request)
        retry = self._settings.retry
        attempt = 0
        while True:
            attempt += 1
            try:
                async with self._slots:
                    response = await self._sender.send(operation, url)
            except SendError as failure:
                delay = wait_after_send_error(
                    operation, failure, retry, attempt, self._settings.redact
                )
            else:
                result = result_or_wait(operation, response, retry, attempt)
                if not isinstance(result, Wait):
                    return result
                delay = result.delay
            await self._sleep(delay)

    async def _every_item(
        self, page_at: Callable[[str | None], ops.Operation[Page[T]]]
    ) -> AsyncIterator[T]:
        """The items of every page, fetched lazily; ``page_at(cursor)`` is the page's operation
        (the first page's for None)."""
        cursor: str | None = None
        trail = CursorTrail()
        while True:
            operation = page_at(cursor)
            page = await self.send(operation)
            for item in page.items:
                yield item
            if not page.next_cursor:
                return
            cursor = trail.next(operation.info, page.next_cursor)

    # --- Jobs and backfills ----------------------------------------------------------------

    async def trigger_sync(
        self,
        connection_id: str,
        *,
        pipeline_id: str | None = None,
        priority: Priority | str | None = None,
        metadata: Metadata | None = None,
    ) -> Job:
        return await self.send(
            ops.trigger_sync(
                connection_id, pipeline_id=pipeline_id, priority=priority, metadata=metadata
            )
        )

    async def trigger_backfill(
        self,
        connection_id: str,
        *,
        start_at: datetime,
        end_at: datetime,
        tables: list[str] | None = None,
        priority: Priority | str | None = None,
        metadata: Metadata | None = None,
    ) -> Backfill:
        return await self.send(
            ops.trigger_backfill(
                connection_id,
                start_at=start_at,
                end_at=end_at,
                tables=tables,
                priority=priority,
                metadata=metadata,
            )
        )

    def list_backfills(
        self,
        *,
        connection_id: str | None = None,
        status: str | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[Backfill]:
        filters: dict[str, Any] = {
            "connection_id": connection_id,
            "status": status,
            "page_size": page_size,
        }
        ops.list_backfills_page(**filters)  # check the filters now, not at the first next()
        return self._every_item(lambda cursor: ops.list_backfills_page(**filters, cursor=cursor))

    async def get_backfill(self, backfill_id: str) -> Backfill:
        return await self.send(ops.get_backfill(backfill_id))

    def list_jobs(
        self,
        *,
        connection_id: str | None = None,
        pipeline_id: str | None = None,
        type: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[Job]:
        filters: dict[str, Any] = {
            "connection_id": connection_id,
            "pipeline_id": pipeline_id,
            "type": type,
            "status": status,
            "since": since,
            "until": until,
            "page_size": page_size,
        }
        ops.list_jobs_page(**filters)  # check the filters now, not at the first next()
        return self._every_item(lambda cursor: ops.list_jobs_page(**filters, cursor=cursor))

    async def get_job(self, job_id: str) -> Job:
        return await self.send(ops.get_job(job_id))

    async def get_job_results(self, job_id: str) -> JobResults | None:
        """The results of a terminal job; None while the job is not finished."""
        return await self.send(ops.get_job_results(job_id))

    async def cancel_job(self, job_id: str) -> Job:
        return await self.send(ops.cancel_job(job_id))

    # --- Webhooks --------------------------------------------------------------------------

    def list_webhooks(self) -> AsyncIterator[Webhook]:
        return self._every_item(lambda cursor: ops.list_webhooks_page(cursor=cursor))

    async def create_webhook(
        self, url: str, events: list[WebhookEvent | str], *, secret: str | None = None
    ) -> Webhook:
        return await self.send(ops.create_webhook(url, events, secret=secret))

    async def get_webhook(self, webhook_id: str) -> Webhook:
        return await self.send(ops.get_webhook(webhook_id))

    async def update_webhook(
        self,
        webhook_id: str,
        *,
        url: str | None = None,
        events: list[WebhookEvent | str] | None = None,
        enabled: bool | None = None,
    ) -> Webhook:
        """Change the given fields. The current subscription is read first and sent whole with
        the changes, so that it works whether the service merges a PUT or replaces with it."""
        ops.update_webhook(webhook_id, url=url, events=events, enabled=enabled)  # check first
        current = await self.get_webhook(webhook_id)
        return await self.send(
            ops.replace_webhook(current, url=url, events=events, enabled=enabled)
        )

    async def delete_webhook(self, webhook_id: str) -> None:
        await self.send(ops.delete_webhook(webhook_id))

    async def rotate_webhook_secret(self, webhook_id: str) -> WebhookSecret:
        return await self.send(ops.rotate_webhook_secret(webhook_id))

    async def send_test_event(
        self, webhook_id: str, event: WebhookEvent | str | None = None
    ) -> WebhookTestDelivery:
        return await self.send(ops.send_test_event(webhook_id, event))

    def list_webhook_deliveries(self, webhook_id: str) -> AsyncIterator[WebhookDelivery]:
        path_segment("webhook_id", webhook_id)
        return self._every_item(
            lambda cursor: ops.list_webhook_deliveries_page(webhook_id, cursor=cursor)
        )

    async def get_openapi_spec(self) -> str:
        return await self.send(ops.get_openapi_spec())
