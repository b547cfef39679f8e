"""PlanasonixJobEventTrigger: asset events for Planasonix jobs that end, wherever they started.

Used in ``AssetWatcher(name=..., trigger=PlanasonixJobEventTrigger(...))``: Airflow runs it in the
triggerer for as long as the asset is watched, and every event it yields becomes an asset event
that schedules the DAGs consuming the asset. Watchers have no task instance, no context and no
templating: the arguments are plain JSON values, stored as they are.

DAG files import this module: the client and the models are imported when the trigger runs.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable, Hashable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar

import structlog
from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from planasonix_provider.airflow_lines import AirflowNotFoundException, has, missing_message
from planasonix_provider.api.errors import PlanasonixError
from planasonix_provider.api.status import JOB_TERMINAL_STATUSES
from planasonix_provider.hooks.job_events import (
    JobFilter,
    JobLedger,
    JobListPoller,
    Snapshot,
    as_datetime,
)
from planasonix_provider.hooks.planasonix import PlanasonixHook

if TYPE_CHECKING:
    from planasonix_provider.api.models import Job
    from planasonix_provider.hooks.planasonix import ConnectionSettings

#: Seconds. Below this a watcher is a load on the API rather than a faster one: job lists are
#: bigger requests than a job's status, and every watcher's mark holds back to its oldest job.
MIN_POLL_INTERVAL = 5.0
DEFAULT_STATUSES = ("succeeded",)
POLL_JITTER = 0.1
#: The key of this trigger's position in the asset state store (Airflow 3.3+).
STATE_KEY = "planasonix_job_events"
#: Seconds between firing events and saving the position that counts them as fired: longer than
#: the triggerer takes to store its events (it syncs them about once a second).
SAVE_SETTLE_SECONDS = 3.0

_log = structlog.get_logger(f"{__name__}.PlanasonixJobEventTrigger")

# The ledgers of the watchers that share one poll, by shared-stream key: the shared poll lists back
# to the oldest mark among them (a watcher restored after a restart may need an older one).
_shared_ledgers: dict[Hashable, dict[int, JobLedger]] = {}


class PlanasonixJobEventTrigger(BaseEventTrigger):
    """Fire one event per Planasonix job that newly reaches a watched status.

    :param planasonix_conn_id: the Airflow connection.
    :param connection_id: only jobs of this Planasonix connection (all when None).
    :param pipeline_id: only jobs of this pipeline.
    :param job_type: only jobs of this type (``connection_sync``, ``backfill``, ...).
    :param statuses: the terminal statuses that fire: any of ``succeeded``, ``failed``,
        ``cancelled`` (default: ``["succeeded"]``).
    :param poll_interval: seconds between two listings, at least :data:`MIN_POLL_INTERVAL`.
    :param page_size: jobs per page of the listing (1 to 100).
    """

    shared_stream_fields: ClassVar[tuple[str, ...]] = (
        "planasonix_conn_id",
        "poll_interval",
        "page_size",
    )

    def __init__(
        self,
        planasonix_conn_id: str = PlanasonixHook.default_conn_name,
        connection_id: str | None = None,
        pipeline_id: str | None = None,
        job_type: str | None = None,
        statuses: Iterable[str] | str | None = None,
        poll_interval: float = 30.0,
        page_size: int = 100,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        for field, value in (
            ("connection_id", connection_id),
            ("pipeline_id", pipeline_id),
            ("job_type", job_type),
        ):
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ValueError(f"{field} must be a non-empty string or None, got {value!r}")
        if poll_interval < MIN_POLL_INTERVAL:
            raise ValueError(
                f"poll_interval must be at least {MIN_POLL_INTERVAL:g} seconds, got "
                f"{poll_interval!r}: each poll lists jobs, so poll less often"
            )
        if not 1 <= page_size <= 100:
            raise ValueError(f"page_size must be between 1 and 100, got {page_size!r}")
        self.planasonix_conn_id = planasonix_conn_id
        self.connection_id = connection_id
        self.pipeline_id = pipeline_id
        self.job_type = job_type
        self.statuses = _checked_statuses(statuses)
        self.poll_interval = float(poll_interval)
        self.page_size = int(page_size)
        self._settings: ConnectionSettings | None = None
        self._saving_fails = False

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "planasonix_conn_id": self.planasonix_conn_id,
                "connection_id": self.connection_id,
                "pipeline_id": self.pipeline_id,
                "job_type": self.job_type,
                "statuses": list(self.statuses),
                "poll_interval": self.poll_interval,
                "page_size": self.page_size,
            },
        )

    @property
    def log(self) -> Any:
        """One logger for the class: Airflow routes lines by context variables, not by logger."""
        return _log

    @property
    def job_filter(self) -> JobFilter:
        return JobFilter(self.connection_id, self.pipeline_id, self.job_type)

    # --- Standalone: one poll per watcher (every line; on 3.3 only if sharing is turned off) ----

    async def run(self) -> AsyncIterator[TriggerEvent]:
        ledger = await self._restore()
        poller = JobListPoller(self.job_filter, self.page_size)
        self.log.info("Watching Planasonix jobs: %s", self._describe())
        snapshots = poll_forever(
            self.planasonix_conn_id,
            poller,
            lambda: [ledger.mark] if ledger.started else [],
            self.poll_interval,
        )
        async for snapshot in snapshots:
            payloads = await self._fire(ledger, snapshot)
            for payload in payloads:
                yield TriggerEvent(payload)  # type: ignore[no-untyped-call]
            await self._save(ledger, fired=bool(payloads))

    # --- Shared streams (Airflow 3.3+): one poll per Airflow connection and interval -----------

    def shared_stream_key(self) -> Hashable | None:
        """Watchers of one Airflow connection at one interval share a poll, whatever their
        filters: the shared listing is unfiltered and each watcher filters it."""
        return (type(self).__qualname__, *(getattr(self, f) for f in self.shared_stream_fields))

    @classmethod
    async def open_shared_stream(cls, kwargs: dict[str, Any]) -> AsyncIterator[Any]:
        trigger = cls(**{field: kwargs[field] for field in cls.shared_stream_fields})
        key = trigger.shared_stream_key()
        trigger.log.info(
            "One shared poll of Planasonix jobs on connection %r every %gs",
            trigger.planasonix_conn_id,
            trigger.poll_interval,
        )
        poller = JobListPoller(JobFilter(), trigger.page_size)

        def needed_marks() -> list[float | None]:
            return [
                ledger.mark for ledger in _shared_ledgers.get(key, {}).values() if ledger.started
            ]

        async for snapshot in poll_forever(
            trigger.planasonix_conn_id, poller, needed_marks, trigger.poll_interval
        ):
            yield snapshot

    async def filter_shared_stream(
        self, shared_stream: AsyncIterator[Any]
    ) -> AsyncIterator[TriggerEvent]:
        ledger = await self._restore()
        key = self.shared_stream_key()
        members = _shared_ledgers.setdefault(key, {})
        members[id(self)] = ledger
        self.log.info("Watching Planasonix jobs on a shared poll: %s", self._describe())
        try:
            async for snapshot in shared_stream:
                if not ledger.covers(snapshot):
                    continue  # the next poll reaches back to this ledger's mark
                payloads = await self._fire(ledger, snapshot)
                for payload in payloads:
                    yield TriggerEvent(payload)  # type: ignore[no-untyped-call]
                await self._save(ledger, fired=bool(payloads))
        finally:
            members.pop(id(self), None)
            if not members:
                _shared_ledgers.pop(key, None)

    # --- Shared by both ------------------------------------------------------------------------

    async def _fire(self, ledger: JobLedger, snapshot: Snapshot) -> list[dict[str, Any]]:
        wanted = [job for job in snapshot.jobs if self.job_filter.matches(job)]
        fired = ledger.observe(snapshot, wanted, frozenset(self.statuses))
        if not fired:
            return []
        settings = await self._connection_settings()
        payloads = []
        for job in fired:
            url = None if settings is None else settings.resource_url("job", job.id)
            self.log.info("Planasonix job %s is %s: firing", job.id, job.status)
            payloads.append(event_payload(job, url))
        return payloads

    async def _connection_settings(self) -> ConnectionSettings | None:
        if self._settings is None:
            try:
                self._settings = await PlanasonixHook(self.planasonix_conn_id).aget_settings()
            except (PlanasonixError, AirflowNotFoundException) as exc:
                self.log.warning("Events go without a job URL: %s", exc)
        return self._settings

    def _state_store(self) -> Any:
        return getattr(self, "asset_state_store", None)

    async def _restore(self) -> JobLedger:
        """The position saved by an earlier run of this watcher, where the line keeps one."""
        store = self._state_store()
        if store is None:
            if not has("asset state store"):
                self.log.warning(missing_message("asset state store"))
            return JobLedger()
        try:
            ledger = JobLedger.from_state(await store.aget(STATE_KEY))
        except Exception as exc:  # the store is Airflow's: any failure means "no position"
            self.log.warning("No saved position (%s): starting from the jobs running now", exc)
            return JobLedger()
        if ledger is None:
            return JobLedger()
        self.log.info(
            "Resuming from the saved position: jobs created since %s, %d ended jobs remembered",
            as_datetime(ledger.mark),
            len(ledger.done),
        )
        return ledger

    async def _save(self, ledger: JobLedger, fired: bool) -> None:
        """Save the position once Airflow has stored the events just fired.

        The triggerer hands events to its database about once a second and drops those it holds
        when it stops; saving at once would lose them in a restart, so the save waits
        :data:`SAVE_SETTLE_SECONDS`. A restart within that wait repeats those events instead.
        """
        store = self._state_store()
        if store is None or not ledger.changed:
            return
        if fired:
            await asyncio.sleep(SAVE_SETTLE_SECONDS)
        try:
            await store.aset(STATE_KEY, ledger.to_state())
        except Exception as exc:  # keep watching from memory; a restart then starts afresh
            if not self._saving_fails:  # logged when it starts failing, not at every poll
                self._saving_fails = True
                self.log.warning(
                    "Could not save the position in the asset state store (%s): a triggerer "
                    "restart will start afresh. A watcher whose arguments are identical on two "
                    "assets is one trigger with two stores: give each asset its own arguments.",
                    exc,
                )
            return
        if self._saving_fails:
            self._saving_fails = False
            self.log.info("The position is saved in the asset state store again")
        ledger.changed = False

    def _describe(self) -> str:
        filters = {k: v for k, v in self.job_filter.query().items() if v is not None}
        return (
            f"statuses {list(self.statuses)}, filters {filters or 'none'}, "
            f"every {self.poll_interval:g}s"
        )


async def poll_forever(
    planasonix_conn_id: str,
    poller: JobListPoller,
    needed_marks: Callable[[], list[float | None]],
    poll_interval: float,
) -> AsyncIterator[Snapshot]:
    """Yield one snapshot per interval for ever, polling on through failures.

    A watcher has no task to fail: errors the client already retried are logged when they start
    and when they stop, and polling goes on; an unusable connection is retried each interval.
    """
    from planasonix_provider.triggers.planasonix import TRANSIENT_ERRORS

    failing: str | None = None
    while True:
        try:
            async with PlanasonixHook(planasonix_conn_id).async_client() as client:
                while True:
                    try:
                        snapshot = await poller.poll(client, needed_marks())
                    except TRANSIENT_ERRORS as exc:
                        failing = _report_failure(failing, exc, "Listing Planasonix jobs failed")
                    else:
                        if failing is not None:
                            _log.info("Listing Planasonix jobs works again")
                            failing = None
                        yield snapshot
                    await asyncio.sleep(_jittered(poll_interval))
        except (PlanasonixError, AirflowNotFoundException) as exc:
            failing = _report_failure(
                failing, exc, f"Cannot list Planasonix jobs on connection {planasonix_conn_id!r}"
            )
            await asyncio.sleep(_jittered(poll_interval))


def _report_failure(previous: str | None, exc: BaseException, what: str) -> str:
    """Log a failure when its kind differs from the last one's: a watcher logs state changes
    only (the messages themselves differ at every poll, by request id)."""
    kind = f"{what}: {type(exc).__name__}"
    if kind != previous:
        (_log.error if previous is None else _log.warning)("%s: %s", what, exc)
    return kind


def _jittered(interval: float) -> float:
    return interval * random.uniform(1 - POLL_JITTER, 1 + POLL_JITTER)


def event_payload(job: Job, url: str | None) -> dict[str, Any]:
    """The asset event's payload: what a consumer needs to find the job, small and plain JSON."""
    fields = job.model_dump(
        mode="json",
        include={
            "id",
            "type",
            "status",
            "connection_id",
            "pipeline_id",
            "created_at",
            "started_at",
            "finished_at",
            "duration_seconds",
            "metrics",
            "error",
        },
        exclude_none=True,
    )
    fields["job_id"] = fields.pop("id")
    if url is not None:
        fields["url"] = url
    return fields


def _checked_statuses(statuses: Iterable[str] | str | None) -> list[str]:
    if statuses is None:
        statuses = DEFAULT_STATUSES
    chosen = [statuses] if isinstance(statuses, str) else list(statuses)
    unknown = [s for s in chosen if s not in JOB_TERMINAL_STATUSES]
    if not chosen or unknown:
        raise ValueError(
            f"statuses must be a non-empty list of {sorted(JOB_TERMINAL_STATUSES)}, got "
            f"{statuses!r}: a watcher fires when a job ends, so only ending statuses can be watched"
        )
    return sorted(set(chosen))
