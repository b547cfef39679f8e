"""PlanasonixJobEventTrigger against the sandbox over real TCP: jobs started on the sandbox (not
from Airflow) fire exactly once, however many polls see them, through filters, pages, rate
limits and restarts; and on Airflow 3.3 twenty watchers share one poll."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from planasonix_provider.sandbox.testing import SandboxHandle
from planasonix_provider.triggers import job_events
from planasonix_provider.triggers.job_events import PlanasonixJobEventTrigger
from tests.lines import needs
from tests.sandbox.conftest import make_client

CONN = "conn_events_a"
OTHER = "conn_events_b"
POLL = 0.05
LIST = "GET /api/v1/jobs"


@pytest.fixture(autouse=True)
def connection(sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch) -> SandboxHandle:
    conn = json.loads(sandbox.airflow_conn_json)
    conn["extra"] = {"retry_attempts": 4, "retry_max_wait": 0.05}
    monkeypatch.setenv("AIRFLOW_CONN_PLANASONIX_DEFAULT", json.dumps(conn))
    monkeypatch.setattr(job_events, "MIN_POLL_INTERVAL", 0.01)
    monkeypatch.setattr(job_events, "SAVE_SETTLE_SECONDS", 0.05)
    return sandbox


def watcher(**kwargs: Any) -> PlanasonixJobEventTrigger:
    kwargs.setdefault("poll_interval", POLL)
    return PlanasonixJobEventTrigger(**kwargs)


def start_job(sandbox: SandboxHandle, connection_id: str = CONN, **sync: Any) -> str:
    """Start a sync the way Planasonix's own schedule would: straight on the API."""
    with make_client(sandbox) as client:
        return client.trigger_sync(connection_id, **sync).id


def list_requests(sandbox: SandboxHandle) -> int:
    return int(sandbox.control.counters()["requests"].get(LIST, 0))


async def until(check: Callable[[], Any], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout}s")
        await asyncio.sleep(0.02)


class Watching:
    """Runs a trigger's ``run()`` in a task, collecting the payloads it fires."""

    def __init__(self, trigger: PlanasonixJobEventTrigger) -> None:
        self.trigger = trigger
        self.events: list[dict[str, Any]] = []
        self._task: asyncio.Task[None] | None = None

    async def _consume(self) -> None:
        async for event in self.trigger.run():
            self.events.append(event.payload)

    @property
    def ids(self) -> list[str]:
        return [event["job_id"] for event in self.events]

    async def __aenter__(self) -> Watching:
        self._task = asyncio.create_task(self._consume())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def started_polling(sandbox: SandboxHandle, before: int = 0) -> None:
    """Wait for a first complete poll: three listings by status, the last day's jobs, the newest
    job, then the listing."""
    await until(lambda: list_requests(sandbox) >= before + 6)


async def test_each_job_fires_once_however_many_polls_see_it(sandbox: SandboxHandle) -> None:
    sandbox.control.set_scenario(CONN, duration=1)
    before_start = await asyncio.to_thread(start_job, sandbox)
    await asyncio.sleep(0.3)  # ended before the watcher started: history, not news
    async with Watching(watcher()) as watching:
        await started_polling(sandbox)
        jobs = [await asyncio.to_thread(start_job, sandbox) for _ in range(3)]
        await until(lambda: len(watching.events) >= 3)
        polls = list_requests(sandbox)
        await until(lambda: list_requests(sandbox) >= polls + 10)  # ten more polls see them
    assert sorted(watching.ids) == sorted(jobs)
    assert before_start not in watching.ids
    event = watching.events[0]
    assert event["status"] == "succeeded" and event["connection_id"] == CONN
    assert event["url"].endswith(f"/jobs/{event['job_id']}")
    assert {"created_at", "started_at", "finished_at", "metrics"} <= set(event)


async def test_a_long_job_created_before_the_watcher_started_fires_when_it_ends(
    sandbox: SandboxHandle,
) -> None:
    sandbox.control.set_scenario(CONN, duration=20)  # 2 s at the sandbox's speed
    long_job = await asyncio.to_thread(start_job, sandbox)
    sandbox.control.set_scenario(CONN, duration=0.5)
    async with Watching(watcher()) as watching:
        await started_polling(sandbox)
        quick = [await asyncio.to_thread(start_job, sandbox) for _ in range(5)]
        await until(lambda: long_job in watching.ids)
        await asyncio.sleep(0.3)
    assert sorted(watching.ids) == sorted([long_job, *quick])


