"""The main job: start the sandbox, run the example sync DAG with ``airflow dags test``, print its
results from XCom, and stop the sandbox. Everything lives under ``.demo/`` (recreated each run)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / ".demo"
BIN = Path(sys.executable).parent
DAG_ID, TASK_ID = "planasonix_sync", "sync_orders"


def airflow_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        AIRFLOW_HOME=str(DEMO / "airflow-home"),
        AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "example_dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        PLANASONIX_POLL_INTERVAL="1",
    )
    return env


def start_sandbox(log: Path) -> tuple[subprocess.Popen[str], str]:
    """Start ``planasonix-sandbox`` on a free port; return it and the connection it printed."""
    sandbox = subprocess.Popen(
        [str(BIN / "planasonix-sandbox"), "--port", "0", "--seed", "42"],
        stdout=subprocess.PIPE,
        stderr=log.open("w"),
        text=True,
    )
    assert sandbox.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = sandbox.stdout.readline()
        if not line:
            break
        print(f"  sandbox | {line.rstrip()}")
        match = re.match(r"AIRFLOW_CONN_PLANASONIX_DEFAULT='(.*)'$", line.strip())
        if match:
            return sandbox, match.group(1)
    sandbox.kill()
    raise SystemExit(f"the sandbox did not start; see {log}")


def read_xcom(env: dict[str, str]) -> object:
    """The sync task's return value, read from the demo's Airflow database."""
    code = (
        "import json\n"
        "from sqlalchemy import select\n"
        "from airflow.models.xcom import XComModel as X\n"
        "from airflow.utils.session import create_session\n"
        "with create_session() as s:\n"
        f"    row = s.scalars(select(X.value).where(X.dag_id == {DAG_ID!r}, "
        f"X.task_id == {TASK_ID!r}, X.key == 'return_value')"
        ".order_by(X.timestamp.desc())).first()\n"
        "print(json.dumps(json.loads(row) if isinstance(row, str) else row))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    shutil.rmtree(DEMO, ignore_errors=True)
    DEMO.mkdir()
    env = airflow_env()
    print("1/4 Preparing the Airflow metadata database (SQLite) under .demo/ ...")
    subprocess.run(
        [str(BIN / "airflow"), "db", "migrate"], env=env, check=True, capture_output=True
    )
    print("2/4 Starting the local Planasonix sandbox ...")
    sandbox, conn = start_sandbox(DEMO / "sandbox.log")
    try:
        env["AIRFLOW_CONN_PLANASONIX_DEFAULT"] = conn
        print(f"3/4 airflow dags test {DAG_ID} (log: .demo/dags-test.log) ...")
        started = time.monotonic()
        with (DEMO / "dags-test.log").open("w") as log:
            run = subprocess.run(
                [str(BIN / "airflow"), "dags", "test", DAG_ID],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        elapsed = time.monotonic() - started
        if run.returncode != 0:
            print((DEMO / "dags-test.log").read_text()[-4000:])
            print(f"airflow dags test failed with exit code {run.returncode}")
            return 1
        print(f"    DAG run finished in {elapsed:.1f} s")
        print(f"4/4 Result of {DAG_ID}.{TASK_ID} from XCom:")
        result = read_xcom(env)
        print(json.dumps(result, indent=2))
        if not isinstance(result, dict) or result.get("status") != "succeeded":
            print("The sync did not succeed.")
            return 1
        rows = sum(t["rows_loaded"] or 0 for t in result["tables"])
        tables = len(result["tables"])
        print(f"Planasonix job {result['job_id']} succeeded: {rows} rows in {tables} tables.")
        return 0
    finally:
        sandbox.terminate()
        try:
            sandbox.wait(timeout=10)
        except subprocess.TimeoutExpired:
            sandbox.kill()


if __name__ == "__main__":
    sys.exit(main())
