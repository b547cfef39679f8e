"""Shared helpers for the client unit tests: example payloads, a scripted transport, a harness.

The harness drives the sync and the async client through one ``await api.call(...)`` so that a
test can be parametrized over both. Every Planasonix error that goes through it is checked for
the API key first: no test in this suite can see an error message that holds the key.
"""

from __future__ import annotations

import copy
import inspect
import json
import random
import traceback
from collections.abc import Callable, Iterator
from typing import Any, cast

import httpx

from planasonix_provider import __version__
from planasonix_provider.api import (
    AsyncPlanasonixClient,
    PlanasonixClient,
    PlanasonixError,
    RetryPolicy,
)

BASE_URL = "https://api.planasonix.test"
API_KEY = "psk_live_7Hq2ZxLeakCanary9f8e7d6c"
USER_AGENT = f"planasonix-airflow-provider/{__version__}"

# --- The example payloads of reference/orchestration-api-v1.md, verbatim ----------------------

SYNC_REQUEST: dict[str, Any] = {
    "pipeline_id": "pl_01hqxyz",
    "priority": "normal",
    "metadata": {
        "triggered_by": "airflow_dag_nightly_sales",
        "dag_run_id": "scheduled__2025-03-27T02:00:00+00:00",
    },
}
SYNC_RESPONSE: dict[str, Any] = {
    "data": {
        "job": {
            "id": "job_01jq8syncabc",
            "type": "connection_sync",
            "status": "queued",
            "connection_id": "conn_01jq8k2m3n4p5q6r7s8t9u0v1",
            "pipeline_id": "pl_01hqxyz",
            "created_at": "2025-03-27T14:22:10Z",
            "queued_at": "2025-03-27T14:22:10Z",
        }
    }
}
BACKFILL_REQUEST: dict[str, Any] = {
    "start_at": "2025-01-01T00:00:00Z",
    "end_at": "2025-03-01T00:00:00Z",
    "tables": ["public.orders", "public.order_items"],
    "priority": "low",
    "metadata": {"reason": "post_incident_replay"},
}
BACKFILL_RESPONSE: dict[str, Any] = {
    "data": {
        "backfill": {
            "id": "bf_01jq8bfill01",
            "connection_id": "conn_01jq8k2m3n4p5q6r7s8t9u0v1",
            "status": "running",
            "start_at": "2025-01-01T00:00:00Z",
            "end_at": "2025-03-01T00:00:00Z",
            "tables": ["public.orders", "public.order_items"],
            "progress_percent": 0,
            "created_at": "2025-03-27T14:25:00Z",
        }
    }
}
BACKFILL_LIST: dict[str, Any] = {
    "data": [
        {
            "id": "bf_01jq8bfill01",
            "connection_id": "conn_01jq8k2m3n4p5q6r7s8t9u0v1",
            "status": "running",
            "start_at": "2025-01-01T00:00:00Z",
            "end_at": "2025-03-01T00:00:00Z",
            "progress_percent": 37,
            "created_at": "2025-03-27T14:25:00Z",
            "updated_at": "2025-03-27T14:28:44Z",
        }
    ],
    "meta": {"page": {"limit": 50, "cursor": "eyJiZiI6ImJmXzAxanE4YmZpbGwwMSJ9"}},
}
BACKFILL_GET: dict[str, Any] = {
    "data": {
        "id": "bf_01jq8bfill01",
        "connection_id": "conn_01jq8k2m3n4p5q6r7s8t9u0v1",
        "status": "running",
        "start_at": "2025-01-01T00:00:00Z",
        "end_at": "2025-03-01T00:00:00Z",
        "tables": ["public.orders", "public.order_items"],
        "progress_percent": 37,
        "rows_processed": 1849200,
        "error": None,
        "job_ids": ["job_01jq8chunk01", "job_01jq8chunk02"],
        "created_at": "2025-03-27T14:25:00Z",
        "updated_at": "2025-03-27T14:28:44Z",
    }
}
JOB_LIST: dict[str, Any] = {
    "data": [
        {
            "id": "job_01jq8syncabc",
            "type": "connection_sync",
            "status": "running",
            "connection_id": "conn_01jq8k2m3n4p5q6r7s8t9u0v1",
            "pipeline_id": "pl_01hqxyz",
            "created_at": "2025-03-27T14:22:10Z",
            "started_at": "2025-03-27T14:22:12Z",
        }
    ],
    "meta": {"page": {"limit": 50, "cursor": None}},
}
JOB_GET: dict[str, Any] = {
    "data": {
        "id": "job_01jq8syncabc",
        "type": "connection_sync",
        "status": "running",
        "connection_id": "conn_01jq8k2m3n4p5q6r7s8t9u0v1",
        "pipeline_id": "pl_01hqxyz",
        "created_at": "2025-03-27T14:22:10Z",
        "queued_at": "2025-03-27T14:22:10Z",
        "started_at": "2025-03-27T14:22:12Z",
        "finished_at": None,
        "duration_seconds": None,
        "metrics": {"rows_extracted": 45210, "rows_loaded": 44802, "bytes_read": 67108864},
        "error": None,
    }
}
JOB_RESULTS: dict[str, Any] = {
    "data": {
        "job_id": "job_01jq8syncabc",
        "status": "succeeded",
        "tables": [
            {
                "name": "public.orders",
                "rows_loaded": 44802,
                "checksum": (
                    "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
                ),
            }
        ],
        "warnings": [
            {
                "code": "column_type_widened",
                "message": "Column discount_pct coerced from NUMERIC(5,2) to NUMERIC(8,4)",
            }
        ],
    }
}
JOB_CANCEL: dict[str, Any] = {
    "data": {
        "id": "job_01jq8syncabc",
        "status": "cancelling",
        "cancel_requested_at": "2025-03-27T14:30:00Z",
    }
}
WEBHOOK_LIST: dict[str, Any] = {
    "data": [
        {
            "id": "wh_01jq8hook01",
            "url": "https://hooks.slack.com/services/T000/B000/XXXXXXXX",
            "events": ["job.succeeded", "job.failed", "backfill.completed"],
            "enabled": True,
            "created_at": "2025-03-20T09:00:00Z",
        }
    ]
}
WEBHOOK_CREATE_REQUEST: dict[str, Any] = {
    "url": "https://api.internal.example.com/planasonix/webhook",
    "events": ["job.succeeded", "job.failed"],
    "secret": "whsec_custom_optional_if_server_generates",
}
SIGNING_SECRET = "whsec_01jq8secretxxxxxxxxxxxxxxxx"
NEW_SIGNING_SECRET = "whsec_01jq8newsecretyyyyyyyyyyyyy"
WEBHOOK_CREATE: dict[str, Any] = {
    "data": {
        "id": "wh_01jq8hook02",
        "url": "https://api.internal.example.com/planasonix/webhook",
        "events": ["job.succeeded", "job.failed"],
        "signing_secret": SIGNING_SECRET,
        "enabled": True,
        "created_at": "2025-03-27T15:00:00Z",
    }
}
WEBHOOK_GET: dict[str, Any] = {
    "data": {
        "id": "wh_01jq8hook02",
        "url": "https://api.internal.example.com/planasonix/webhook",
        "events": ["job.succeeded", "job.failed"],
        "enabled": True,
        "last_delivery_at": "2025-03-27T14:55:01Z",
        "failure_count_24h": 0,
        "created_at": "2025-03-27T15:00:00Z",
    }
}
WEBHOOK_UPDATE_REQUEST: dict[str, Any] = {
    "url": "https://api.internal.example.com/v2/planasonix/webhook",
    "events": ["job.succeeded", "job.failed", "backfill.completed"],
    "enabled": True,
}
WEBHOOK_UPDATE: dict[str, Any] = {
    "data": {
        "id": "wh_01jq8hook02",
        "url": "https://api.internal.example.com/v2/planasonix/webhook",
        "events": ["job.succeeded", "job.failed", "backfill.completed"],
        "enabled": True,
        "updated_at": "2025-03-27T15:05:00Z",
    }
}
WEBHOOK_ROTATE: dict[str, Any] = {
    "data": {
        "id": "wh_01jq8hook02",
        "signing_secret": NEW_SIGNING_SECRET,
        "rotated_at": "2025-03-27T15:10:00Z",
    }
}
WEBHOOK_TEST = {"data": {"delivery_id": "whd_01jq8test01", "status": "pending"}}
WEBHOOK_DELIVERIES: dict[str, Any] = {
    "data": [
        {
            "id": "whd_01jq8del001",
            "event": "job.succeeded",
            "status": "delivered",
            "http_status": 200,
            "attempt": 1,
            "delivered_at": "2025-03-27T14:55:01Z",
        },
        {
            "id": "whd_01jq8del002",
            "event": "job.failed",
            "status": "failed",
            "http_status": 503,
            "attempt": 3,
            "last_error": "connection reset by peer",
            "delivered_at": None,
        },
    ]
}
OPENAPI_YAML = "openapi: 3.0.3\ninfo:\n  title: Planasonix Orchestration API\n  version: v1\n"


