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
from planasonix_provider.api.status import is_backfill_terminal, is_job_terminal

Kind = Literal["job", "backfill"]


def fetch_operation(kind: Kind, resource_id: str) -> Operation[Job | Backfill]:
    """The request that reads a job or a backfill: build it once, send it on every poll."""
    return ops.get_job(resource_id) if kind == "job" else ops.get_backfill(resource_id)


def fetch(client: PlanasonixClient, kind: Kind, resource_id: str) -> Job | Backfill:
    return client.get_job(resource_id) if kind == "job" else client.get_backfill(resource_id)


#: Re-reads of a backfill while cancelling: each catches shards created since the last one.
CANCEL_ROUNDS = 5


def cancel(client: PlanasonixClient, kind: Kind, resource_id: str) -> list[str]:
    """Cancel the work; return the ids of the jobs asked to stop.

    A backfill may create shard jobs while it is being cancelled (the reference says only that
    large windows shard): its shards are re-read after each round of cancels, until a read shows
    no shard left to ask, the backfill has ended, or the rounds run out.
    """
    if kind == "job":
        client.cancel_job(resource_id)
        return [resource_id]
    asked: list[str] = []
    cancelled_now: list[str] = []
    for _ in range(CANCEL_ROUNDS):
        backfill = client.get_backfill(resource_id)
        fresh = [job_id for job_id in backfill.job_ids if job_id not in asked]
        if not fresh:
            break
        for job_id in fresh:
            asked.append(job_id)
            if not is_job_terminal(client.get_job(job_id).status):
                client.cancel_job(job_id)
                cancelled_now.append(job_id)
        if is_backfill_terminal(backfill.status):
            break
    return cancelled_now


async def acancel(client: AsyncPlanasonixClient, kind: Kind, resource_id: str) -> list[str]:
    """Cancel the work; return the ids of the jobs asked to stop (see :func:`cancel`)."""
    if kind == "job":
        await client.cancel_job(resource_id)
        return [resource_id]
    asked: list[str] = []
    cancelled_now: list[str] = []
    for _ in range(CANCEL_ROUNDS):
        backfill = await client.get_backfill(resource_id)
        fresh = [job_id for job_id in backfill.job_ids if job_id not in asked]
        if not fresh:
            break
        for job_id in fresh:
            asked.append(job_id)
            if not is_job_terminal((await client.get_job(job_id)).status):
                await client.cancel_job(job_id)
                cancelled_now.append(job_id)
        if is_backfill_terminal(backfill.status):
            break
    return cancelled_now
