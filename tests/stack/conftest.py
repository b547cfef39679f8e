"""A real Airflow 3 deployment for the ``stack`` tests: api-server, scheduler, dag-processor and
triggerer as separate processes (LocalExecutor on SQLite), plus the sandbox started with its
console command. Started once per session; every process is stopped by PID at the end."""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from planasonix_provider.sandbox.testing import SandboxControl
from tests.conftest import REPO_ROOT

BIN = Path(sys.executable).parent
STACK_DAGS = Path(__file__).resolve().parent / "dags"
EXAMPLE_SYNC_DAG = REPO_ROOT / "example_dags" / "planasonix_sync.py"
ARTIFACTS = REPO_ROOT / "test-artifacts"

START_TIMEOUT = 120.0
STOP_TIMEOUT = 20.0
#: Triggerer heartbeat and the age after which the scheduler hands its triggers to another one.
TRIGGERER_HEARTBEAT = 2
TRIGGERER_HEALTH_THRESHOLD = 10


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Proc:
    """A process started in a session (process group) of its own, with its output in a file."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    job_id: int | None = None  # a triggerer's Job row

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, sig)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM to the whole group, then SIGKILL to it once ``timeout`` has passed."""
        if self.alive():
            self.kill_group(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout)
        self.kill_group(signal.SIGKILL)  # what is left of the group (children included)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(10)

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def stop_all(procs: list[Proc], timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM to every group at once, SIGKILL to what is left after ``timeout``."""
    for proc in procs:
        if proc.alive():
            proc.kill_group(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.popen.wait(max(deadline - time.monotonic(), 0.1))
    for proc in procs:
        proc.stop(timeout=0)


def spawn(name: str, argv: list[str], env: dict[str, str], logs: Path) -> Proc:
    log = logs / f"{name}.log"
    with log.open("ab") as out:
        popen = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=logs,
        )
    return Proc(name, popen, log)


def marked_pids(marker: str) -> list[int]:
    """PIDs of the processes whose environment holds our marker: what the stack started,
    including task processes that left their parent's process group."""
    needle = f"PLANASONIX_STACK_ID={marker}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def wait_until(
    what: str, check: Callable[[], Any], timeout: float, interval: float = 0.5, on_fail: str = ""
) -> Any:
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
        except (httpx.HTTPError, OSError, ValueError, KeyError) as exc:
            last_error = exc
        else:
            if result:
                return result
        time.sleep(interval)
    raise AssertionError(
        f"timed out after {timeout:.0f} s waiting for {what} ({last_error})\n{on_fail}"
    )


