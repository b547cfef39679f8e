"""PlanasonixJobEventTrigger's bookkeeping: the ledger that decides what fires, its mark, its
memory, its saved state, the trigger's arguments, and the poller's first look. The same trigger
against the sandbox over TCP is in ``tests/sandbox/test_job_events.py``."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from importlib import import_module
from typing import Any

import httpx
import pytest

from planasonix_provider.api.models import Job
from planasonix_provider.api.status import JOB_ACTIVE_STATUSES
from planasonix_provider.hooks import job_events
from planasonix_provider.hooks.job_events import JobLedger, Snapshot, next_mark
from planasonix_provider.triggers.job_events import PlanasonixJobEventTrigger, event_payload

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
SUCCEEDED = frozenset({"succeeded"})


def job(job_id: str, status: str, created_minute: float, **fields: Any) -> Job:
    return Job(
        id=job_id, status=status, created_at=T0 + timedelta(minutes=created_minute), **fields
    )


def at(minute: float) -> float:
    return (T0 + timedelta(minutes=minute)).timestamp()


def created(entry: Job) -> float:
    assert entry.created_at is not None
    return entry.created_at.timestamp()


def see(ledger: JobLedger, *jobs: Job, since: float | None = None) -> list[str]:
    """Feed the ledger one complete listing and return the ids that fire."""
    snapshot = Snapshot(since, list(jobs))
    assert ledger.covers(snapshot)
    return [j.id for j in ledger.observe(snapshot, snapshot.jobs, SUCCEEDED)]


def test_the_first_listing_is_a_baseline_and_later_endings_fire_once() -> None:
    ledger = JobLedger()
    assert see(ledger, job("old", "succeeded", 0), job("run", "running", 1)) == []
    assert see(ledger, job("old", "succeeded", 0), job("run", "succeeded", 1)) == ["run"]
    for _ in range(10):  # it stays succeeded and stays listed: it never fires again
        assert see(ledger, job("run", "succeeded", 1), since=ledger.mark) == []


def test_exactly_one_event_per_job_across_many_polls() -> None:
    ledger = JobLedger()
    see(ledger)
    fired: list[str] = []
    jobs: dict[str, Job] = {}
    for poll in range(40):
        if poll % 4 == 0:  # a new job every fourth poll, each running for six polls
            jobs[f"job_{poll}"] = job(f"job_{poll}", "running", poll)
        for job_id in list(jobs):
            started = int(job_id.split("_")[1])
            if poll - started >= 6:
                jobs[job_id] = job(job_id, "succeeded", started)
        since = ledger.mark
        listed = [j for j in jobs.values() if since is None or created(j) >= since]
        fired += see(ledger, *listed, since=since)
    ended = sorted(j for j, entry in jobs.items() if entry.status == "succeeded")
    assert sorted(fired) == ended
    assert len(fired) == len(set(fired)) == 9


def test_a_long_job_created_before_the_watcher_started_is_seen_when_it_ends() -> None:
    ledger = JobLedger()
    assert see(ledger, job("long", "running", -600), job("quick", "succeeded", -1)) == []
    assert ledger.mark == at(-600)  # the mark holds at the oldest running job
    for minute in range(1, 20):
        listed = [
            job("long", "running", -600),
            *(job(f"j{m}", "succeeded", m) for m in range(1, minute)),
        ]
        see(ledger, *listed, since=ledger.mark)
    listed = [job("long", "succeeded", -600), *(job(f"j{m}", "succeeded", m) for m in range(1, 19))]
    assert see(ledger, *listed, since=ledger.mark) == ["long"]
    assert ledger.mark is not None and ledger.mark > at(-600)


def test_a_watcher_whose_filter_matches_nothing_still_moves_its_mark() -> None:
    """In a shared listing, a quiet watcher must not hold the listing back to the beginning."""
    ledger = JobLedger()
    others = [job("x", "succeeded", 1), job("y", "running", 2)]
    assert ledger.observe(Snapshot(None, others), [], SUCCEEDED) == []
    assert ledger.mark == at(2)


def test_statuses_other_than_the_watched_ones_are_remembered_but_do_not_fire() -> None:
    ledger = JobLedger()
    see(ledger)
    snapshot = Snapshot(
        None, [job("a", "failed", 1), job("b", "cancelled", 2), job("c", "succeeded", 3)]
    )
    failed = ledger.observe(snapshot, snapshot.jobs, frozenset({"failed", "cancelled"}))
    assert [j.id for j in failed] == ["a", "b"]
    assert see(ledger, job("a", "failed", 1), job("c", "succeeded", 3), since=ledger.mark) == []


def test_memory_is_bounded_by_the_mark_and_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    ledger = JobLedger()
    see(ledger)
    see(ledger, *(job(f"j{m}", "succeeded", m) for m in range(50)))
    # All ended: the mark moves to the newest job; only the overlap behind it is remembered.
    assert ledger.mark == at(49)
    assert set(ledger.done) == {"j49"}
    # A job from before the mark that a wider listing brings back (a shared poll) is not new.
    assert see(ledger, job("j10", "succeeded", 10), since=at(0)) == []

    monkeypatch.setattr(job_events, "MAX_REMEMBERED", 5)
    capped = JobLedger()
    see(capped, job("pin", "running", 0))
    see(capped, job("pin", "running", 0), *(job(f"k{m}", "succeeded", m) for m in range(1, 9)))
    assert len(capped.done) == 5 and capped.floor == at(4)
    # Past the cap the oldest are given up: the pinned job, older than the floor, is ignored.
    assert see(capped, job("pin", "succeeded", 0), since=capped.mark) == []


def test_jobs_without_created_at_never_fire_and_never_break_the_mark() -> None:
    ledger = JobLedger()
    see(ledger)
    assert see(ledger, Job(id="x", status="succeeded"), job("y", "succeeded", 1)) == ["y"]
    assert next_mark([Job(id="x", status="running")], None, None) is None


def test_saved_state_round_trips_through_json_and_resumes() -> None:
    ledger = JobLedger()
    see(ledger, job("run1", "running", 1), job("run2", "running", 2))
    assert see(ledger, job("run1", "succeeded", 1), job("run2", "running", 2)) == ["run1"]
    restored = JobLedger.from_state(json.loads(json.dumps(ledger.to_state())))
    assert restored is not None
    # run2 ended while "the triggerer was down": the restored ledger fires it, and not run1.
    listed = [job("run1", "succeeded", 1), job("run2", "succeeded", 2)]
    assert see(restored, *listed, since=restored.mark) == ["run2"]


@pytest.mark.parametrize("junk", [None, "x", {}, {"version": 99, "done": {}}, {"version": 1}])
def test_unreadable_state_means_a_fresh_ledger(junk: Any) -> None:
    assert JobLedger.from_state(junk) is None


def test_a_snapshot_that_does_not_reach_back_to_the_mark_is_not_trusted() -> None:
    ledger = JobLedger()
    see(ledger, job("r", "running", 5))
    assert not ledger.covers(Snapshot(at(6), []))
    assert ledger.covers(Snapshot(at(4), []))
    assert ledger.covers(Snapshot(None, []))


def test_serialize_mirrors_init_and_is_json() -> None:
    trigger = PlanasonixJobEventTrigger(
        planasonix_conn_id="pnx",
        connection_id="conn_1",
        pipeline_id="pl_1",
        job_type="connection_sync",
        statuses=["failed", "succeeded", "failed"],
        poll_interval=15,
        page_size=20,
    )
    path, kwargs = trigger.serialize()
    assert json.loads(json.dumps(kwargs)) == kwargs
    module, _, name = path.rpartition(".")
    assert getattr(import_module(module), name)(**kwargs).serialize() == (path, kwargs)
    assert kwargs == {
        "planasonix_conn_id": "pnx",
        "connection_id": "conn_1",
        "pipeline_id": "pl_1",
        "job_type": "connection_sync",
        "statuses": ["failed", "succeeded"],
        "poll_interval": 15.0,
        "page_size": 20,
    }
    assert PlanasonixJobEventTrigger().serialize()[1]["statuses"] == ["succeeded"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"statuses": ["running"]}, "statuses must be"),
        ({"statuses": ["succeded"]}, "statuses must be"),
        ({"statuses": []}, "statuses must be"),
        ({"poll_interval": 1}, "poll_interval must be at least 5"),
        ({"page_size": 500}, "page_size"),
        ({"connection_id": ""}, "connection_id"),
        ({"pipeline_id": 7}, "pipeline_id"),
    ],
)
def test_bad_arguments_name_the_field(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PlanasonixJobEventTrigger(**kwargs)


def test_watchers_of_one_connection_and_interval_share_a_stream_key() -> None:
    a = PlanasonixJobEventTrigger(connection_id="c1", statuses="failed")
    b = PlanasonixJobEventTrigger(pipeline_id="p2")
    assert a.shared_stream_key() == b.shared_stream_key()
    assert (
        a.shared_stream_key()
        != PlanasonixJobEventTrigger(planasonix_conn_id="other").shared_stream_key()
    )
    assert a.shared_stream_key() != PlanasonixJobEventTrigger(poll_interval=60).shared_stream_key()


def test_the_payload_is_small_plain_json() -> None:
    finished = job(
        "job_1",
        "succeeded",
        0,
        type="connection_sync",
        connection_id="c1",
        pipeline_id="p1",
        finished_at=T0 + timedelta(minutes=3),
        metrics={"rows_loaded": 5},
        metadata={"big": "x" * 1000},
    )
    payload = event_payload(finished, "https://app.planasonix.com/jobs/job_1")
    assert json.loads(json.dumps(payload)) == payload
    assert payload["job_id"] == "job_1" and payload["status"] == "succeeded"
    assert payload["url"].endswith("/jobs/job_1")
    assert payload["metrics"]["rows_loaded"] == 5
    assert "metadata" not in payload and "id" not in payload


# --- The poller's first look -------------------------------------------------------------------


def parse_moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def first_poll(jobs: list[dict[str, Any]]) -> tuple[Snapshot, list[dict[str, str]]]:
    """A fresh poller's first poll of ``GET /api/v1/jobs`` over ``jobs`` (newest first, honouring
    ``status`` and ``since``), and the queries it sent."""
    from planasonix_provider.api import AsyncPlanasonixClient

    seen: list[dict[str, str]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        query = dict(request.url.params)
        seen.append(query)
        since = query.get("since")
        listed = [
            j
            for j in sorted(jobs, key=lambda j: j["created_at"], reverse=True)
            if query.get("status", j["status"]) == j["status"]
            and (since is None or parse_moment(j["created_at"]) >= parse_moment(since))
        ][: int(query.get("limit", "100"))]
        return httpx.Response(200, json={"data": listed, "meta": {"page": {"cursor": None}}})

    async with AsyncPlanasonixClient(
        "https://planasonix.test",
        "k",
        transport=httpx.MockTransport(handle),
        http_transport="httpx",
    ) as client:
        return await job_events.JobListPoller().poll(client), seen


async def test_a_job_running_in_an_unknown_status_at_the_first_look_holds_the_mark() -> None:
    now = datetime.now(timezone.utc)
    provisioning = {
        "id": "job_prov",
        "status": "provisioning",  # not in the reference's examples
        "created_at": (now - timedelta(hours=2)).isoformat(),
    }
    newer = {"id": "job_new", "status": "succeeded", "created_at": now.isoformat()}
    snapshot, seen = await first_poll([provisioning, newer])

    assert [j.id for j in snapshot.jobs] == ["job_new", "job_prov"]
    assert snapshot.since is not None
    assert snapshot.since <= parse_moment(provisioning["created_at"]).timestamp()
    statuses_asked = {q["status"] for q in seen if "status" in q}
    assert statuses_asked == set(JOB_ACTIVE_STATUSES)  # the unknown one could not be asked for


async def test_the_first_look_without_recent_jobs_starts_at_the_newest_job() -> None:
    old = datetime.now(timezone.utc) - timedelta(days=3)
    ended = {"id": "job_old", "status": "failed", "created_at": old.isoformat()}
    snapshot, _ = await first_poll([ended])

    assert snapshot.since == pytest.approx(old.timestamp() - job_events.OVERLAP_SECONDS)
    assert [j.id for j in snapshot.jobs] == ["job_old"]
