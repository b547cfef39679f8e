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
def test_on_failure_after_a_deferral_the_work_is_read_again_and_never_fails_the_task(
    mocker: Any,
) -> None:
    """A trigger's event does not carry the job: its times and status for the child run are read
    on the worker, and a failed read is logged, not raised."""
    from planasonix_provider.api.errors import RequestInfo, ServerError
    from planasonix_provider.api.models import Job

    operator = PlanasonixSyncOperator(task_id="sync", connection_id="conn_1")
    client = operator.hook.__dict__["client"] = mocker.Mock()
    client.get_job.return_value = Job(id="job_3", status="cancelled")
    read = mocker.spy(operator, "_read_for_lineage")
    operator._lineage_failure = ("job_3", "Planasonix job job_3 was cancelled in Planasonix")
    lineage = operator.get_openlineage_facets_on_failure(None)
    client.get_job.assert_called_once_with("job_3")
    assert read.spy_return == {"id": "job_3", "status": "cancelled"}
    assert lineage.run_facets["externalQuery"].externalQueryId == "job_3"

    client.get_job.side_effect = ServerError(RequestInfo("get_job", "GET", "/jobs/job_3"), 503)
    warning = mocker.spy(operator.log, "warning")
    lineage = operator.get_openlineage_facets_on_failure(None)
    assert lineage.run_facets["externalQuery"].externalQueryId == "job_3"
    assert (
        "Could not read job for its lineage"
        in warning.call_args.args[0] % warning.call_args.args[1:]
    )


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


# --- The Planasonix work as a child run of the task --------------------------------------

PARENT_RUN_ID = "01931b2c-0000-7000-8000-000000000001"
ROOT_RUN_ID = "01931b2c-0000-7000-8000-000000000002"
JOB = {
    "id": "job_1",
    "status": "succeeded",
    "created_at": "2025-03-27T14:22:10Z",
    "queued_at": "2025-03-27T14:22:10Z",
    "started_at": "2025-03-27T14:22:12Z",
    "finished_at": "2025-03-27T14:25:00Z",
}


@pytest.fixture
def lineage_module(openlineage: None) -> Any:
    from planasonix_provider.operators import lineage

    return lineage


def _parent(lineage: Any, root: bool = True) -> Any:
    return lineage.ParentRun(
        job_namespace="ns",
        job_name="dag.sync",
        run_id=PARENT_RUN_ID,
        root_job_namespace="ns" if root else None,
        root_job_name="dag" if root else None,
        root_run_id=ROOT_RUN_ID if root else None,
    )


def _target(lineage: Any, kind: str = "job") -> Any:
    return lineage.LineageTarget(
        kind, "conn_1", source_namespace="mysql://shop:3306", destination_namespace="pg://wh"
    )


def _events(lineage: Any, kind: str = "job", **kwargs: Any) -> list[Any]:
    target = _target(lineage, kind)
    args: dict[str, Any] = {"summary": None, "resource": None, "resource_id": None, "error": None}
    args.update(kwargs)
    full = lineage._full_lineage(target, args["summary"], args["resource_id"], args["error"])
    parent = kwargs.pop("parent", None) or _parent(lineage)
    args.pop("parent", None)
    args["resource_id"] = lineage._remote_id(args["summary"], args["resource_id"])
    events: list[Any] = lineage.child_run_events(target, parent, full, **args)
    return events


def _iso(value: str) -> str:
    from datetime import datetime

    return datetime.fromisoformat(value.replace("Z", "+00:00")).isoformat()


