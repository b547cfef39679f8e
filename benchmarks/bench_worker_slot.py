"""Worker slot: how long a deferrable PlanasonixSyncOperator holds a worker before it defers.

``execute(context)`` is called directly with a minimal fake context (a ``ti`` with the Airflow
identity and ``xcom_push``, no ``task_state_store``), against the sandbox run in-process
(``run_sandbox``); the clock runs from ``execute`` start to ``TaskDeferred`` raised. Each run is a
new operator, so the hook and its client are built inside the measured time, as on a worker.
For contrast, the same operator in worker mode holds the slot for the whole job.

Usage: bench_worker_slot.py [--smoke] [--runs 20] [--job-seconds 2]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Targets, median, percentile, set_quiet_airflow_env, table

TARGET_MS = 300.0


class FakeTI:
    dag_id = "bench_dag"
    run_id = "bench_run"
    task_id = "sync"
    map_index = -1
    try_number = 1

    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--worker-runs", type=int, default=None)
    parser.add_argument("--job-seconds", type=float, default=2.0)
    args = parser.parse_args(argv)
    runs = args.runs or (5 if args.smoke else 20)
    worker_runs = args.worker_runs or (1 if args.smoke else 3)
    set_quiet_airflow_env()
    logging.basicConfig(level=logging.INFO, stream=open(os.devnull, "w"))  # noqa: SIM115

    from planasonix_provider.airflow_lines import TaskDeferred
    from planasonix_provider.operators.planasonix import PlanasonixSyncOperator
    from planasonix_provider.sandbox.testing import run_sandbox

    print(
        f"## Worker slot: deferrable execute() until TaskDeferred, median of {runs} runs; "
        f"worker mode with a {args.job_seconds:.0f} s job, median of {worker_runs}\n"
    )
    deferred_ms: list[float] = []
    worker_ms: list[float] = []
    # Airflow's structlog writes task logs to stdout; keep them out of the table.
    quiet = open(os.devnull, "w")  # noqa: SIM115
    with run_sandbox() as sandbox, redirect_stdout(quiet), redirect_stderr(quiet):
        os.environ["AIRFLOW_CONN_PLANASONIX_DEFAULT"] = sandbox.airflow_conn_json
        sandbox.control.set_scenario("bench-slot", duration=args.job_seconds, queued_for=0.2)
        for i in range(runs + 1):
            op = PlanasonixSyncOperator(
                task_id=f"sync_{i}", connection_id="bench-slot", deferrable=True, poll_interval=1
            )
            start = time.perf_counter()
            try:
                op.execute({"ti": FakeTI()})
            except TaskDeferred:
                elapsed = (time.perf_counter() - start) * 1000
            else:
                raise RuntimeError("the deferrable operator did not defer")
            if i:  # the first run pays one-off imports (the first client, pydantic schemas)
                deferred_ms.append(elapsed)
        for i in range(worker_runs):
            op = PlanasonixSyncOperator(
                task_id=f"worker_{i}",
                connection_id="bench-slot",
                deferrable=False,
                poll_interval=1,
            )
            start = time.perf_counter()
            op.execute({"ti": FakeTI()})
            worker_ms.append((time.perf_counter() - start) * 1000)

    rows = [
        [
            "deferrable: execute() -> TaskDeferred",
            median(deferred_ms),
            percentile(deferred_ms, 90),
            max(deferred_ms),
        ],
        [
            f"worker mode, {args.job_seconds:.0f} s job, poll 1 s",
            median(worker_ms),
            percentile(worker_ms, 90),
            max(worker_ms),
        ],
    ]
    print(table(["mode", "median ms", "p90 ms", "max ms"], rows))
    targets = Targets(args.smoke)
    slot = median(deferred_ms)
    targets.check(
        "worker slot held by a deferrable task",
        f"{slot:.0f} ms",
        f"< {TARGET_MS:.0f} ms",
        slot < TARGET_MS,
    )
    targets.info(
        "worker mode, for contrast",
        f"{median(worker_ms):.0f} ms",
        f"{median(worker_ms) / slot:.0f}x longer",
    )
    return targets.report("Worker slot")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
