"""Saving the store to a JSON state file and loading it back, so a restart keeps every job.

Records keep absolute epoch times, so a loaded job simply continues on the wall clock. Saved
atomically (write to a temp file, then rename) so that a crash never leaves half a file.
"""

from __future__ import annotations

import heapq
import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from planasonix_provider.sandbox.config import FaultSpec, Scenario
from planasonix_provider.sandbox.records import (
    BackfillRecord,
    DeliveryRecord,
    JobRecord,
    WebhookRecord,
)
from planasonix_provider.sandbox.state import FaultRecord, Store

FORMAT = 1


def dump_state(store: Store) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "seq": store.seq,
        "rng": [_rng_state(r) for r in (store.ids, store.data_rng, store.fault_rng)],
        "jobs": [asdict(j) for j in store.jobs.values()],
        "backfills": [asdict(b) for b in store.backfills.values()],
        "webhooks": [asdict(w) for w in store.webhooks.values()],
        "deliveries": [asdict(d) for ds in store.deliveries.values() for d in ds],
        "scenarios": {cid: s.model_dump() for cid, s in store.scenarios.items()},
        "faults": [
            {"id": f.id, "spec": f.spec.model_dump(), "remaining": f.remaining, "hits": f.hits}
            for f in store.faults
        ],
        "connections": sorted(store.connections),
        "counters": {
            "requests": dict(store.requests),
            "jobs_started": store.jobs_started,
            "backfills_started": store.backfills_started,
        },
    }


def save_state(store: Store, path: Path) -> None:
    text = json.dumps(dump_state(store), separators=(",", ":"))
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    store.dirty = False


def load_state(store: Store, path: Path) -> bool:
    """Fill ``store`` from ``path``; False when there is no file yet."""
    if not path.exists() or not path.read_text(encoding="utf-8").strip():
        return False
    state = json.loads(path.read_text(encoding="utf-8"))
    store.seq = state["seq"]
    for rng, saved in zip((store.ids, store.data_rng, store.fault_rng), state["rng"], strict=True):
        rng.setstate((saved[0], tuple(saved[1]), saved[2]))
    store.jobs = {j["id"]: JobRecord(**j) for j in state["jobs"]}
    store.backfills = {b["id"]: BackfillRecord(**b) for b in state["backfills"]}
    store.webhooks = {w["id"]: WebhookRecord(**w) for w in state["webhooks"]}
    store.deliveries = {}
    for d in state["deliveries"]:
        store.deliveries.setdefault(d["webhook_id"], []).append(DeliveryRecord(**d))
    store.scenarios = {cid: Scenario.model_validate(s) for cid, s in state["scenarios"].items()}
    store.faults = [
        FaultRecord(f["id"], FaultSpec.model_validate(f["spec"]), f["remaining"], f["hits"])
        for f in state["faults"]
    ]
    store.connections = set(state["connections"])
    counters = state["counters"]
    store.requests.update(counters["requests"])
    store.jobs_started = counters["jobs_started"]
    store.backfills_started = counters["backfills_started"]
    store.timeline = []
    for job in store.jobs.values():
        if not any(e in job.emitted for e in ("job.succeeded", "job.failed", "job.cancelled")):
            for moment in (job.start_at, job.finish_at, job.cancel_done):
                if moment is not None:
                    store.timeline.append((moment, job.id))
    heapq.heapify(store.timeline)
    store.dirty = False
    return True


def _rng_state(rng: Any) -> list[Any]:
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]
