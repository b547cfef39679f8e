"""What a trigger's stored row costs the triggerer supervisor's passes over the trigger table.

Every loop of ``airflow triggerer``'s supervisor runs ``Trigger.assign_unassigned`` and
``Trigger.ids_for_triggerer`` (``load_triggers``) and ``Trigger.clean_unused`` over all rows, so
their cost grows with N and, on SQLite, with the bytes of each row: the classpath and the
serialized kwargs. This builds the benchmark's database (``bench_airflow_triggerer.py``'s
template: N + 1 DAG runs), defers N task instances to each kind's trigger as that benchmark does,
assigns them all to one live triggerer job, and times the three passes (CPU, median of 15 after
one warm-up) in a fresh process per kind, the kinds in turn; the lowest of the rounds, since
noise only adds.

Usage: PYTHONPATH=. .venv/bin/python benchmarks/probe_trigger_row.py [--n 5000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import PYTHON, table
from bench_airflow_triggerer import base_env, make_template

KINDS = ("floor", "bare", "ours")
REPEATS = 30


def measure(kind: str, n: int) -> dict[str, Any]:
    """In the process of one kind's database copy (AIRFLOW_HOME)."""
    from datetime import datetime, timezone

    from _airflow_db import defer
    from airflow.jobs.job import Job
    from airflow.models.trigger import Trigger
    from airflow.utils.session import create_session
    from sqlalchemy import text

    defer(kind, n, 10.0, "/dev/shm/pbench-probe-trigger-row")  # noqa: S108 (never opened)
    with create_session() as session:
        job = Job(job_type="TriggererJob")
        job.state = "running"
        job.latest_heartbeat = datetime.now(timezone.utc)
        session.add(job)
        session.flush()
        job_id = job.id
    while len(Trigger.ids_for_triggerer(job_id)) < n + 1:  # 50 per call by default
        Trigger.assign_unassigned(job_id, n + 10, 3600)
    with create_session() as session:
        row_bytes = session.execute(
            text("SELECT avg(length(classpath) + length(kwargs)) FROM trigger")
        ).scalar()
    passes = {
        "assign_unassigned": lambda: Trigger.assign_unassigned(job_id, n + 10, 3600),
        "ids_for_triggerer": lambda: Trigger.ids_for_triggerer(job_id),
        "clean_unused": lambda: Trigger.clean_unused(),
    }
    out: dict[str, Any] = {"kind": kind, "row_bytes": float(row_bytes or 0)}
    for name, one_pass in passes.items():
        one_pass()
        cpu = []
        for _ in range(REPEATS):
            start = time.process_time()
            one_pass()
            cpu.append(time.process_time() - start)
        out[name] = 1e3 * statistics.median(cpu)
    return out


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--rounds", type=int, default=5, help="kinds in turn, this many times")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.child, args.n)))
        return
    work = Path(tempfile.mkdtemp(prefix="pbench-trigger-row-"))
    try:
        template, _ = make_template(work, args.n)
        runs: dict[str, list[dict[str, Any]]] = {}
        for round_number in range(args.rounds):
            for kind in args.kinds.split(","):
                runs.setdefault(kind, []).append(
                    one_kind(work, template, kind, round_number, args.n)
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    names = ("assign_unassigned", "ids_for_triggerer", "clean_unused")
    rows = [
        {"kind": kind, **{k: min(r[k] for r in found) for k in ("row_bytes", *names)}}
        for kind, found in runs.items()
    ]
    floor = next((r for r in rows if r["kind"] == "floor"), rows[0])
    print(
        f"## The supervisor's passes over {args.n:,} trigger rows (CPU ms: the lowest of "
        f"{args.rounds} processes per kind, each the median of {REPEATS} passes)\n"
    )
    print(
        table(
            ["trigger", "row bytes", *names],
            [
                [
                    r["kind"],
                    f"{r['row_bytes']:.0f}",
                    *(f"{r[name]:.1f} ({r[name] / floor[name]:.2f}x)" for name in names),
                ]
                for r in rows
            ],
        )
    )


def one_kind(work: Path, template: Path, kind: str, round_number: int, n: int) -> dict[str, Any]:
    home = work / f"{kind}-{round_number}"
    shutil.copytree(template, home)
    try:
        env = base_env(home)
        env["AIRFLOW_CONN_PLANASONIX_DEFAULT"] = json.dumps(
            {"conn_type": "planasonix", "host": "https://127.0.0.1:9", "password": "probe"}
        )
        answer = subprocess.run(
            [PYTHON, __file__, "--n", str(n), "--child", kind],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    finally:
        shutil.rmtree(home, ignore_errors=True)
    found: dict[str, Any] = json.loads(answer.splitlines()[-1])
    return found


if __name__ == "__main__":
    main(sys.argv[1:])
