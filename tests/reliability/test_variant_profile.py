"""The main reliability scenarios again, against the sandbox's ``variant`` profile (issue 13):
string errors, no metadata echo, results stubs, backfill shards created over time and cancelled
one by one. ``pytest tests/reliability --planasonix-sandbox-profile=variant`` runs the whole suite
so; this module keeps the main scenarios in every run."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from planasonix_provider.api import PlanasonixClient
from planasonix_provider.sandbox.testing import SandboxHandle, run_sandbox
from planasonix_provider.triggers.planasonix import PlanasonixJobTrigger
from planasonix_provider.wait import WaitOutcome
from tests.reliability.conftest import FIGURES, POLL, run_trigger, wait_until
from tests.reliability.test_dag_runs import (
    test_ambiguous_start_fails_clearly_and_starts_one_job as test_variant_ambiguous_start,
)
from tests.reliability.test_dag_runs import (
    test_backfill_deferrable_rides_out_faults as test_variant_backfill_rides_out_faults,
)
from tests.reliability.test_dag_runs import (
    test_worker_mode_rides_out_faults_on_every_call as test_variant_worker_rides_out_faults,
)
from tests.reliability.test_transient_faults import backfill_op, timed_worker_wait
from tests.reliability.test_transient_faults import (
    test_cancel_on_deadline as test_variant_cancel_on_deadline,
)
from tests.reliability.test_transient_faults import test_get_job as test_variant_get_job
from tests.reliability.test_transient_faults import (
    test_get_results as test_variant_get_results,
)
from tests.reliability.test_transient_faults import (
    test_trigger_sync as test_variant_trigger_sync,
)

__all__ = [
    "test_variant_ambiguous_start",
    "test_variant_backfill_rides_out_faults",
    "test_variant_cancel_on_deadline",
    "test_variant_get_job",
    "test_variant_get_results",
    "test_variant_trigger_sync",
    "test_variant_worker_rides_out_faults",
]

START = datetime(2025, 1, 1, tzinfo=timezone.utc)
SHARD_SECONDS = 1.0


@pytest.fixture(scope="module")
def rel_sandbox() -> Iterator[SandboxHandle]:
    """Overrides the suite's session sandbox for this module: the same scenarios, other shapes."""
    with run_sandbox(seed=17, speed=1.0, profile="variant") as handle:
        yield handle
        counters = handle.control.counters()
        FIGURES.jobs_started += counters["jobs_started"]["total"]
        FIGURES.backfills_started += counters["backfills_started"]["total"]


def _backfill_of_three_shards(sandbox: SandboxHandle, conn: str) -> str:
    sandbox.control.set_scenario(conn, duration=SHARD_SECONDS, queued_for=0)
    with PlanasonixClient(sandbox.base_url, sandbox.api_key) as api:
        backfill = api.trigger_backfill(conn, start_at=START, end_at=START + timedelta(days=90))
    assert len(backfill.job_ids) == 1  # the other two shards do not exist yet
    return backfill.id


def _check_cancelled(sandbox: SandboxHandle, backfill_id: str, outcome: WaitOutcome) -> None:
    assert outcome.status == "timeout", outcome.message
    with PlanasonixClient(sandbox.base_url, sandbox.api_key) as api:
        wait_until(lambda: api.get_backfill(backfill_id).status == "cancelled")
        job_ids = api.get_backfill(backfill_id).job_ids
        statuses = [api.get_job(job_id).status for job_id in job_ids]
    # The shard cancelled is one created after the wait began; none was created after it.
    assert len(job_ids) == 2, job_ids
    assert statuses == ["succeeded", "cancelled"]
    assert f"cancelled ({job_ids[1]})" in outcome.message, outcome.message


async def test_a_deferred_backfill_deadline_reaches_a_shard_created_during_the_wait(
    sandbox: SandboxHandle,
) -> None:
    backfill_id = _backfill_of_three_shards(sandbox, "rel_variant_bf_trigger")
    deadline = time.time() + 1.5 * SHARD_SECONDS  # the second shard runs by then
    trigger = PlanasonixJobTrigger(
        backfill_id, kind="backfill", poll_interval=POLL, deadline=deadline
    )
    outcome = WaitOutcome.from_event(await run_trigger(trigger))
    _check_cancelled(sandbox, backfill_id, outcome)
    FIGURES.outcome("variant/backfill-deadline/deferrable", "timeout+cancelled")


async def test_a_worker_backfill_deadline_reaches_a_shard_created_during_the_wait(
    sandbox: SandboxHandle,
) -> None:
    backfill_id = _backfill_of_three_shards(sandbox, "rel_variant_bf_worker")
    deadline = time.time() + 1.5 * SHARD_SECONDS
    op = backfill_op(timeout=1.5 * SHARD_SECONDS)
    outcome, _ = await asyncio.to_thread(timed_worker_wait, op, backfill_id, deadline)
    _check_cancelled(sandbox, backfill_id, outcome)
    FIGURES.outcome("variant/backfill-deadline/worker", "timeout+cancelled")