def test_a_sync_child_run_is_started_and_completed_at_the_job_s_times(
    lineage_module: Any,
) -> None:
    start, complete = _events(lineage_module, summary=SUMMARY, resource=JOB)
    assert (start.eventType.value, complete.eventType.value) == ("START", "COMPLETE")
    assert start.eventTime == _iso(JOB["started_at"])
    assert complete.eventTime == _iso(JOB["finished_at"])
    assert start.run.runId == complete.run.runId
    for event in (start, complete):
        assert (event.job.namespace, event.job.name) == ("ns", "dag.sync.planasonix_sync.conn_1")
        job_type = event.job.facets["jobType"]
        assert (job_type.integration, job_type.jobType, job_type.processingType) == (
            "PLANASONIX",
            "SYNC",
            "BATCH",
        )
        parent = event.run.facets["parent"]
        assert (parent.run.runId, parent.job.namespace, parent.job.name) == (
            PARENT_RUN_ID,
            "ns",
            "dag.sync",
        )
        assert (parent.root.run.runId, parent.root.job.namespace, parent.root.job.name) == (
            ROOT_RUN_ID,
            "ns",
            "dag",
        )
        query = event.run.facets["externalQuery"]
        assert (query.externalQueryId, query.source) == ("job_1", "planasonix")
        assert "errorMessage" not in event.run.facets
        assert event.producer.startswith("https://pypi.org/project/airflow-provider-planasonix/")
    # Datasets belong to the end of the run: that is when the tables are known.
    assert start.outputs == [] and start.inputs == []
    assert [(o.namespace, o.name) for o in complete.outputs] == [
        ("pg://wh", "public.orders"),
        ("pg://wh", "public.customers"),
    ]
    assert [o.outputFacets["outputStatistics"].rowCount for o in complete.outputs] == [10, 3]
    assert [(i.namespace, i.name) for i in complete.inputs] == [
        ("mysql://shop:3306", "public.orders"),
        ("mysql://shop:3306", "public.customers"),
    ]


def test_the_summary_times_the_run_when_the_job_is_not_given(lineage_module: Any) -> None:
    summary = {**SUMMARY, **{k: JOB[k] for k in ("created_at", "started_at", "finished_at")}}
    start, complete = _events(lineage_module, summary=summary)
    assert (start.eventTime, complete.eventTime) == (
        _iso(JOB["started_at"]),
        _iso(JOB["finished_at"]),
    )


def test_the_run_id_is_the_same_for_the_same_job_and_new_without_one(lineage_module: Any) -> None:
    """A retry that reattached to the same job reports the same run; without a creation time
    there is nothing stable to derive it from."""
    import uuid

    first = _events(lineage_module, summary=SUMMARY, resource=JOB)[0].run.runId
    again = _events(lineage_module, summary=SUMMARY, resource=JOB)[0].run.runId
    other = _events(lineage_module, summary={**SUMMARY, "job_id": "job_2"}, resource=JOB)
    assert first == again != other[0].run.runId
    assert uuid.UUID(first).version == 7
    untimed = dict(SUMMARY)  # no timestamps
    assert _events(lineage_module, summary=untimed)[0].run.runId != (
        _events(lineage_module, summary=untimed)[0].run.runId
    )


def test_a_backfill_child_run_spans_its_creation_to_its_last_update(lineage_module: Any) -> None:
    backfill = {
        "id": "bf_9",
        "status": "completed",
        "created_at": "2025-03-27T15:00:00Z",
        "updated_at": "2025-03-27T15:05:00Z",
    }
    summary = {"backfill_id": "bf_9", "tables": [{"name": "public.orders", "rows_loaded": 30}]}
    start, complete = _events(lineage_module, "backfill", summary=summary, resource=backfill)
    assert (start.eventTime, complete.eventTime) == (
        _iso(backfill["created_at"]),
        _iso(backfill["updated_at"]),
    )
    assert complete.job.name == "dag.sync.planasonix_backfill.conn_1"
    assert complete.job.facets["jobType"].jobType == "BACKFILL"
    assert complete.run.facets["externalQuery"].externalQueryId == "bf_9"
    assert [o.outputFacets["outputStatistics"].rowCount for o in complete.outputs] == [30]
    # Without the backfill, the summary's finished_at (its last update) ends the run.
    _, alone = _events(
        lineage_module, "backfill", summary={**summary, "finished_at": JOB["finished_at"]}
    )
    assert alone.eventTime == _iso(JOB["finished_at"])


def test_a_failed_job_is_a_failed_child_run_with_its_error(lineage_module: Any) -> None:
    failed = {**JOB, "status": "failed"}
    start, end = _events(
        lineage_module, resource=failed, resource_id="job_1", error="Planasonix job job_1 failed: x"
    )
    assert (start.eventType.value, end.eventType.value) == ("START", "FAIL")
    assert "errorMessage" not in start.run.facets
    assert end.run.facets["errorMessage"].message == "Planasonix job job_1 failed: x"
    assert end.run.facets["externalQuery"].externalQueryId == "job_1"
    assert end.eventTime == _iso(JOB["finished_at"])
    assert end.outputs == [] and end.inputs == []


