"""Watching ``GET /api/v1/jobs`` for jobs that finish: the list poller and the per-watcher ledger.

The list's ``since`` bounds ``created_at``, not the finish time, so a job created long ago that
finishes now is only seen if the listing still reaches back to it. Both classes therefore keep a
*mark*: the ``created_at`` of the oldest job that was still running at the last look (or, when
none was, of the newest job seen). Every job created before the mark has ended and been handled;
the next listing starts there. The ledger also remembers which jobs it has handled since the mark,
so that a job listed again (it stays ``succeeded``) never fires twice.

:class:`JobListPoller` makes the requests; :class:`JobLedger` decides what fires. They are apart
because, on Airflow lines with shared streams, one poller feeds the ledgers of many watchers.

DAG files import the event trigger, which imports this module: the client and the pydantic models
are imported when a poll runs, not here.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from planasonix_provider.api.status import JOB_ACTIVE_STATUSES, JOB_TERMINAL_STATUSES

if TYPE_CHECKING:
    from planasonix_provider.api import AsyncPlanasonixClient
    from planasonix_provider.api.models import Job

#: Each listing reaches this far back behind the mark: a job the API makes visible a little after
#: a newer one, or an API whose ``since`` is exclusive, is still listed. The ledger's memory of
#: handled jobs covers the overlap, so the overlap costs requests, never a second event.
OVERLAP_SECONDS = 30.0
#: The most job ids a ledger remembers (about 45 bytes each in the asset state store, whose default
#: comfortable size is 64 KB). Past it, the oldest are forgotten and jobs created before them are
#: ignored (the *floor*): a job older than a thousand newer finished jobs is given up on.
MAX_REMEMBERED = 1_000
#: A poller's first look lists the jobs created this far back whatever their status: a running
#: job in a status the reference does not name (its statuses are examples) cannot be asked for by
#: status, and must still hold the mark. Such a job created earlier than this is not waited for.
FIRST_LOOK_BACK_SECONDS = 24 * 3600.0
STATE_VERSION = 1


def created_of(job: Job) -> float | None:
    return None if job.created_at is None else job.created_at.timestamp()


def as_datetime(moment: float | None) -> datetime | None:
    return None if moment is None else datetime.fromtimestamp(moment, timezone.utc)


def next_mark(
    jobs: Sequence[Job], since: float | None, mark: float | None, listed: Sequence[Job] = ()
) -> float | None:
    """Where the next listing may start, after a complete listing of the jobs created at or after
    ``since``: at the oldest of ``jobs`` still running, or, when all have ended, at the newest job
    listed. ``listed`` is the whole listing when ``jobs`` is one watcher's part of a shared one:
    a watcher none of whose jobs runs has handled everything up to the newest job of any kind."""
    active = [c for j in jobs if j.status not in JOB_TERMINAL_STATUSES if (c := created_of(j))]
    if active:
        return min(active)
    known = [c for j in (*jobs, *listed) if (c := created_of(j)) is not None]
    known += [m for m in (since, mark) if m is not None]
    return max(known) if known else None


@dataclass(frozen=True)
class Snapshot:
    """Every job created at or after ``since`` (all jobs when None) that one poll listed."""

    since: float | None
    jobs: Sequence[Job]


@dataclass(frozen=True)
class JobFilter:
    """The server-side filters of a listing, also applied to a shared, unfiltered one."""

    connection_id: str | None = None
    pipeline_id: str | None = None
    job_type: str | None = None

    def matches(self, job: Job) -> bool:
        return all(
            wanted is None or wanted == value
            for wanted, value in (
                (self.connection_id, job.connection_id),
                (self.pipeline_id, job.pipeline_id),
                (self.job_type, job.type),
            )
        )

    def query(self) -> dict[str, Any]:
        return {
            "connection_id": self.connection_id,
            "pipeline_id": self.pipeline_id,
            "type": self.job_type,
        }


class JobListPoller:
    """Lists the jobs a set of ledgers needs, one listing per poll.

    The first poll also finds the jobs already running (by the known running statuses, however
    old; in any status not ended, over the last :data:`FIRST_LOOK_BACK_SECONDS`) and the newest
    job, so that it starts from a bounded mark instead of the account's whole history.
    """

    def __init__(self, job_filter: JobFilter = JobFilter(), page_size: int = 100) -> None:
        self.job_filter = job_filter
        self.page_size = page_size
        self.mark: float | None = None
        self.started = False

    async def poll(
        self, client: AsyncPlanasonixClient, needed_marks: Iterable[float | None] = ()
    ) -> Snapshot:
        """List the jobs from the oldest of this poller's mark and ``needed_marks`` (a ledger's
        mark after a restart may be older than the poller's); None among them lists all jobs."""
        if not self.started:
            self.mark = await self._first_mark(client)
            self.started = True
        marks = [self.mark, *needed_marks]
        oldest = None if None in marks else min(m for m in marks if m is not None)
        since = None if oldest is None else oldest - OVERLAP_SECONDS
        jobs = [
            job
            async for job in client.list_jobs(
                **self.job_filter.query(), since=as_datetime(since), page_size=self.page_size
            )
        ]
        self.mark = next_mark(jobs, since, self.mark)
        return Snapshot(since, jobs)

    async def _first_mark(self, client: AsyncPlanasonixClient) -> float | None:
        import planasonix_provider.api.operations as ops

        query = self.job_filter.query()
        created: list[float | None] = []
        for status in sorted(JOB_ACTIVE_STATUSES):
            created += [
                created_of(job)
                async for job in client.list_jobs(**query, status=status, page_size=self.page_size)
            ]
        look_back = as_datetime(time.time() - FIRST_LOOK_BACK_SECONDS)
        created += [
            created_of(job)
            async for job in client.list_jobs(**query, since=look_back, page_size=self.page_size)
            if job.status not in JOB_TERMINAL_STATUSES
        ]
        newest = await client.send(ops.list_jobs_page(**query, page_size=1))
        created += [created_of(job) for job in newest.items]
        known = [c for c in created if c is not None]
        return min(known) if known else None


