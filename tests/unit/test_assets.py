"""Asset naming, the events' extra, and how the operators declare and fill their outlets."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from airflow.sdk import DAG, Asset, AssetAlias

from planasonix_provider.hooks.asset_naming import asset_uri, check_uri_template
from planasonix_provider.hooks.planasonix import (
    ConnectionSettings,
    PlanasonixConnectionError,
)
from planasonix_provider.operators.assets import (
    MAX_JOB_IDS_PER_EVENT,
    default_alias,
    emit_asset_events,
    event_extras,
)
from planasonix_provider.operators.planasonix import (
    PlanasonixBackfillOperator,
    PlanasonixSyncOperator,
)

SYNC_SUMMARY: dict[str, Any] = {
    "job_id": "job_1",
    "status": "succeeded",
    "connection_id": "conn_1",
    "finished_at": "2025-03-27T14:25:00Z",
    "tables": [
        {"name": "public.orders", "rows_loaded": 10, "checksum": "sha256:aa"},
        {"name": "public.customers", "rows_loaded": 0, "checksum": None},
    ],
    "warnings": [{"code": "w", "message": "m"}],
    "url": "https://app.planasonix.com/jobs/job_1",
}


@pytest.mark.parametrize(
    ("template", "uri"),
    [
        ("planasonix://{connection_id}/{table}", "planasonix://conn_1/public.orders"),
        ("postgres://wh:5432/db/{table_path}", "postgres://wh:5432/db/public/orders"),
        ("s3://bucket/{schema}/{name}.parquet", "s3://bucket/public/orders.parquet"),
    ],
)
def test_asset_uri_fills_every_placeholder(template: str, uri: str) -> None:
    assert asset_uri(template, "conn_1", "public.orders") == uri


def test_a_table_without_a_schema_has_an_empty_schema() -> None:
    assert asset_uri("x://{schema}|{name}", "c", "orders") == "x://|orders"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("x://{conection_id}/{table}", r"unknown placeholder\(s\) conection_id; the known ones"),
        ("x://{connection_id}/all", r"must hold \{table\}, \{name\} or \{table_path\}"),
        ("x://{table", "is not a valid template"),
    ],
)
def test_bad_templates_are_refused_with_the_field_named(template: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        check_uri_template(template, "asset_uri_template")
    assert str(info.value).startswith("asset_uri_template ")


def test_an_operator_refuses_a_bad_template_at_parse_time() -> None:
    with pytest.raises(ValueError, match=r"asset_uri_template 'x://\{tbl\}' uses unknown"):
        PlanasonixSyncOperator(task_id="s", connection_id="c", asset_uri_template="x://{tbl}")


def test_connection_extras_are_read_and_a_bad_template_names_the_connection() -> None:
    settings = ConnectionSettings.parse(
        "pnx",
        host="https://api.planasonix.com",
        port=None,
        password="k",
        extra={
            "asset_uri_template": "postgres://wh/{table_path}",
            "lineage_source_namespace": " mysql://shop:3306 ",
            "lineage_destination_namespace": "",
        },
    )
    assert settings.asset_uri_template == "postgres://wh/{table_path}"
    assert settings.lineage_source_namespace == "mysql://shop:3306"
    assert settings.lineage_destination_namespace is None
    with pytest.raises(PlanasonixConnectionError) as info:
        ConnectionSettings.parse(
            "pnx", host=None, port=None, password="k", extra={"asset_uri_template": "x://{t}"}
        )
    assert "'pnx'" in str(info.value)
    assert "extra field 'asset_uri_template'" in str(info.value)


def test_sync_extras_are_small_json_safe_and_per_table() -> None:
    extras = event_extras(SYNC_SUMMARY)
    assert list(extras) == ["public.orders", "public.customers"]
    assert extras["public.orders"] == {
        "table": "public.orders",
        "rows_loaded": 10,
        "checksum": "sha256:aa",
        "connection_id": "conn_1",
        "finished_at": "2025-03-27T14:25:00Z",
        "warnings": 1,
        "url": "https://app.planasonix.com/jobs/job_1",
        "job_id": "job_1",
    }
    assert "checksum" not in extras["public.customers"]
    assert json.loads(json.dumps(extras)) == extras
    # Flat: Airflow 3.0 hashes every value of an alias event's extra.
    assert all(hash(value) is not None for extra in extras.values() for value in extra.values())


@pytest.mark.parametrize("jobs", [3, MAX_JOB_IDS_PER_EVENT, MAX_JOB_IDS_PER_EVENT + 5])
def test_backfill_extras_cap_the_job_ids_and_say_so(jobs: int) -> None:
    job_ids = [f"job_{i}" for i in range(jobs)]
    summary = {
        "backfill_id": "bf_1",
        "connection_id": "conn_1",
        "start_at": "2025-01-01T00:00:00Z",
        "end_at": "2025-03-01T00:00:00Z",
        "finished_at": "2025-03-02T00:00:00Z",
        "job_ids": job_ids,
        "tables": [{"name": "public.orders", "rows_loaded": 30}],
        "warnings": [],
        "url": "u",
    }
    extra = event_extras(summary)["public.orders"]
    assert extra["job_ids"].split(",") == job_ids[:MAX_JOB_IDS_PER_EVENT]
    assert extra["job_count"] == jobs
    assert extra.get("job_ids_truncated", False) is (jobs > MAX_JOB_IDS_PER_EVENT)
    assert (extra["backfill_id"], extra["start_at"], extra["end_at"]) == (
        "bf_1",
        "2025-01-01T00:00:00Z",
        "2025-03-01T00:00:00Z",
    )
    assert "job_id" not in extra
    assert all(hash(value) is not None for value in extra.values())


class _Accessor:
    def __init__(self) -> None:
        self.extra: dict[str, Any] = {}
        self.added: list[tuple[str, dict[str, Any]]] = []

    def add(self, asset: Asset, extra: dict[str, Any]) -> None:
        self.added.append((asset.uri, extra))


class _OutletEvents:
    """``context["outlet_events"]``: one accessor per outlet (keyed by repr: Airflow 3.0's assets
    and aliases are not hashable)."""

    def __init__(self) -> None:
        self._by_key: dict[str, _Accessor] = {}

    def __getitem__(self, outlet: Any) -> _Accessor:
        return self._by_key.setdefault(repr(outlet), _Accessor())


def test_an_alias_gets_every_table_and_a_declared_asset_only_its_own() -> None:
    alias = AssetAlias("mine")
    orders = Asset("planasonix://conn_1/public.orders")
    stray = Asset("planasonix://conn_1/public.nothing")
    events = _OutletEvents()
    report = emit_asset_events(
        [alias, orders, stray], events, SYNC_SUMMARY, "planasonix://{connection_id}/{table}", "x"
    )
    assert [uri for uri, _ in events[alias].added] == [
        "planasonix://conn_1/public.orders",
        "planasonix://conn_1/public.customers",
    ]
    assert events[orders].extra["rows_loaded"] == 10
    assert events[stray].extra == {}
    assert report == {
        "emitted": ["planasonix://conn_1/public.orders", "planasonix://conn_1/public.customers"],
        "described": ["planasonix://conn_1/public.orders"],
        "unmatched": ["planasonix://conn_1/public.nothing"],
    }


def test_the_operator_declares_its_own_alias_only_when_the_user_declared_nothing() -> None:
    with DAG(dag_id="d", schedule=None):
        plain = PlanasonixSyncOperator(task_id="sync", connection_id="c")
        declared = PlanasonixSyncOperator(
            task_id="declared", connection_id="c", outlets=[Asset("planasonix://c/public.orders")]
        )
        no_wait = PlanasonixSyncOperator(
            task_id="no_wait", connection_id="c", wait_for_completion=False
        )
        backfill = PlanasonixBackfillOperator(
            task_id="backfill",
            connection_id="c",
            start_at="2025-01-01T00:00:00Z",
            end_at="2025-02-01T00:00:00Z",
        )
    assert plain.outlets == [AssetAlias("planasonix:d.sync")]
    assert declared.outlets == [Asset("planasonix://c/public.orders")]
    assert no_wait.outlets == []
    assert backfill.outlets == [AssetAlias("planasonix:d.backfill")]
    assert default_alias(None, "t") == AssetAlias("planasonix:t")


def test_importing_the_operators_imports_no_openlineage() -> None:
    """Airflow's provider discovery reads every provider's ``get_provider_info``; beyond that,
    neither the OpenLineage client nor the provider's code nor our lineage module is loaded."""
    code = (
        "import sys, planasonix_provider.operators.planasonix;"
        "print(sorted(n for n in sys.modules if 'lineage' in n))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    loaded = set(json.loads(out.strip().splitlines()[-1].replace("'", '"')))
    assert loaded <= {
        "airflow.providers.openlineage",
        "airflow.providers.openlineage.get_provider_info",
    }
