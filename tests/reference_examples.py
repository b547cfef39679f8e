"""The example payloads of the API reference (reference/orchestration-api-v1.md), verbatim.

One copy for every test that needs them: the client tests answer with them, the sandbox's OpenAPI
tests check the document's schemas and our models against them. A change to the reference is
made here once. Use :func:`payload` for a copy that a test may change.
"""

from __future__ import annotations

import copy
from typing import Any

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
WEBHOOK_TEST_REQUEST: dict[str, Any] = {"event": "job.succeeded"}
WEBHOOK_TEST: dict[str, Any] = {"data": {"delivery_id": "whd_01jq8test01", "status": "pending"}}
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
