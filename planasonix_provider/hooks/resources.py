"""Fetch and cancel a job or a backfill by kind, for the code that waits on either.

The API has no cancel for a backfill: cancelling one cancels each of its jobs that is not
finished, which ends the backfill as cancelled.
"""

from __future__ import annotations

from typing import Literal

from planasonix_provider.api import AsyncPlanasonixClient, PlanasonixClient
from planasonix_provider.api import operations as ops
from planasonix_provider.api.models import Backfill, Job
from planasonix_provider.api.operations import Operation
from planasonix_provider.api.status import is_job_terminal

Kind = Literal["job", "backfill"]


def fetch_operation(kind: Kind, resource_id: str) -> Operation[Job | Backfill]:
    """The request that reads a job or a backfill: build it once, send it on every poll."""
    return ops.get_job(resource_id) if kind == "job" else ops.get_backfill(resource_id)


def fetch(client: PlanasonixClient, kind: Kind, resource_id: str) -> Job | Backfill:
    return client.get_job(resource_id) if kind == "job" else client.get_backfill(resource_id)


def cancel(client: PlanasonixClient, kind: Kind, resource_id: str) -> list[str]:
    """Cancel the work; return the ids of the jobs asked to stop."""
    if kind == "job":
        client.cancel_job(resource_id)
        return [resource_id]
    backfill = client.get_backfill(resource_id)
    cancelled = []
    for job_id in backfill.job_ids:
        if not is_job_terminal(client.get_job(job_id).status):
            client.cancel_job(job_id)
            cancelled.append(job_id)
    return cancelled


async def acancel(client: AsyncPlanasonixClient, kind: Kind, resource_id: str) -> list[str]:
    """Cancel the work; return the ids of the jobs asked to stop."""
    if kind == "job":
        await client.cancel_job(resource_id)
        return [resource_id]
    backfill = await client.get_backfill(resource_id)
    cancelled = []
    for job_id in backfill.job_ids:
        if not is_job_terminal((await client.get_job(job_id)).status):
            await client.cancel_job(job_id)
            cancelled.append(job_id)
    return cancelled