class AirflowApi:
    """Airflow's REST API with a bearer token; keeps every response body for the secret check."""

    def __init__(self, base_url: str, password: str) -> None:
        self.base_url = base_url
        self.bodies: list[str] = []
        self._http = httpx.Client(base_url=base_url, timeout=30.0)
        response = self._http.post("/auth/token", json={"username": "admin", "password": password})
        self._keep(response)
        response.raise_for_status()
        self.token = response.json()["access_token"]
        self._http.headers["Authorization"] = f"Bearer {self.token}"

    def close(self) -> None:
        self._http.close()

    def _keep(self, response: httpx.Response) -> None:
        self.bodies.append(response.text)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self._http.request(method, path, **kwargs)
        self._keep(response)
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        if response.is_error:
            raise AssertionError(f"{method} {path}: {response.status_code} {response.text[:500]}")
        return response.json()

    # --- DAG runs and task instances ---------------------------------------------------------

    def trigger(self, dag_id: str) -> str:
        wait_until(
            f"DAG {dag_id} to be parsed",
            lambda: self.request("GET", f"/api/v2/dags/{dag_id}").status_code == 200,
            timeout=90,
        )
        run = self.json("POST", f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None})
        return str(run["dag_run_id"])

    def task_instance(self, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
        tis = self.json("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
        for ti in tis["task_instances"]:
            if ti["task_id"] == task_id:
                return dict(ti)
        raise KeyError(f"no task instance {task_id} in {dag_id}/{run_id} yet")

    def dag_run_state(self, dag_id: str, run_id: str) -> str:
        return str(self.json("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"])

    def wait_task(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        states: set[str],
        timeout: float = 120.0,
        seen: list[str] | None = None,
    ) -> dict[str, Any]:
        """Poll the task instance until its state is one of ``states``; record each state seen."""

        def check() -> dict[str, Any] | None:
            ti = self.task_instance(dag_id, run_id, task_id)
            if seen is not None and (not seen or seen[-1] != ti["state"]):
                seen.append(ti["state"])
            return ti if ti["state"] in states else None

        return dict(
            wait_until(f"{dag_id}.{task_id} in {sorted(states)}", check, timeout, interval=0.3)
        )

    def wait_run(self, dag_id: str, run_id: str, timeout: float = 120.0) -> str:
        return str(
            wait_until(
                f"run {run_id} of {dag_id} to end",
                lambda: (s := self.dag_run_state(dag_id, run_id)) in ("success", "failed") and s,
                timeout,
            )
        )

    def log_text(self, dag_id: str, run_id: str, task_id: str, try_number: int) -> str:
        """The task log of one try as text (the JSON API answers structured log lines)."""
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}"
        body = self.json(
            "GET", path, params={"full_content": "true"}, headers={"Accept": "application/json"}
        )
        lines = []
        for line in body["content"]:
            lines.append(line if isinstance(line, str) else json.dumps(line))
        return "\n".join(lines)


@dataclass
class Stack:
    home: Path
    logs: Path
    env: dict[str, str]
    api_url: str
    sandbox_url: str
    api_key: str
    marker: str
    password: str
    control: SandboxControl
    api: AirflowApi
    procs: dict[str, Proc] = field(default_factory=dict)

    def start(self, name: str, *args: str, env: dict[str, str] | None = None) -> Proc:
        proc = spawn(name, [str(BIN / "airflow"), *args], env or self.env, self.logs)
        self.procs[name] = proc
        return proc

    def start_triggerer(self, name: str) -> Proc:
        """Another triggerer, with a log server port of its own; waits for its job row and
        records that job's id (what a trigger's ``triggerer_id`` points at) on the Proc."""
        before = self.triggerer_job_ids()
        env = {**self.env, "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port())}
        proc = self.start(name, "triggerer", env=env)

        def new_job() -> int | None:
            if not proc.alive():
                raise AssertionError(f"{name} exited:\n{proc.tail()}")
            fresh = self.triggerer_job_ids() - before
            return fresh.pop() if len(fresh) == 1 else None

        proc.job_id = int(wait_until(f"the job of {name}", new_job, 60, on_fail=proc.tail()))
        return proc

    def triggerer_job_ids(self) -> set[int]:
        """Ids of every TriggererJob row, dead ones included."""
        jobs = self.api.json("GET", "/api/v2/jobs", params={"job_type": "TriggererJob"})
        return {int(job["id"]) for job in jobs["jobs"]}

    def triggerer_of(self, proc_job_id: int) -> Proc:
        return next(p for p in self.procs.values() if p.job_id == proc_job_id)

    def diagnostics(self) -> str:
        return "\n".join(f"--- {name} ---\n{p.tail()}" for name, p in self.procs.items())


def clean_env(**settings: str) -> dict[str, str]:
    """The pytest process's environment without its Airflow settings (tests/conftest.py sets
    AIRFLOW_HOME and friends for dag.test()), plus ``settings``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AIRFLOW", "PLANASONIX_", "_AIRFLOW"))
    }
    env.update(settings)
    return env


def start_sandbox(api_key: str, logs: Path, env: dict[str, str]) -> tuple[Proc, str]:
    proc = spawn(
        "sandbox",
        [
            str(BIN / "planasonix-sandbox"),
            "--port",
            "0",
            "--api-key",
            api_key,
            "--log-level",
            "warning",
        ],
        env,
        logs,
    )

    def url() -> str | None:
        if not proc.alive():
            raise AssertionError(f"the sandbox exited:\n{proc.tail()}")
        match = re.search(r"listening on (http://\S+)", proc.log.read_text(errors="replace"))
        return match.group(1) if match else None

    return proc, str(wait_until("the sandbox URL", url, 30, interval=0.1))


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("stack")
    home, logs, dags = root / "airflow-home", root / "process-logs", root / "airflow-home" / "dags"
    for folder in (home, logs, dags):
        folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(EXAMPLE_SYNC_DAG, dags / EXAMPLE_SYNC_DAG.name)
    for dag_file in STACK_DAGS.glob("*.py"):
        shutil.copy(dag_file, dags / dag_file.name)

    from cryptography.fernet import Fernet

    marker = uuid.uuid4().hex
    api_key = "pnx_stack_" + secrets.token_urlsafe(24)
    api_port = free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    procs: list[Proc] = []
    control: SandboxControl | None = None
    api: AirflowApi | None = None
    stack: Stack | None = None
    try:
        sandbox, sandbox_url = start_sandbox(api_key, logs, clean_env(PLANASONIX_STACK_ID=marker))
        procs.append(sandbox)
        env = clean_env(
            PLANASONIX_STACK_ID=marker,
            PYTHONUNBUFFERED="1",
            AIRFLOW_HOME=str(home),
            AIRFLOW__CORE__DAGS_FOLDER=str(dags),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__EXECUTOR="LocalExecutor",
            AIRFLOW__CORE__PARALLELISM="4",
            AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
            AIRFLOW__CORE__TEST_CONNECTION="Enabled",
            AIRFLOW__CORE__FERNET_KEY=Fernet.generate_key().decode(),
            AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"{api_url}/execution/",
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home}/airflow.db",
            AIRFLOW__API__HOST="127.0.0.1",
            AIRFLOW__API__PORT=str(api_port),
            AIRFLOW__API__BASE_URL=api_url,
            AIRFLOW__API__WORKERS="1",
            AIRFLOW__API_AUTH__JWT_SECRET=secrets.token_urlsafe(32),
            AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
            AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(free_port()),
            AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC=str(TRIGGERER_HEARTBEAT),
            AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD=str(TRIGGERER_HEALTH_THRESHOLD),
            AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC="2",
            AIRFLOW_CONN_PLANASONIX_DEFAULT=json.dumps(
                {"conn_type": "planasonix", "host": sandbox_url, "password": api_key}
            ),
            PLANASONIX_POLL_INTERVAL="1",
        )
        migrate = subprocess.run(
            [str(BIN / "airflow"), "db", "migrate"],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert migrate.returncode == 0, migrate.stdout[-2000:] + migrate.stderr[-2000:]
        for name, args in (
            ("api-server", ["api-server"]),
            ("scheduler", ["scheduler"]),
            ("dag-processor", ["dag-processor"]),
            ("triggerer", ["triggerer"]),
        ):
            # The trigger's status changes are DEBUG lines: the triggerer logs at DEBUG here, so
            # that a test can see the trigger's own lines reach the task's log.
            own = (
                {**env, "AIRFLOW__LOGGING__LOGGING_LEVEL": "DEBUG"} if name == "triggerer" else env
            )
            procs.append(spawn(name, [str(BIN / "airflow"), *args], own, logs))
        by_name = {p.name: p for p in procs}

        def healthy() -> bool:
            for p in procs:
                if not p.alive():
                    raise AssertionError(f"{p.name} exited:\n{p.tail()}")
            health = httpx.get(f"{api_url}/api/v2/monitor/health", timeout=5).json()
            return all(
                (health.get(part) or {}).get("status") == "healthy"
                for part in ("metadatabase", "scheduler", "triggerer", "dag_processor")
            )

        wait_until(
            "the Airflow stack to be healthy",
            healthy,
            START_TIMEOUT,
            on_fail="\n".join(f"--- {p.name} ---\n{p.tail()}" for p in procs),
        )
        passwords = home / "simple_auth_manager_passwords.json.generated"
        password = json.loads(passwords.read_text())["admin"]
        control = SandboxControl(sandbox_url, api_key)
        api = AirflowApi(api_url, password)
        stack = Stack(
            home=home,
            logs=logs,
            env=env,
            api_url=api_url,
            sandbox_url=sandbox_url,
            api_key=api_key,
            marker=marker,
            password=password,
            control=control,
            api=api,
            procs=by_name,
        )
        (stack.procs["triggerer"].job_id,) = stack.triggerer_job_ids()
        yield stack
    finally:
        if api is not None:
            api.close()
        if control is not None:
            control.close()
        started = list(stack.procs.values()) if stack is not None else []
        stop_all([*started, *(p for p in procs if p not in started)])
        # Task processes of the LocalExecutor may have left the scheduler's process group.
        for pid in marked_pids(marker):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if stack is not None:
            # Keep the process logs of the last run next to the other test artifacts.
            target = ARTIFACTS / "stack-logs"
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(logs, target, dirs_exist_ok=True)
