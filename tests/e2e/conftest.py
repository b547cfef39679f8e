"""Real Airflow (``dag.test()``) against a real sandbox over TCP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from planasonix_provider.sandbox.testing import SandboxHandle, run_sandbox
from tests.conftest import DAGS_FOLDER


@pytest.fixture(scope="session")
def session_sandbox() -> Iterator[SandboxHandle]:
    with run_sandbox(seed=7, speed=1.0) as handle:
        yield handle


@pytest.fixture
def sandbox(
    session_sandbox: SandboxHandle, airflow_db: None, monkeypatch: pytest.MonkeyPatch
) -> SandboxHandle:
    """The sandbox as ``planasonix_default``, with no faults left over from another test."""
    session_sandbox.control.clear_faults()
    monkeypatch.setenv("AIRFLOW_CONN_PLANASONIX_DEFAULT", session_sandbox.airflow_conn_json)
    return session_sandbox


def load_dag(dag_id: str) -> Any:
    from tests.lines import dag_bag

    bag = dag_bag(str(DAGS_FOLDER))
    assert not bag.import_errors, bag.import_errors
    dag = bag.get_dag(dag_id)
    assert dag is not None, f"{dag_id} not found in {DAGS_FOLDER}"
    return dag


def run_dag(dag_id: str, **test_args: Any) -> tuple[Any, dict[str, Any]]:
    """``dag.test()`` a DAG; return the run and each task instance by task id."""
    run = load_dag(dag_id).test(**test_args)
    return run, {ti.task_id: ti for ti in run.get_task_instances()}


def xcom(ti: Any, key: str = "return_value") -> Any:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    # A plain select: Airflow 3.0 runs SQLAlchemy 1.4, where get_many() returns a Query.
    with create_session() as session:
        row = session.scalars(
            select(XComModel.value).where(
                XComModel.dag_id == ti.dag_id,
                XComModel.run_id == ti.run_id,
                XComModel.task_id == ti.task_id,
                XComModel.map_index == ti.map_index,
                XComModel.key == key,
            )
        ).first()
    return None if row is None else XComModel.deserialize_value(_Row(row))


class _Row:
    def __init__(self, value: Any) -> None:
        self.value = value