async def test_filters_and_statuses_hold(sandbox: SandboxHandle) -> None:
    sandbox.control.set_scenario(CONN, duration=0.5)
    sandbox.control.set_scenario(OTHER, duration=0.5, outcome="fail")
    on_pipeline = watcher(connection_id=CONN, pipeline_id="pl_orders")
    failures = watcher(statuses=["failed"], job_type="connection_sync")
    everything = watcher(statuses=["succeeded", "failed", "cancelled"])
    async with Watching(on_pipeline) as a, Watching(failures) as b, Watching(everything) as c:
        await until(lambda: list_requests(sandbox) >= 18)  # three first polls of six
        ordered = await asyncio.to_thread(start_job, sandbox, pipeline_id="pl_orders")
        plain = await asyncio.to_thread(start_job, sandbox)
        failed = await asyncio.to_thread(start_job, sandbox, OTHER, pipeline_id="pl_orders")
        await until(lambda: len(c.events) >= 3)
        await asyncio.sleep(0.3)
    assert a.ids == [ordered]
    assert b.ids == [failed] and b.events[0]["error"]["code"] == "sync_failed"
    assert sorted(c.ids) == sorted([ordered, plain, failed])


async def test_the_listing_follows_the_cursor_across_pages(sandbox: SandboxHandle) -> None:
    sandbox.control.set_scenario(CONN, duration=3)
    async with Watching(watcher(page_size=2)) as watching:
        await started_polling(sandbox)
        jobs = [await asyncio.to_thread(start_job, sandbox) for _ in range(7)]
        await until(lambda: len(watching.events) >= 7)
        polls = list_requests(sandbox)
        await asyncio.sleep(0.5)
        after = list_requests(sandbox)
    assert sorted(watching.ids) == sorted(jobs)
    # Seven jobs in the listing's window at two a page: four requests a poll, not one.
    assert after - polls >= 8


