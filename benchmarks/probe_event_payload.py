"""What the size of a trigger's event payload costs Airflow's triggerer, per event, in-process.

The supervisor of ``airflow triggerer`` receives each event in a ``TriggerStateChanges`` message
(msgpack, then pydantic) and stores its payload in the task instance's ``next_kwargs`` through
``airflow.sdk.serde.serialize``; the runner encodes the message. This times those three steps for
the floor trigger's payload of ``bench_airflow_triggerer.py`` and for ours (a finished job of the
benchmark's fake), best of 5 x 2,000 calls each. Airflow 3.3 (the message types differ before).

Usage: PYTHONPATH=. .venv/bin/python benchmarks/probe_event_payload.py
"""

from __future__ import annotations

import json
import sys
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import msgspec
from _airflow_fake_api import job_body
from airflow.jobs.triggerer_job_runner import TriggerEventEntry, messages
from airflow.sdk.serde import serialize
from airflow.triggers.base import TriggerEvent

from planasonix_provider.api.models import Job
from planasonix_provider.wait import outcome_of

CALLS = 2000


def best_us(step: Callable[[], Any]) -> float:
    return min(timeit.repeat(step, number=CALLS, repeat=5)) / CALLS * 1e6


def main() -> None:
    job = Job.model_validate(json.loads(job_body("bench-job-1234", True))["data"])
    payloads = {
        "floor": {"status": "success", "index": 1234},
        "ours": outcome_of("job", job).to_event(),  # type: ignore[union-attr]
    }
    print("| payload | JSON bytes | serde.serialize µs | runner encode µs | supervisor decode µs |")
    print("|---|---|---|---|---|")
    decode = messages.TriggerStateChanges.model_validate
    for name, payload in payloads.items():
        message = messages.TriggerStateChanges(
            events=[TriggerEventEntry(1, TriggerEvent(payload), None)]  # type: ignore[no-untyped-call]
        )
        wire = msgspec.msgpack.encode(message.model_dump(mode="json"))
        cells = (
            len(json.dumps(payload)),
            best_us(lambda p=payload: serialize({"event": p})),
            best_us(lambda m=message: msgspec.msgpack.encode(m.model_dump(mode="json"))),
            best_us(lambda w=wire: decode(msgspec.msgpack.decode(w))),
        )
        print(f"| {name} | {cells[0]} | {cells[1]:.1f} | {cells[2]:.1f} | {cells[3]:.1f} |")


if __name__ == "__main__":
    main()
