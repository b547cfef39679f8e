"""OpenLineage facets of the operators, read from what the OpenLineage provider is handed."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from planasonix_provider.operators.planasonix import (
    PlanasonixBackfillOperator,
    PlanasonixSyncOperator,
)

CONN = (
    '{"conn_type": "planasonix", "host": "https://api.planasonix.com", "password": "k_1", '
    '"extra": {"lineage_destination_namespace": "postgres://wh:5432"}}'
)
SUMMARY: dict[str, Any] = {
    "job_id": "job_1",
    "connection_id": "conn_1",
    "tables": [
        {"name": "public.orders", "rows_loaded": 10, "checksum": "sha256:aa"},
        {"name": "public.customers", "rows_loaded": 3, "checksum": None},
    ],
    "warnings": [],
}


@pytest.fixture(autouse=True)
def _connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_PLANASONIX_DEFAULT", CONN)


@pytest.fixture
def openlineage() -> None:
    pytest.importorskip(
        "airflow.providers.openlineage",
        reason="the OpenLineage provider is not installed (the openlineage extra; Python >= 3.11)",
    )


@pytest.mark.usefixtures("openlineage")
def test_on_complete_lists_each_table_with_its_row_count() -> None:
    operator = PlanasonixSyncOperator(task_id="sync", connection_id="conn_1")
    operator._lineage_summary = SUMMARY
    lineage = operator.get_openlineage_facets_on_complete(None)
    assert [(o.namespace, o.name) for o in lineage.outputs] == [
        ("postgres://wh:5432", "public.orders"),
        ("postgres://wh:5432", "public.customers"),
    ]
    assert [o.outputFacets["outputStatistics"].rowCount for o in lineage.outputs] == [10, 3]
    assert lineage.inputs == []  # no source namespace on the connection
    assert lineage.run_facets["externalQuery"].externalQueryId == "job_1"
    assert lineage.run_facets["externalQuery"].source == "planasonix"
    job_type = lineage.job_facets["jobType"]
    assert (job_type.integration, job_type.jobType, job_type.processingType) == (
        "PLANASONIX",
        "SYNC",
        "BATCH",
    )
    assert "errorMessage" not in lineage.run_facets


@pytest.mark.usefixtures("openlineage")
def test_on_failure_names_the_remote_id_and_the_error() -> None:
    operator = PlanasonixBackfillOperator(
        task_id="bf",
        connection_id="conn_1",
        start_at="2025-01-01T00:00Z",
        end_at="2025-02-01T00:00Z",
    )
    operator._lineage_failure = ("bf_9", "Planasonix backfill bf_9 failed: boom")
    lineage = operator.get_openlineage_facets_on_failure(None)
    assert lineage.outputs == []
    assert lineage.run_facets["externalQuery"].externalQueryId == "bf_9"
    assert lineage.run_facets["errorMessage"].message == "Planasonix backfill bf_9 failed: boom"
    assert lineage.job_facets["jobType"].jobType == "BACKFILL"


@pytest.mark.usefixtures("openlineage")
def test_without_a_destination_namespace_tables_live_in_the_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_PLANASONIX_DEFAULT",
        '{"conn_type": "planasonix", "host": "https://api.planasonix.com", "password": "k_1", '
        '"extra": {"lineage_source_namespace": "mysql://shop:3306"}}',
    )
    operator = PlanasonixSyncOperator(task_id="sync", connection_id="conn_1")
    operator._lineage_summary = SUMMARY
    lineage = operator.get_openlineage_facets_on_complete(None)
    assert {o.namespace for o in lineage.outputs} == {"planasonix://conn_1"}
    assert [(i.namespace, i.name) for i in lineage.inputs] == [
        ("mysql://shop:3306", "public.orders"),
        ("mysql://shop:3306", "public.customers"),
    ]


class _TI:
    dag_id, run_id, task_id, map_index, try_number = "d", "r", "t", -1, 1


def test_run_ids_are_opt_in_and_a_missing_provider_is_logged(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    context = {"ti": _TI()}
    plain = PlanasonixSyncOperator(task_id="sync", connection_id="c", metadata={"team": "x"})
    assert plain._job_metadata(context) == {
        "team": "x",
        "airflow_dag_id": "d",
        "airflow_run_id": "r",
        "airflow_task_id": "t",
        "airflow_map_index": -1,
        "airflow_try_number": 1,
    }
    asking = PlanasonixSyncOperator(task_id="sync2", connection_id="c", openlineage_run_ids=True)
    monkeypatch.setitem(sys.modules, "planasonix_provider.operators.lineage", None)
    metadata = asking._job_metadata(context)
    assert not any(key.startswith("openlineage_") for key in metadata)
    assert "the OpenLineage provider is not installed" in capsys.readouterr().out
