"""The benchmark's hands on Airflow's metadata database (bench_airflow_triggerer.py).

Runs as its own process with the run's AIRFLOW_HOME (Airflow binds its engine at import), and
answers one JSON command per stdin line with one JSON line on stdout:

- ``{"op": "prepare", "runs": R}``: R runs of the DAG ``bench_deferred`` (one task, ``wait``),
  made by Airflow's own ``create_dagrun`` from the serialized DAG, as the scheduler makes them.
- ``{"op": "defer", "kind": ..., "n": N, "poll": P, "shm": PATH}``: in one transaction, what the
  execution API's deferral does for each of the first N task instances (a ``Trigger`` row with
  the trigger's classpath and kwargs, the task instance set to ``deferred`` with its
  ``trigger_id``, ``next_method``), plus the lag probe on task instance N. Answers the commit time.
- ``{"op": "count"}``: task instances in state ``scheduled``.
- ``{"op": "collect"}``: per run index, ``scheduled_dttm`` (the time Airflow's
  ``handle_event_submit`` sets the task instance to ``scheduled``), state, and the persisted
  ``next_kwargs`` size (the event payload as stored).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

#: Airflow logs to stdout too: answers are the lines with this prefix.
ANSWER = "@@pbench "
DAG_ID = "bench_deferred"
TASK_ID = "wait"

DAG_FILE = """
from airflow.sdk import DAG, BaseOperator


class Wait(BaseOperator):
    def execute(self, context):
        pass

    def execute_complete(self, context, event=None):
        pass


with DAG("bench_deferred", schedule=None, catchup=False):
    Wait(task_id="wait")
"""


def run_index(run_id: str) -> int:
    return int(run_id.rsplit("_", 1)[1])


def make_trigger(kind: str, i: int, n: int, poll: float, shm: str) -> Any:
    if kind == "floor":
        from _airflow_floor import FloorTrigger

        return FloorTrigger(index=i, poll_interval=poll, shm=shm, n=n)
    if kind == "bare":
        from _airflow_floor import BareAiohttpTrigger

        conn = json.loads(os.environ["AIRFLOW_CONN_PLANASONIX_DEFAULT"])
        return BareAiohttpTrigger(
            url=f"{conn['host']}/api/v1/jobs/bench-job-{i}",
            api_key=conn["password"],
            poll_interval=poll,
        )
    if kind == "ours":
        from planasonix_provider.triggers.planasonix import PlanasonixJobTrigger

        return PlanasonixJobTrigger(resource_id=f"bench-job-{i}", poll_interval=poll)
    if kind == "dbt":
        from airflow.providers.dbt.cloud.triggers.dbt import DbtCloudRunJobTrigger

        return DbtCloudRunJobTrigger(
            conn_id="dbt_cloud_default",
            run_id=i + 1,
            end_time=time.time() + 7 * 86400,
            poll_interval=poll,
            account_id=1,
        )
    raise ValueError(kind)


def prepare(runs: int) -> dict[str, Any]:
    from airflow.models.serialized_dag import SerializedDagModel
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunTriggeredByType, DagRunType

    start = time.perf_counter()
    with create_session() as session:
        dag = SerializedDagModel.get_dag(DAG_ID, session=session)
        if dag is None:
            raise RuntimeError("the DAG is not serialized: did `airflow dags reserialize` run?")
        from airflow.utils import timezone

        now = timezone.utcnow()
        for i in range(runs):
            dag.create_dagrun(
                run_id=f"bench_{i:06d}",
                logical_date=None,
                data_interval=None,
                run_after=now,
                run_type=DagRunType.MANUAL,
                triggered_by=DagRunTriggeredByType.TEST,
                state=DagRunState.RUNNING,
                session=session,
            )
            if i % 500 == 499:
                session.commit()
    return {"runs": runs, "seconds": time.perf_counter() - start}


def defer(kind: str, n: int, poll: float, shm: str) -> dict[str, Any]:
    from _airflow_floor import LagProbeTrigger
    from airflow.models.taskinstance import TaskInstance as TI
    from airflow.models.trigger import Trigger
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState
    from sqlalchemy import select, update

    start = time.perf_counter()
    with create_session() as session:
        rows = session.execute(select(TI.id, TI.run_id).where(TI.dag_id == DAG_ID)).all()
        by_index = {run_index(run_id): ti_id for ti_id, run_id in rows}
        # The lag probe first (the lowest trigger id), so that it runs through the start-up.
        probe = LagProbeTrigger(shm=shm, n=n).serialize()
        objs = [make_trigger(kind, i, n, poll, shm).serialize() for i in range(n)]
        rows_by_index = {n: Trigger(classpath=probe[0], kwargs=probe[1])}
        for i, (classpath, kwargs) in enumerate(objs):
            rows_by_index[i] = Trigger(classpath=classpath, kwargs=kwargs)
        session.add(rows_by_index[n])
        session.flush()
        session.add_all([rows_by_index[i] for i in range(n)])
        session.flush()
        triggers = rows_by_index
        session.execute(
            update(TI),
            [
                {
                    "id": by_index[i],
                    "state": TaskInstanceState.DEFERRED,
                    "trigger_id": triggers[i].id,
                    "next_method": "execute_complete",
                    "next_kwargs": None,
                    "try_number": 1,
                }
                for i in range(n + 1)
            ],
        )
        session.commit()
        committed = time.time()
    return {"committed": committed, "seconds": time.perf_counter() - start}


def count() -> dict[str, Any]:
    from airflow.utils.session import create_session
    from sqlalchemy import text

    with create_session() as session:
        value = session.execute(
            text("SELECT count(*) FROM task_instance WHERE dag_id = :d AND state = 'scheduled'"),
            {"d": DAG_ID},
        ).scalar()
    return {"scheduled": int(value or 0)}


def collect() -> dict[str, Any]:
    from airflow.models.taskinstance import TaskInstance as TI
    from airflow.utils.session import create_session
    from sqlalchemy import select

    out: dict[str, Any] = {}
    with create_session() as session:
        for run_id, state, scheduled, next_kwargs in session.execute(
            select(TI.run_id, TI.state, TI.scheduled_dttm, TI.next_kwargs).where(
                TI.dag_id == DAG_ID
            )
        ):
            out[str(run_index(run_id))] = {
                "state": None if state is None else str(state),
                "scheduled": None if scheduled is None else scheduled.timestamp(),
                "next_kwargs_bytes": len(json.dumps(next_kwargs, default=str))
                if next_kwargs
                else 0,
            }
    return {"tis": out}


def main() -> None:
    for line in sys.stdin:
        command = json.loads(line)
        op = command.pop("op")
        try:
            answer = {
                "prepare": prepare,
                "defer": defer,
                "count": count,
                "collect": collect,
            }[op](**command)
        except Exception as exc:  # reported to the benchmark, which stops
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        print(ANSWER + json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
