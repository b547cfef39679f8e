"""Test-wide set-up: an isolated Airflow home, set before anything imports airflow."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

# Airflow reads these at import time; pytest imports conftest.py first, so this is early enough.
_airflow_home = Path(tempfile.mkdtemp(prefix="planasonix-airflow-home-"))
os.environ["AIRFLOW_HOME"] = str(_airflow_home)
# dag.test() needs the DAG file inside the configured dags folder, and Airflow walks that whole
# folder: give it a folder of its own with the example DAGs and the end-to-end test DAGs.
DAGS_FOLDER = _airflow_home / "dags"
DAGS_FOLDER.mkdir()
for _source in (REPO_ROOT / "example_dags", REPO_ROOT / "tests" / "e2e" / "dags"):
    for _dag_file in _source.glob("*.py"):
        shutil.copy(_dag_file, DAGS_FOLDER / _dag_file.name)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAGS_FOLDER)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
os.environ.setdefault(
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{_airflow_home}/airflow.db"
)


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """A migrated SQLite metadata database in the test Airflow home (about 2 s), for dag.test()."""
    subprocess.run(
        [str(Path(sys.executable).parent / "airflow"), "db", "migrate"],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
    )
