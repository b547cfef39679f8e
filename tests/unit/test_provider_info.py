"""get_provider_info() against the schemas shipped inside the installed airflow package."""

from __future__ import annotations

import importlib
import json
from importlib.metadata import entry_points
from pathlib import Path

import airflow
import jsonschema
import pytest

from planasonix_provider import __version__
from planasonix_provider.get_provider_info import get_provider_info

AIRFLOW_DIR = Path(airflow.__file__).parent


def _schema(name: str) -> dict:
    return json.loads((AIRFLOW_DIR / name).read_text())


def test_entry_point_points_at_get_provider_info() -> None:
    (ep,) = [
        ep
        for ep in entry_points(group="apache_airflow_provider")
        if ep.value.startswith("planasonix_provider")
    ]
    assert ep.load() is get_provider_info


def test_whole_info_validates_against_provider_info_schema() -> None:
    jsonschema.validate(get_provider_info(), _schema("provider_info.schema.json"))


def test_connection_types_validate_against_provider_yaml_schema() -> None:
    schema = _schema("provider.yaml.schema.json")["properties"]["connection-types"]
    info = get_provider_info()
    jsonschema.validate(info["connection-types"], schema)
    (conn_type,) = info["connection-types"]
    assert conn_type["connection-type"] == "planasonix"
    behaviour = conn_type["ui-field-behaviour"]
    assert behaviour["relabeling"] == {"host": "Base URL", "password": "API key"}
    assert behaviour["placeholders"]["host"] == "https://api.planasonix.com"
    assert {"timeout", "retry_attempts", "retry_max_wait"} <= set(conn_type["conn-fields"])


def test_version_is_the_package_version() -> None:
    assert get_provider_info()["versions"] == [__version__]


def _listed_modules() -> list[str]:
    info = get_provider_info()
    modules = []
    for section in ("hooks", "operators", "sensors", "triggers"):
        for entry in info.get(section, []):
            modules.extend(entry["python-modules"])
    return modules


@pytest.mark.parametrize("module", _listed_modules())
def test_every_listed_module_imports(module: str) -> None:
    assert importlib.import_module(module)


def test_classes_named_in_info_exist() -> None:
    info = get_provider_info()
    names = [ct["hook-class-name"] for ct in info["connection-types"]]
    names += info.get("extra-links", [])
    for dotted in names:
        module, _, attr = dotted.rpartition(".")
        assert hasattr(importlib.import_module(module), attr), dotted
