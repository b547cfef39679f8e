"""The in-memory store: jobs, backfills, webhooks, scenarios, faults, counters, and the clock.

Everything runs on the server's one event loop, so the store needs no locks. Lifecycle events are
not timers either: each job pushes the moments it changes state onto a heap, and the ticker pops
the due ones (see :meth:`Store.collect_events`), so idle jobs cost nothing.
"""

from __future__ import annotations

import heapq
import json
import math
import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any

from planasonix_provider.api.models import BackfillRequest, Metadata, SyncRequest
from planasonix_provider.api.status import is_backfill_terminal, is_job_terminal
from planasonix_provider.sandbox.config import (
    DEFAULT_ROWS,
    DEFAULT_TABLES,
    PROFILES,
    FaultSpec,
    Profile,
    SandboxConfig,
    Scenario,
)
from planasonix_provider.sandbox.records import (
    BackfillRecord,
    DeliveryRecord,
    JobRecord,
    WebhookRecord,
)

CANCEL_GRACE = 0.3
SHARD_DAYS = 30
MAX_SHARDS = 5
_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"

Event = tuple[str, dict[str, Any]]


class FaultRecord:
    __slots__ = ("hits", "id", "remaining", "spec")

    def __init__(self, fault_id: str, spec: FaultSpec, remaining: int | None, hits: int = 0):
        self.id = fault_id
        self.spec = spec
        self.remaining = remaining
        self.hits = hits

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            **self.spec.model_dump(),
            "remaining": self.remaining,
            "hits": self.hits,
        }


def _started_counter() -> dict[str, Any]:
    return {"total": 0, "by_connection": {}, "by_metadata": {}}


