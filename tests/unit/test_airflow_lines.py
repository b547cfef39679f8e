"""The Airflow-lines module: names resolved on the running line, the feature table, its docs."""

from __future__ import annotations

import subprocess
import sys

import pytest

from planasonix_provider import airflow_lines
from planasonix_provider.airflow_lines import AIRFLOW_VERSION, FEATURES, _release, has
from tests.conftest import REPO_ROOT

DOCS_PAGE = REPO_ROOT / "docs" / "airflow-versions.md"


@pytest.mark.parametrize(
    ("version", "expected"),
    [("3.0.2", (3, 0, 2)), ("3.2.0rc1", (3, 2, 0)), ("3.3.0.dev0", (3, 3, 0)), ("3.1", (3, 1, 0))],
)
def test_release_numbers(version: str, expected: tuple[int, int, int]) -> None:
    assert _release(version) == expected


def test_features_follow_the_running_version() -> None:
    for name, feature in FEATURES.items():
        assert has(name) is (feature.since <= AIRFLOW_VERSION), name


def test_the_resolved_names_are_airflows_own() -> None:
    """Whichever home a name has on this line, it is the class Airflow itself uses there."""
    from airflow.triggers.base import BaseTrigger

    assert issubclass(airflow_lines.BaseSensorOperator, airflow_lines.BaseOperator)
    assert issubclass(airflow_lines.AirflowNotFoundException, airflow_lines.AirflowException)
    assert airflow_lines.conf.getboolean("operators", "default_deferrable", fallback=False) in (
        True,
        False,
    )
    assert not hasattr(BaseTrigger, "on_kill") or has("trigger on_kill")


def test_importing_the_dag_facing_modules_warns_of_nothing_deprecated() -> None:
    """In a fresh interpreter, with every DeprecationWarning an error."""
    modules = [
        "planasonix_provider.hooks.planasonix",
        "planasonix_provider.operators.planasonix",
        "planasonix_provider.sensors.planasonix",
        "planasonix_provider.triggers.planasonix",
    ]
    code = "import " + ", ".join(modules)
    result = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]


def test_the_docs_table_says_what_the_code_does() -> None:
    """Each feature's row in docs/airflow-versions.md carries the text the code logs, and ticks
    exactly the lines from the one that brought the feature."""
    rows = [line for line in DOCS_PAGE.read_text().splitlines() if line.startswith("|")]
    for feature in FEATURES.values():
        (row,) = [row for row in rows if feature.without in row]
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        ticks = [cell.startswith("✓") for cell in cells[1:5]]
        expected = [(3, minor) >= feature.since[:2] for minor in range(4)]
        assert ticks == expected, feature.name