def payload(example: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of an example, safe to mutate in a test."""
    return copy.deepcopy(example)


# --- Building answers ------------------------------------------------------------------------


def ok(body: Any = None, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers or None)


def api_error(
    status: int,
    code: str = "some_code",
    message: str = "something went wrong",
    request_id: str | None = "req_01jqTEST",
    **headers: str,
) -> httpx.Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if request_id is not None:
        error["request_id"] = request_id
    return httpx.Response(status, json={"error": error}, headers=headers or None)


def raw(status: int, content: bytes | str, content_type: str = "text/html") -> httpx.Response:
    return httpx.Response(status, content=content, headers={"content-type": content_type})


def page(items: list[dict[str, Any]], cursor: str | None, limit: int = 50) -> httpx.Response:
    return ok({"data": items, "meta": {"page": {"limit": limit, "cursor": cursor}}})


Step = httpx.Response | type[httpx.TransportError] | Callable[[httpx.Request], httpx.Response]


class Script:
    """A transport handler that answers with ``steps`` in order and records every request.

    A step is a response, an httpx transport error class (raised for that request), or a
    function of the request. ``repeat_last`` keeps answering with the last step.
    """

    def __init__(self, *steps: Step, repeat_last: bool = False) -> None:
        self.steps = list(steps)
        self.repeat_last = repeat_last
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        index = len(self.requests) - 1
        if index >= len(self.steps):
            if not self.repeat_last:
                raise AssertionError(
                    f"unexpected request #{index + 1}: {request.method} {request.url}"
                )
            index = len(self.steps) - 1
        step = self.steps[index]
        if isinstance(step, type) and issubclass(step, httpx.TransportError):
            raise step(f"simulated {step.__name__}", request=request)
        if isinstance(step, httpx.Response):
            # A fresh copy each time: a client takes over the stream of a response it receives.
            return httpx.Response(step.status_code, headers=step.headers, content=step.content)
        handler = cast(Callable[[httpx.Request], httpx.Response], step)
        return handler(request)

    @property
    def count(self) -> int:
        return len(self.requests)

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]


class ClosingTransport(httpx.MockTransport):
    """A mock transport that records whether its owner closed it (the pool)."""

    def __init__(self, handler: Callable[[httpx.Request], httpx.Response]) -> None:
        super().__init__(handler)
        self.closed = False

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


def fast_policy(
    max_attempts: int = 4, backoff_base: float = 0.1, max_wait: float = 5.0
) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=max_attempts,
        backoff_base=backoff_base,
        max_wait=max_wait,
        rng=random.Random(0),
    )


def body_of(request: httpx.Request) -> Any:
    """The JSON body of a request, or None when it has no body at all."""
    return json.loads(request.content) if request.content else None


def params_of(request: httpx.Request) -> dict[str, str]:
    return dict(request.url.params.multi_items())


def assert_no_secret(exc: BaseException, secret: str = API_KEY) -> None:
    """The key is in no message, repr or formatted traceback of ``exc`` and its causes."""
    seen: BaseException | None = exc
    while seen is not None:
        assert secret not in str(seen), f"API key leaked in {type(seen).__name__}: {seen}"
        assert secret not in repr(seen)
        seen = seen.__cause__ or seen.__context__
    assert secret not in "".join(traceback.format_exception(exc))


class Api:
    """One client, sync or async, on a scripted transport, with its waits recorded."""

    def __init__(
        self,
        kind: str,
        script: Script,
        *,
        retry: RetryPolicy | None = None,
        api_key: str = API_KEY,
    ) -> None:
        self.kind = kind
        self.script = script
        self.sleeps: list[float] = []
        self.transport = ClosingTransport(script)
        policy = retry or fast_policy()
        self.client: PlanasonixClient | AsyncPlanasonixClient
        if kind == "sync":
            self.client = PlanasonixClient(
                BASE_URL, api_key, transport=self.transport, retry=policy, sleep=self.sleeps.append
            )
        else:

            async def record(delay: float) -> None:
                self.sleeps.append(delay)

            self.client = AsyncPlanasonixClient(
                BASE_URL, api_key, transport=self.transport, retry=policy, sleep=record
            )

    async def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call a client method; await it, and drain it when it is an iterator."""
        try:
            result = getattr(self.client, name)(*args, **kwargs)
            if inspect.isawaitable(result):
                return await result
            if hasattr(result, "__aiter__"):
                return [item async for item in result]
            if isinstance(result, Iterator):
                return list(result)
            return result
        except PlanasonixError as exc:
            assert_no_secret(exc)
            raise

    async def next_item(self, iterator: Any) -> Any:
        if hasattr(iterator, "__anext__"):
            return await iterator.__anext__()
        return next(iterator)

    async def close(self) -> None:
        if isinstance(self.client, AsyncPlanasonixClient):
            await self.client.aclose()
        else:
            self.client.close()


KINDS = ["sync", "async"]


class ApiPool:
    """Makes :class:`Api` harnesses of one kind and closes them all at the end of a test."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.made: list[Api] = []

    def make(
        self, *steps: Step, retry: RetryPolicy | None = None, repeat_last: bool = False
    ) -> Api:
        api = Api(self.kind, Script(*steps, repeat_last=repeat_last), retry=retry)
        self.made.append(api)
        return api

    async def __aenter__(self) -> ApiPool:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for api in self.made:
            await api.close()