async def test_rate_limits_and_server_errors_are_polled_through(
    sandbox: SandboxHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox.control.set_scenario(CONN, duration=0.5)
    async with Watching(watcher()) as watching:
        await started_polling(sandbox)
        sandbox.control.add_fault(
            method="GET", path="/api/v1/jobs", status=429, retry_after="0", count=6
        )
        sandbox.control.add_fault(method="GET", path="/api/v1/jobs", status=503, count=6)
        jobs = [await asyncio.to_thread(start_job, sandbox) for _ in range(2)]
        await until(lambda: len(watching.events) >= 2)
        await until(lambda: not sandbox.control.faults())
        await asyncio.sleep(0.3)
    assert sorted(watching.ids) == sorted(jobs)
    logged = capsys.readouterr()
    assert "Listing Planasonix jobs failed" in logged.out + logged.err  # the faults were felt
    assert sandbox.api_key not in logged.out + logged.err


async def test_a_long_outage_is_logged_when_it_starts_and_when_it_ends(
    sandbox: SandboxHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox.control.set_scenario(CONN, duration=0.5)
    async with Watching(watcher()) as watching:
        await started_polling(sandbox)
        sandbox.control.add_fault(method="GET", path="/api/v1/jobs", status=503)
        before = list_requests(sandbox)
        await until(lambda: list_requests(sandbox) >= before + 20)  # polls of four tries each
        sandbox.control.clear_faults()
        job_id = await asyncio.to_thread(start_job, sandbox)
        await until(lambda: watching.ids == [job_id])
    logged = capsys.readouterr()
    text = logged.out + logged.err
    assert text.count("Listing Planasonix jobs failed") == 1, text[-3000:]
    assert text.count("Listing Planasonix jobs works again") == 1


class DictStateStore:
    """The asset state store's async accessors over a dict, standing in for Airflow's own."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    async def aget(self, key: str, default: Any = None) -> Any:
        return json.loads(json.dumps(self.values.get(key, default)))

    async def aset(self, key: str, value: Any) -> None:
        self.values[key] = json.loads(json.dumps(value))


async def test_a_restart_with_a_state_store_loses_nothing_and_repeats_nothing(
    sandbox: SandboxHandle,
) -> None:
    store = DictStateStore()
    first = watcher()
    first.asset_state_store = store
    async with Watching(first) as before:
        await started_polling(sandbox)
        sandbox.control.set_scenario(CONN, duration=1)
        job_1 = await asyncio.to_thread(start_job, sandbox)
        sandbox.control.set_scenario(CONN, duration=10)
        running = await asyncio.to_thread(start_job, sandbox)
        await until(lambda: job_1 in before.ids)
        await until(lambda: job_1 in store.values.get(job_events.STATE_KEY, {}).get("done", {}))
    # The triggerer is down: one job ends, another starts and ends.
    assert sandbox.control.get_internal_job(running)["status"] != "succeeded"
    sandbox.control.set_scenario(CONN, duration=1)
    job_3 = await asyncio.to_thread(start_job, sandbox)
    for job_id in (running, job_3):
        await until(lambda j=job_id: sandbox.control.get_internal_job(j)["status"] == "succeeded")
    second = watcher()
    second.asset_state_store = store
    async with Watching(second) as after:
        await until(lambda: len(after.events) >= 2)
        await asyncio.sleep(0.3)
    assert before.ids == [job_1]
    assert sorted(after.ids) == sorted([running, job_3])


class TwoAssetsStateStore(DictStateStore):
    """Airflow's accessors when one trigger watches two assets: the one-asset calls refuse."""

    def __init__(self) -> None:
        super().__init__()
        self.attempts = 0

    async def aget(self, key: str, default: Any = None) -> Any:
        raise ValueError("Task has 2 concrete inlets and outlets")

    async def aset(self, key: str, value: Any) -> None:
        self.attempts += 1
        raise ValueError("Task has 2 concrete inlets and outlets")


async def test_a_state_store_that_refuses_leaves_the_watcher_watching(
    sandbox: SandboxHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox.control.set_scenario(CONN, duration=0.5)
    store = TwoAssetsStateStore()
    trigger = watcher()
    trigger.asset_state_store = store
    async with Watching(trigger) as watching:
        await started_polling(sandbox)
        jobs = [await asyncio.to_thread(start_job, sandbox) for _ in range(2)]
        await until(lambda: len(watching.events) >= 2)
        await asyncio.sleep(0.3)
    assert sorted(watching.ids) == sorted(jobs)
    assert store.attempts >= 2
    logged = capsys.readouterr()
    assert (logged.out + logged.err).count("Could not save the position") == 1


async def test_a_restart_before_the_position_is_saved_repeats_rather_than_loses(
    sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopped between firing and saving (the triggerer may not have stored the event yet), the
    watcher fires the job again after the restart: never lost, at worst repeated."""
    monkeypatch.setattr(job_events, "SAVE_SETTLE_SECONDS", 30.0)
    sandbox.control.set_scenario(CONN, duration=0.5)
    store = DictStateStore()
    first = watcher()
    first.asset_state_store = store
    async with Watching(first) as before:
        await started_polling(sandbox)
        await until(lambda: store.values)  # the baseline is saved: nothing fired yet
        job_1 = await asyncio.to_thread(start_job, sandbox)
        await until(lambda: before.ids == [job_1])
    assert job_1 not in store.values[job_events.STATE_KEY]["done"]
    second = watcher()
    second.asset_state_store = store
    async with Watching(second) as after:
        await until(lambda: after.ids == [job_1])


async def test_a_restart_without_a_state_store_errs_on_missing(sandbox: SandboxHandle) -> None:
    sandbox.control.set_scenario(CONN, duration=0.5)
    async with Watching(watcher()) as before:
        await started_polling(sandbox)
        job_1 = await asyncio.to_thread(start_job, sandbox)
        await until(lambda: job_1 in before.ids)
    while_down = await asyncio.to_thread(start_job, sandbox)
    await asyncio.sleep(0.3)
    requests = list_requests(sandbox)
    async with Watching(watcher()) as after:
        await started_polling(sandbox, requests)
        job_3 = await asyncio.to_thread(start_job, sandbox)
        await until(lambda: len(after.events) >= 1)
        await asyncio.sleep(0.3)
    assert after.ids == [job_3]  # documented: the job that ended while down is not replayed
    assert while_down not in after.ids and job_1 not in after.ids


@needs("shared streams")
async def test_twenty_watchers_of_one_connection_share_one_poll(sandbox: SandboxHandle) -> None:
    from airflow.triggers.shared_stream import SharedStreamManager

    sandbox.control.set_scenario(CONN, duration=0.5)
    interval = 0.2
    watchers = [watcher(poll_interval=interval, pipeline_id=f"pl_{n}") for n in range(20)]
    manager = SharedStreamManager()
    fired: dict[int, list[str]] = {n: [] for n in range(20)}

    async def subscribe(n: int, trigger: PlanasonixJobEventTrigger) -> None:
        key = trigger.shared_stream_key()
        stream = manager.subscribe(trigger_id=n, trigger=trigger, key=key)
        try:
            async for event in trigger.filter_shared_stream(stream):
                fired[n].append(event.payload["job_id"])
        finally:
            await manager.unsubscribe(n, key)

    tasks = [asyncio.create_task(subscribe(n, t)) for n, t in enumerate(watchers)]
    try:
        await started_polling(sandbox)
        jobs = {
            n: await asyncio.to_thread(start_job, sandbox, pipeline_id=f"pl_{n}") for n in (3, 7)
        }
        await until(lambda: fired[3] and fired[7])
        start, began = list_requests(sandbox), time.monotonic()
        await asyncio.sleep(10 * interval)
        made, elapsed = list_requests(sandbox) - start, time.monotonic() - began
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await manager.stop_all()
    intervals = elapsed / interval
    # One listing per interval for all twenty (jitter of 10 %), where standalone runs make 20.
    assert intervals * 0.8 <= made <= intervals * 1.25 + 1
    assert fired[3] == [jobs[3]] and fired[7] == [jobs[7]]
    assert all(fired[n] == [] for n in fired if n not in (3, 7))