class JobLedger:
    """What one watcher has handled: its mark, and the ids of ended jobs created since then.

    A fresh ledger takes its first snapshot as the baseline: jobs that have already ended are
    remembered without firing, so a new watcher does not replay the account's history.
    """

    def __init__(
        self,
        mark: float | None = None,
        done: dict[str, float] | None = None,
        floor: float | None = None,
        started: bool = False,
    ) -> None:
        self.mark = mark
        self.done: dict[str, float] = dict(done or {})
        self.floor = floor
        self.started = started
        self.changed = False

    # --- persistence -------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "mark": self.mark,
            "floor": self.floor,
            "done": self.done,
            "started": self.started,
        }

    @classmethod
    def from_state(cls, state: Any) -> JobLedger | None:
        """A ledger from what :meth:`to_state` stored; None when ``state`` is not such a value."""
        if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
            return None
        done = state.get("done")
        if not isinstance(done, dict):
            return None
        return cls(
            mark=_number(state.get("mark")),
            done={str(k): float(v) for k, v in done.items() if isinstance(v, (int, float))},
            floor=_number(state.get("floor")),
            started=bool(state.get("started")),
        )

    # --- observing -----------------------------------------------------------------------------

    def covers(self, snapshot: Snapshot) -> bool:
        """Whether the snapshot reaches back far enough for this ledger to trust it."""
        if not self.started or snapshot.since is None:
            return True
        return self.mark is not None and snapshot.since <= self.mark

    def observe(
        self, snapshot: Snapshot, jobs: Sequence[Job], statuses: frozenset[str]
    ) -> list[Job]:
        """The jobs of ``jobs`` (the snapshot's jobs this watcher wants) that newly reached one of
        ``statuses``; each job id is returned at most once in the ledger's life."""
        fresh = not self.started
        ignore_before = self._ignore_before()
        fired: list[Job] = []
        for job in jobs:
            created = created_of(job)
            if created is None or job.status not in JOB_TERMINAL_STATUSES or job.id in self.done:
                continue
            if ignore_before is not None and created < ignore_before:
                continue  # handled before the mark: pruned from memory, not new
            self.done[job.id] = created
            self.changed = True
            if not fresh and job.status in statuses:
                fired.append(job)
        mark = next_mark(jobs, snapshot.since, self.mark, snapshot.jobs)
        if mark != self.mark or fresh:
            self.mark, self.started, self.changed = mark, True, True
        self._forget()
        return fired

    def _ignore_before(self) -> float | None:
        bounds = [b for b in (self.floor, _minus_overlap(self.mark)) if b is not None]
        return max(bounds) if bounds else None

    def _forget(self) -> None:
        """Drop what the next listing cannot bring back, then the oldest past the cap."""
        ignore_before = self._ignore_before()
        if ignore_before is not None:
            stale = [job_id for job_id, created in self.done.items() if created < ignore_before]
            for job_id in stale:
                del self.done[job_id]
            self.changed = self.changed or bool(stale)
        if len(self.done) > MAX_REMEMBERED:
            ordered = sorted(self.done.items(), key=lambda item: item[1])
            kept = ordered[len(ordered) - MAX_REMEMBERED :]
            self.floor = kept[0][1]
            self.done = dict(kept)
            self.changed = True


def _minus_overlap(mark: float | None) -> float | None:
    return None if mark is None else mark - OVERLAP_SECONDS


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
