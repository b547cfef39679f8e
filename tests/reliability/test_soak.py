"""Soak (opt in with PLANASONIX_SOAK=1): 200 concurrent deferrable waits under 10 % random faults.

Each wait's job is started through the async client, then 200 ``PlanasonixJobTrigger.run()`` run
concurrently in one event loop against the sandbox, whose GETs on /api/v1/jobs/* fail at random
(503 or a dropped connection, 10 % each). Every wait must end in success, with one job each.
``PLANASONIX_SOAK_SECONDS`` (default 60) is how long the jobs run, so how long the soak lasts.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter

import pytest

from planasonix_provider.api import AsyncPlanasonixClient
from planasonix_provider.sandbox.testing import SandboxHandle
from planasonix_provider.triggers.planasonix import PlanasonixJobTrigger
from tests.reliability.conftest import FIGURES, Faults, conn_json, run_trigger

pytestmark = [
    pytest.mark.soak,
    pytest.mark.skipif(
        os.environ.get("PLANASONIX_SOAK") != "1", reason="soak tests are opt in: PLANASONIX_SOAK=1"
    ),
]

WAITS = 200
FAULT_PROBABILITY = 0.1


def soak_seconds() -> float:
    return float(os.environ.get("PLANASONIX_SOAK_SECONDS") or 60)


async def test_200_concurrent_deferrable_waits_under_random_faults(
    sandbox: SandboxHandle, faults: Faults, monkeypatch: pytest.MonkeyPatch
) -> None:
    duration = soak_seconds()
    conn = "rel_soak"
    monkeypatch.setenv(
        "AIRFLOW_CONN_PLANASONIX_SOAK",
        conn_json(
            sandbox.base_url,
            sandbox.api_key,
            timeout=10,
            retry_attempts=4,
            retry_max_wait=1,
        ),
    )
    sandbox.control.set_scenario(conn, duration=max(duration - 5, 1), queued_for=1)
    before = sandbox.control.jobs_started(connection_id=conn)
    async with AsyncPlanasonixClient(sandbox.base_url, sandbox.api_key, timeout=30) as api:
        jobs = await asyncio.gather(
            *(api.trigger_sync(conn, metadata={"soak_index": i}) for i in range(WAITS))
        )
    faults.add(method="GET", path="/api/v1/jobs/*", status=503, probability=FAULT_PROBABILITY)
    faults.add(method="GET", path="/api/v1/jobs/*", drop=True, probability=FAULT_PROBABILITY)
    started = time.monotonic()
    deadline = time.time() + duration * 3 + 60
    payloads = await asyncio.gather(
        *(
            run_trigger(
                PlanasonixJobTrigger(
                    job.id,
                    planasonix_conn_id="planasonix_soak",
                    poll_interval=1.0,
                    deadline=deadline,
                ),
                timeout=duration * 3 + 120,
            )
            for job in jobs
        )
    )
    elapsed = time.monotonic() - started
    hits = faults.hits()
    statuses = Counter(p["status"] for p in payloads)
    per_job = sandbox.control.counters()["jobs_started"]["by_metadata"]["soak_index"]
    FIGURES.soak = {
        "waits": WAITS,
        "seconds": round(elapsed, 1),
        "outcomes": dict(statuses),
        "faults_injected": sum(hits.values()),
        "jobs_started": sandbox.control.jobs_started(connection_id=conn) - before,
        "job_get_requests": sandbox.control.counters()["requests"].get("GET /api/v1/jobs/{job_id}"),
    }
    FIGURES.outcome("soak", "success" if statuses == {"success": WAITS} else "FAILED")
    assert statuses == {"success": WAITS}, [
        p["message"] for p in payloads if p["status"] != "success"
    ]
    assert {p["resource_id"] for p in payloads} == {job.id for job in jobs}
    assert sandbox.control.jobs_started(connection_id=conn) - before == WAITS
    assert all(per_job.get(str(i)) == 1 for i in range(WAITS)), per_job
    assert sum(hits.values()) > 0