def test_cancelled_work_aborts_and_unknown_times_are_now(lineage_module: Any) -> None:
    from datetime import datetime, timezone

    before = datetime.now(timezone.utc)
    _, aborted = _events(
        lineage_module, resource={"status": "cancelled"}, resource_id="job_1", error="cancelled"
    )
    assert aborted.eventType.value == "ABORT"
    start, timed_out = _events(lineage_module, resource_id="job_1", error="timed out")
    assert timed_out.eventType.value == "FAIL"
    assert (
        before
        <= datetime.fromisoformat(start.eventTime)
        <= datetime.fromisoformat(timed_out.eventTime)
    )


def test_without_a_root_the_parent_facet_has_none(lineage_module: Any) -> None:
    start, _ = _events(lineage_module, summary=SUMMARY, parent=_parent(lineage_module, root=False))
    assert start.run.facets["parent"].root is None
    assert start.run.facets["parent"].run.runId == PARENT_RUN_ID


def _patched_macros(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The OpenLineage provider's macros, answering fixed ids for the task ``_TI``."""
    from airflow.providers.openlineage.plugins import macros

    monkeypatch.setattr(macros, "lineage_job_namespace", lambda: "ns")
    monkeypatch.setattr(macros, "lineage_job_name", lambda ti: f"{ti.dag_id}.{ti.task_id}")
    monkeypatch.setattr(macros, "lineage_run_id", lambda ti: PARENT_RUN_ID)
    monkeypatch.setattr(macros, "lineage_root_job_namespace", lambda ti: "ns")
    monkeypatch.setattr(macros, "lineage_root_job_name", lambda ti: ti.dag_id)
    monkeypatch.setattr(macros, "lineage_root_run_id", lambda ti: ROOT_RUN_ID)
    return macros


def test_parent_ids_come_from_the_provider_s_macros_and_a_missing_root_is_tolerated(
    lineage_module: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    macros = _patched_macros(monkeypatch)
    assert lineage_module.parent_run_of(_TI()) == lineage_module.ParentRun(
        "ns", "d.t", PARENT_RUN_ID, "ns", "d", ROOT_RUN_ID
    )
    monkeypatch.delattr(macros, "lineage_root_run_id")  # an older OpenLineage provider
    assert lineage_module.parent_run_of(_TI()) == lineage_module.ParentRun(
        "ns", "d.t", PARENT_RUN_ID
    )


def test_run_ids_for_the_job_metadata_leave_out_a_root_the_provider_lacks(
    lineage_module: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    macros = _patched_macros(monkeypatch)
    assert lineage_module.openlineage_run_ids(_TI()) == {
        "openlineage_parent_job_namespace": "ns",
        "openlineage_parent_job_name": "d.t",
        "openlineage_parent_run_id": PARENT_RUN_ID,
        "openlineage_root_job_namespace": "ns",
        "openlineage_root_job_name": "d",
        "openlineage_root_run_id": ROOT_RUN_ID,
    }
    monkeypatch.delattr(macros, "lineage_root_job_name")  # an older OpenLineage provider
    assert lineage_module.openlineage_run_ids(_TI()) == {
        "openlineage_parent_job_namespace": "ns",
        "openlineage_parent_job_name": "d.t",
        "openlineage_parent_run_id": PARENT_RUN_ID,
    }


class _Adapter:
    def __init__(self, fail: bool = False) -> None:
        self.events: list[Any] = []
        self.fail = fail

    def emit(self, event: Any) -> None:
        if self.fail:
            raise RuntimeError("transport down")
        self.events.append(event)


class _Listener:
    def __init__(self, adapter: _Adapter) -> None:
        self.adapter = adapter


@pytest.fixture
def listener(lineage_module: Any, monkeypatch: pytest.MonkeyPatch) -> _Adapter:
    """The OpenLineage provider as the task's listener sees it: enabled, with an adapter that
    records what it is given; the task's OpenLineage ids fixed."""
    from airflow.providers.openlineage import conf as ol_conf
    from airflow.providers.openlineage.plugins import listener as ol_listener

    adapter = _Adapter()
    monkeypatch.setattr(ol_conf, "is_disabled", lambda: False)
    monkeypatch.setattr(ol_listener, "get_openlineage_listener", lambda: _Listener(adapter))
    monkeypatch.setattr(lineage_module, "parent_run_of", lambda ti: _parent(lineage_module))
    return adapter


def test_with_the_task_instance_the_child_run_carries_the_datasets(
    lineage_module: Any, listener: _Adapter
) -> None:
    task = lineage_module.operator_lineage(
        _target(lineage_module), SUMMARY, task_instance=_TI(), resource=JOB
    )
    assert [e.eventType.value for e in listener.events] == ["START", "COMPLETE"]
    assert len(listener.events[1].outputs) == 2
    # The task's own event: the Planasonix id, no datasets (one producer per table), and no
    # job type (the OpenLineage provider sets AIRFLOW / TASK there anyway).
    assert task.inputs == [] and task.outputs == [] and task.job_facets == {}
    assert task.run_facets["externalQuery"].externalQueryId == "job_1"


def test_on_failure_the_task_keeps_the_error_and_the_child_fails(
    lineage_module: Any, listener: _Adapter
) -> None:
    task = lineage_module.operator_lineage(
        _target(lineage_module, "backfill"),
        None,
        "bf_9",
        "Planasonix backfill bf_9 failed: boom",
        task_instance=_TI(),
    )
    assert [e.eventType.value for e in listener.events] == ["START", "FAIL"]
    assert listener.events[1].job.facets["jobType"].jobType == "BACKFILL"
    assert task.run_facets["errorMessage"].message == "Planasonix backfill bf_9 failed: boom"
    assert task.run_facets["externalQuery"].externalQueryId == "bf_9"


def test_an_emission_failure_is_logged_and_the_task_carries_the_datasets(
    lineage_module: Any,
    listener: _Adapter,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    listener.fail = True
    with caplog.at_level("WARNING", logger=lineage_module.__name__):
        task = lineage_module.operator_lineage(
            _target(lineage_module), SUMMARY, task_instance=_TI(), resource=JOB
        )
    assert len(task.outputs) == 2 and task.job_facets["jobType"].jobType == "SYNC"
    assert (
        "could not emit the Planasonix job job_1 as a child run (RuntimeError: transport down)"
        in caplog.text
    )

    def broken(ti: Any) -> Any:
        raise KeyError("dag_run")

    monkeypatch.setattr(lineage_module, "parent_run_of", broken)
    caplog.clear()
    with caplog.at_level("WARNING", logger=lineage_module.__name__):
        task = lineage_module.operator_lineage(
            _target(lineage_module), SUMMARY, task_instance=_TI()
        )
    assert len(task.outputs) == 2
    assert "could not emit the Planasonix job job_1" in caplog.text


def test_with_openlineage_disabled_nothing_is_emitted(
    lineage_module: Any, listener: _Adapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.providers.openlineage import conf as ol_conf

    monkeypatch.setattr(ol_conf, "is_disabled", lambda: True)
    task = lineage_module.operator_lineage(_target(lineage_module), SUMMARY, task_instance=_TI())
    assert listener.events == []
    assert len(task.outputs) == 2


def test_without_the_task_instance_nothing_is_emitted(
    lineage_module: Any, listener: _Adapter
) -> None:
    """The operators' entry point as it was: the task's event carries everything."""
    task = lineage_module.operator_lineage(_target(lineage_module), SUMMARY)
    assert listener.events == []
    assert len(task.outputs) == 2 and task.job_facets["jobType"].integration == "PLANASONIX"


def test_no_child_run_without_work_whose_end_is_known(
    lineage_module: Any, listener: _Adapter
) -> None:
    """Nothing was started (the task failed before: no id), or the task failed while the work
    was still going (an id, no outcome): there is no Planasonix run to report yet."""
    target = _target(lineage_module)
    not_started = lineage_module.operator_lineage(target, None, None, "401", task_instance=_TI())
    still_going = lineage_module.operator_lineage(target, None, "job_1", task_instance=_TI())
    assert listener.events == []
    assert "externalQuery" not in not_started.run_facets
    assert still_going.run_facets["externalQuery"].externalQueryId == "job_1"