class Store:
    """All sandbox state. ``now`` is injectable so that unit tests can drive the clock."""

    def __init__(
        self,
        config: SandboxConfig,
        *,
        seed: int,
        speed: float,
        now: Callable[[], float] = time.time,
        profile: Profile = PROFILES["reference"],
    ) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.config = config
        self.profile = profile
        self.seed = seed
        self.speed = speed
        self.now = now
        self.restricted = None if config.connections is None else frozenset(config.connections)
        self.dirty = True
        self.reset(initial=True)

    # --- set-up ------------------------------------------------------------------------------

    def reset(self, *, initial: bool = False) -> None:
        """Back to an empty sandbox; the config's scenarios and faults only apply at start."""
        self.ids = random.Random(self.seed)
        self.data_rng = random.Random(self.seed + 1)
        self.fault_rng = random.Random(self.seed + 2)
        self.seq = 0
        self.jobs: dict[str, JobRecord] = {}
        self.backfills: dict[str, BackfillRecord] = {}
        self.webhooks: dict[str, WebhookRecord] = {}
        self.deliveries: dict[str, list[DeliveryRecord]] = {}
        self.connections: set[str] = set()
        self.scenarios: dict[str, Scenario] = dict(self.config.scenarios) if initial else {}
        self.faults: list[FaultRecord] = []
        if initial:
            for spec in self.config.faults:
                self.add_fault(spec)
        self.requests: dict[str, int] = defaultdict(int)
        self.jobs_started = _started_counter()
        self.backfills_started = _started_counter()
        self.timeline: list[tuple[float, str]] = []
        self.events: list[Event] = []
        self.dirty = True

    def new_id(self, prefix: str, length: int = 20) -> str:
        bits = self.ids.getrandbits(5 * length)
        chars = [_ALPHABET[(bits >> (5 * i)) & 31] for i in range(length)]
        return prefix + "".join(chars)

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def scaled(self, seconds: float) -> float:
        return seconds / self.speed

    # --- connections and scenarios -----------------------------------------------------------

    def connection_exists(self, connection_id: str) -> bool:
        if self.restricted is not None:
            return connection_id in self.restricted
        self.connections.add(connection_id)
        return True

    def scenario_for(self, connection_id: str) -> Scenario:
        return self.scenarios.get(connection_id) or Scenario()

    # --- jobs ----------------------------------------------------------------------------------

    def _rows(self, scenario: Scenario, tables: list[str]) -> dict[str, int]:
        if scenario.rows is not None:
            return dict.fromkeys(tables, scenario.rows)
        return {t: DEFAULT_ROWS + self.data_rng.randint(-100, 100) for t in tables}

    def _new_job(
        self,
        kind: str,
        connection_id: str,
        scenario: Scenario,
        *,
        start_at: float,
        tables: list[str],
        outcome: str,
        pipeline_id: str | None = None,
        metadata: Metadata | None = None,
        priority: str | None = None,
        backfill_id: str | None = None,
        created: float | None = None,
    ) -> JobRecord:
        created = self.now() if created is None else created
        job = JobRecord(
            id=self.new_id("job_"),
            seq=self.next_seq(),
            type=kind,
            connection_id=connection_id,
            pipeline_id=pipeline_id,
            created=created,
            start_at=start_at,
            finish_at=start_at + self.scaled(scenario.duration),
            outcome=outcome,
            rows=self._rows(scenario, tables),
            warnings=[w.model_dump() for w in scenario.warnings],
            error_code=scenario.error_code,
            error_message=scenario.error_message,
            metadata=metadata,
            priority=priority,
            backfill_id=backfill_id,
        )
        self.jobs[job.id] = job
        self._schedule(job)
        if created <= self.now():  # a shard that appears later is announced when it starts
            self.events.append(("job.queued", job.view(created)))
        self.dirty = True
        return job

    def _schedule(self, job: JobRecord) -> None:
        for moment in (job.start_at, job.finish_at, job.cancel_done):
            if moment is not None:
                heapq.heappush(self.timeline, (moment, job.id))

    def create_sync(self, connection_id: str, request: SyncRequest) -> JobRecord:
        scenario = self.scenario_for(connection_id)
        now = self.now()
        job = self._new_job(
            "connection_sync",
            connection_id,
            scenario,
            start_at=now + self.scaled(scenario.queued_for),
            tables=list(scenario.tables or DEFAULT_TABLES),
            outcome=scenario.outcome,
            pipeline_id=request.pipeline_id,
            metadata=request.metadata,
            priority=request.priority,
            created=now,
        )
        _count(self.jobs_started, connection_id, request.metadata)
        return job

    def create_backfill(self, connection_id: str, request: BackfillRequest) -> BackfillRecord:
        """Shards of at most 30 days (at most 5, equal, for long windows) run one after another.

        The last shard carries the scenario's outcome, so progress visibly advances first.
        """
        scenario = self.scenario_for(connection_id)
        now = self.now()
        tables = list(request.tables or scenario.tables or DEFAULT_TABLES)
        window = request.end_at - request.start_at
        count = max(1, min(MAX_SHARDS, math.ceil(window / timedelta(days=SHARD_DAYS))))
        backfill = BackfillRecord(
            id=self.new_id("bf_"),
            seq=self.next_seq(),
            connection_id=connection_id,
            start_at=_z(request.start_at),
            end_at=_z(request.end_at),
            tables=tables,
            job_ids=[],
            created=now,
            metadata=request.metadata,
            priority=request.priority,
        )
        start = now + self.scaled(scenario.queued_for)
        over_time = self.profile.shards_over_time
        for index in range(count):
            job = self._new_job(
                "backfill",
                connection_id,
                scenario,
                start_at=start,
                tables=tables,
                outcome=scenario.outcome if index == count - 1 else "succeed",
                metadata=request.metadata,
                priority=request.priority,
                backfill_id=backfill.id,
                # Over time: a shard exists (is listed, readable) once the previous one ended.
                created=start if over_time and index > 0 else now,
            )
            backfill.job_ids.append(job.id)
            start = job.finish_at
        self.backfills[backfill.id] = backfill
        _count(self.backfills_started, connection_id, request.metadata)
        return backfill

    def cancel(self, job: JobRecord) -> None:
        """Cancel a job that is not terminal; for a backfill shard, the whole backfill."""
        now = self.now()
        if is_job_terminal(job.status_at(now)) or job.cancel_requested is not None:
            return
        targets = [job]
        backfill = self.backfills.get(job.backfill_id or "")
        if backfill is not None and self.profile.shards_over_time:
            # One by one: this shard only; the backfill creates no further shards.
            self._drop_future_shards(backfill, now)
        elif backfill is not None:
            targets = [self.jobs[j] for j in backfill.job_ids]
        for target in targets:
            if target.cancel_requested is None and not is_job_terminal(target.status_at(now)):
                target.cancel_requested = now
                target.cancel_done = now + self.scaled(CANCEL_GRACE)
                self._schedule(target)
        self.dirty = True

    def _drop_future_shards(self, backfill: BackfillRecord, now: float) -> None:
        for job_id in list(backfill.job_ids):
            job = self.jobs.get(job_id)
            if job is not None and job.created > now:
                backfill.job_ids.remove(job_id)
                del self.jobs[job_id]

    def visible(self, job: JobRecord) -> bool:
        """A shard created over time does not exist before its creation time."""
        return job.created <= self.now()

    def shards(self, backfill: BackfillRecord) -> list[JobRecord]:
        now = self.now()
        return [
            job
            for j in backfill.job_ids
            if (job := self.jobs.get(j)) is not None and job.created <= now
        ]

    # --- lifecycle events ----------------------------------------------------------------------

    def collect_events(self) -> list[Event]:
        """Events due now: job.queued from creation, then started/terminal from the timeline."""
        now = self.now()
        while self.timeline and self.timeline[0][0] <= now:
            _, job_id = heapq.heappop(self.timeline)
            job = self.jobs.get(job_id)
            if job is not None:
                self._job_events(job, now)
        events, self.events = self.events, []
        return events

    def _job_events(self, job: JobRecord, now: float) -> None:
        status = job.status_at(now)
        wanted = []
        if job.started(now) is not None:
            wanted.append("job.started")
        if is_job_terminal(status):
            wanted.append(f"job.{status}")
        new = [event for event in wanted if event not in job.emitted]
        if not new:
            return
        data = job.view(now)
        for event in new:
            job.emitted.append(event)
            self.events.append((event, data))
        self.dirty = True
        backfill = self.backfills.get(job.backfill_id or "")
        if backfill is not None and is_job_terminal(status):
            shards = self.shards(backfill)
            bf_status = backfill.status_at(shards, now)
            if is_backfill_terminal(bf_status) and not backfill.emitted:
                backfill.emitted.append(f"backfill.{bf_status}")
                if bf_status in ("completed", "failed"):
                    view = backfill.view(shards, now)
                    self.events.append((f"backfill.{bf_status}", view))

    # --- webhooks ------------------------------------------------------------------------------

    def new_secret(self) -> str:
        return self.new_id("whsec_", 32)

    def add_delivery(self, webhook_id: str, event: str, body: str) -> DeliveryRecord:
        delivery = DeliveryRecord(
            id=self.new_id("whd_"),
            seq=self.next_seq(),
            webhook_id=webhook_id,
            event=event,
            body=body,
            created=self.now(),
        )
        self.deliveries.setdefault(webhook_id, []).append(delivery)
        self.dirty = True
        return delivery

    # --- faults and counters -------------------------------------------------------------------

    def add_fault(self, spec: FaultSpec) -> FaultRecord:
        fault = FaultRecord(self.new_id("flt_"), spec, spec.count)
        self.faults.append(fault)
        return fault

    def match_fault(self, method: str, path: str) -> FaultSpec | None:
        """The first fault that applies to this request, using up one of its ``count``."""
        for fault in self.faults:
            spec = fault.spec
            if spec.method not in ("*", method) or not fnmatchcase(path, spec.path):
                continue
            if spec.probability is not None and self.fault_rng.random() >= spec.probability:
                continue
            fault.hits += 1
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.faults.remove(fault)
            return spec
        return None

    def counters(self) -> dict[str, Any]:
        return {
            "requests": dict(sorted(self.requests.items())),
            "requests_total": sum(self.requests.values()),
            "jobs_started": self.jobs_started,
            "backfills_started": self.backfills_started,
        }


def _z(moment: datetime) -> str:
    from planasonix_provider.api.checks import to_rfc3339

    return to_rfc3339(moment)


def _count(counter: dict[str, Any], connection_id: str, metadata: Metadata | None) -> None:
    counter["total"] += 1
    by_connection = counter["by_connection"]
    by_connection[connection_id] = by_connection.get(connection_id, 0) + 1
    for key, value in (metadata or {}).items():
        text = value if isinstance(value, str) else json.dumps(value)
        values = counter["by_metadata"].setdefault(key, {})
        values[text] = values.get(text, 0) + 1


def page(items: Iterable[Any], limit: int, after: int | None) -> tuple[list[Any], int | None]:
    """Newest first, keyset on ``seq``: ``after`` is the last seq of the previous page."""
    chosen = []
    for item in items:
        if after is not None and item.seq >= after:
            continue
        chosen.append(item)
        if len(chosen) > limit:
            break
    if len(chosen) > limit:
        return chosen[:limit], chosen[limit - 1].seq
    return chosen, None
