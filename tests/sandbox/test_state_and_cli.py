"""State file restarts, seeded determinism, the control plane's reset, and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx

from planasonix_provider.sandbox.testing import run_sandbox
from tests.sandbox.conftest import CONN, make_client, wait_for


def test_restart_with_state_file_keeps_jobs_running(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    config = {"scenarios": {CONN: {"duration": 10, "queued_for": 0}}}
    with run_sandbox(speed=10, state_file=state, config=config) as first, make_client(first) as api:
        job = api.trigger_sync(CONN, metadata={"run": "a"})
        hook = api.create_webhook("https://example.com/h", ["job.failed"])
        wait_for(lambda: api.get_job(job.id).status == "running")
    assert state.exists() and job.id in state.read_text()
    with run_sandbox(speed=10, state_file=state) as second, make_client(second) as api:
        again = api.get_job(job.id)
        assert again.created_at == job.created_at and again.metadata == {"run": "a"}
        done = wait_for(lambda: (j := api.get_job(job.id)).status == "succeeded" and j)
        assert done.duration_seconds is not None and done.duration_seconds > 0.9
        assert api.get_webhook(hook.id).events == ["job.failed"]
        assert second.control.jobs_started() == 1
        assert api.trigger_sync(CONN).id != job.id


def test_same_seed_same_ids_and_checksums() -> None:
    def run() -> tuple[str, list[str | None]]:
        with run_sandbox(speed=50, seed=42) as handle, make_client(handle) as api:
            handle.control.set_scenario(CONN, duration=0.1, queued_for=0)
            job = api.trigger_sync(CONN)
            results = wait_for(lambda: api.get_job_results(job.id))
            return job.id, [t.checksum for t in results.tables]

    assert run() == run()


def test_reset_clears_everything_but_connections() -> None:
    config = {"connections": [CONN]}
    with run_sandbox(speed=10, config=config) as handle, make_client(handle) as api:
        handle.control.set_scenario(CONN, duration=0.1)
        handle.control.add_fault(path="/nowhere", status=500)
        api.trigger_sync(CONN)
        api.create_webhook("https://example.com/h", ["job.failed"])
        handle.control.reset()
        assert list(api.list_jobs()) == [] and list(api.list_webhooks()) == []
        assert handle.control.faults() == [] and handle.control.scenarios() == {}
        assert handle.control.counters()["jobs_started"]["total"] == 0
        assert api.trigger_sync(CONN).status == "queued"


def test_config_file_yaml_with_faults(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.yaml"
    path.write_text(
        "scenarios:\n  conn_y: {outcome: fail, duration: 0.1}\n"
        "faults:\n  - {method: GET, path: /api/v1/backfills, status: 502, count: 1}\n"
    )
    with run_sandbox(speed=10, config=path) as handle:
        headers = {"Authorization": f"Bearer {handle.api_key}"}
        first = httpx.get(f"{handle.base_url}/api/v1/backfills", headers=headers)
        second = httpx.get(f"{handle.base_url}/api/v1/backfills", headers=headers)
        assert (first.status_code, second.status_code) == (502, 200)
        assert handle.control.scenarios()["conn_y"]["outcome"] == "fail"


def test_cli_prints_url_key_and_airflow_connection(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "planasonix_provider.sandbox",
            "--port",
            "0",
            "--seed",
            "3",
            "--speed",
            "5",
            "--log-level",
            "info",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline().strip() for _ in range(3)]
        assert lines[0].startswith("Planasonix sandbox listening on http://127.0.0.1:")
        url = lines[0].rsplit(" ", 1)[1]
        key = lines[1].removeprefix("API key: ")
        assert key.startswith("pnx_sandbox_")
        assert lines[2].startswith("AIRFLOW_CONN_PLANASONIX_DEFAULT='")
        conn = json.loads(lines[2].split("=", 1)[1].strip("'"))
        assert conn == {"conn_type": "planasonix", "host": url, "password": key}
        headers = {"Authorization": f"Bearer {key}"}
        response = wait_for(
            lambda: _try(f"{url}/api/v1/connections/{CONN}/sync", headers), timeout=15
        )
        assert response.status_code == 202
    finally:
        process.terminate()
        rest, stderr = process.communicate(timeout=15)
    logs = rest + stderr
    assert "POST /api/v1/connections" in logs  # the access log is on
    assert key not in logs  # and never shows the key


def _try(url: str, headers: dict[str, str]) -> httpx.Response | None:
    try:
        return httpx.post(url, headers=headers)
    except httpx.TransportError:
        return None
