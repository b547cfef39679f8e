"""Scale inside Airflow's own triggerer: ours, dbt Cloud's trigger and a no-I/O floor, side by side.

For each size (N triggers at a poll interval) and each trigger kind, one after the other in one
command ("legs"), on a fresh copy of one metadata database:

1. A template AIRFLOW_HOME per size: ``airflow db migrate`` (SQLite), a one-task DAG
   ``bench_deferred`` serialized by ``airflow dags reserialize``, and N + 1 DAG runs made by
   Airflow's ``create_dagrun`` (``_airflow_db.py``). Each leg copies it.
2. A loopback fake of both status routes over TLS (``_airflow_fake_api.py``), reading job state
   from a shared-memory file (``_airflow_shared.py``); ``SSL_CERT_FILE`` points the triggerer at
   its self-signed certificate. Connections come from ``AIRFLOW_CONN_*`` variables.
3. The real ``airflow triggerer --skip-serve-logs`` (a supervisor process and the TriggerRunner
   child it forks), defaults except ``[triggerer] capacity`` = N + 10 (the default, 1,000, would
   leave triggers unclaimed). No scheduler, API server or DAG processor: nothing else touches
   the database.
4. Once the triggerer idles: CPU and RSS of both processes (``/proc``), then in one transaction
   what the execution API's deferral writes for each of N task instances (a ``trigger`` row, the
   task instance ``deferred`` with its ``trigger_id`` and ``next_method``), plus one lag-probe
   trigger (``_airflow_floor.LagProbeTrigger``, 50 ms sleeps, overshoot recorded).
5. Start-up: until every trigger has polled once (first request seen by the fake; the floor marks
   its own first wake-up). Steady: ``--steady`` seconds of polling with no job done. Events: every
   job is made done at a time spread uniformly over ``--spread`` seconds (the same times for the
   three kinds), until every task instance is ``scheduled``.

The detection latency of a job is ``scheduled_dttm - done_at``: from the moment the fake starts
answering "done" (``done_at``) to the moment Airflow's ``handle_event_submit``, in the triggerer's
supervisor, sets the task instance to ``scheduled`` (``scheduled_dttm``, committed with it).
That is the moment a scheduler can queue the task; no scheduler runs, so nothing later moves it.

Figures per leg: CPU of the supervisor and of the runner per poll (steady) and per trigger over
its life (deferral to event), Airflow's "async thread was blocked" warnings per phase, loop lag
per phase, RSS per trigger, time until all polled once, log lines per trigger (the task log files
the supervisor writes), persisted event size, detection latency p50/p99/max.

Usage:
  bench_airflow_triggerer.py --smoke                       # N=100 at 1 s, short phases
  bench_airflow_triggerer.py --sizes 1000:1,5000:10,10000:10
  bench_airflow_triggerer.py --sizes 300:1 --triggers ours --profile   # stack samples
Results: JSON under benchmarks/results/airflow-triggerer/ (smoke runs under .../smoke/), the
charts (SVG) beside them, and a table of ratios against the floor on stdout. A run into the
default results directory (not --smoke, no --results) also copies its charts to
docs/img/airflow-triggerer/, where docs/performance.md and docs/scale.md embed them.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _airflow_db import ANSWER  # noqa: E402
from _airflow_shared import Shared, shm_dir  # noqa: E402
from _common import PYTHON, ROOT, percentile, table  # noqa: E402

AIRFLOW = str(Path(PYTHON).with_name("airflow"))
KINDS = ("floor", "bare", "ours", "dbt")
LABELS = {
    "floor": "floor (no I/O)",
    "bare": "bare aiohttp poller",
    "ours": "PlanasonixJobTrigger",
    "dbt": "DbtCloudRunJobTrigger",
}
DEFAULT_SIZES = "1000:1,5000:10,10000:10"
SMOKE_SIZES = "100:1"
RESULTS = HERE / "results" / "airflow-triggerer"
#: Where docs/performance.md and docs/scale.md embed the charts from (mkdocs reads only docs/):
#: a run into the default results directory copies its charts here, to be committed with it.
DOCS_CHARTS = ROOT / "docs" / "img" / "airflow-triggerer"
BLOCKED = "async thread was blocked for "
#: The timestamp a triggerer line carries (when it was logged, before the supervisor relays it).
LOG_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z")
PHASES = ("idle", "start-up", "steady", "events")
PYCACHE = str(Path(tempfile.gettempdir()) / "planasonix-bench-pycache")
#: What the three legs' triggerers import: compiled into the cache before the first leg.
WARM_IMPORTS = (
    "import airflow.jobs.triggerer_job_runner, aiohttp, _airflow_floor, "
    "planasonix_provider.triggers.planasonix, planasonix_provider.api.aiohttp_sender, "
    "airflow.providers.dbt.cloud.triggers.dbt"
)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --- /proc -------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


class Probe:
    """CPU and RSS of the triggerer's supervisor and its runner child at a moment."""

    def __init__(self, supervisor: int, runner: int) -> None:
        self.supervisor, self.runner = supervisor, runner

    def sample(self) -> dict[str, float]:
        return {
            "t": time.time(),
            "sup_cpu": cpu_seconds(self.supervisor),
            "run_cpu": cpu_seconds(self.runner),
            "sup_rss": rss_kb(self.supervisor),
            "run_rss": rss_kb(self.runner),
        }


# --- Processes ---------------------------------------------------------------------------------


def base_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
            "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            "PYTHONWARNINGS": "ignore",
            # Compiled modules as a pip-installed wheel has them (this machine's environment sets
            # PYTHONDONTWRITEBYTECODE=1 and its venv holds no .pyc): in a cache under /tmp,
            # warmed by the template's steps, as bench_import.py does.
            "PYTHONPYCACHEPREFIX": PYCACHE,
            # Our tree first (an editable install elsewhere must not win), then the benchmark's
            # own trigger modules.
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(HERE)]),
        }
    )
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run_checked(cmd: list[str], env: dict[str, str], what: str) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        raise RuntimeError(
            f"{what} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
        )
    return time.perf_counter() - start


class DbAgent:
    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [PYTHON, str(HERE / "_airflow_db.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
            cwd=ROOT,
        )

    def ask(self, **command: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"the database helper died on {command['op']}")
            if line.startswith(ANSWER):
                break
        answer = json.loads(line[len(ANSWER) :])
        if "error" in answer:
            raise RuntimeError(f"database helper, {command['op']}: {answer['error']}")
        return answer

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def make_template(work: Path, n: int) -> tuple[Path, dict[str, float]]:
    """Migrated SQLite database, the serialized DAG, N + 1 DAG runs: copied by each leg."""
    from _airflow_db import DAG_FILE

    home = work / f"template-{n}"
    (home / "dags").mkdir(parents=True)
    (home / "dags" / "bench_deferred.py").write_text(DAG_FILE)
    env = base_env(home)
    timings = {"db_migrate_s": run_checked([AIRFLOW, "db", "migrate"], env, "airflow db migrate")}
    timings["reserialize_s"] = run_checked(
        [AIRFLOW, "dags", "reserialize"], env, "airflow dags reserialize"
    )
    timings["warm_pyc_s"] = run_checked([PYTHON, "-c", WARM_IMPORTS], env, "warming .pyc")
    agent = DbAgent(env)
    try:
        timings["create_runs_s"] = agent.ask(op="prepare", runs=n + 1)["seconds"]
    finally:
        agent.close()
    return home, timings


def start_fake(
    shm: Path, n: int, cert: Path, key: Path, env: dict[str, str]
) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [
            PYTHON,
            str(HERE / "_airflow_fake_api.py"),
            "--shm",
            str(shm),
            "--n",
            str(n),
            "--cert",
            str(cert),
            "--key",
            str(key),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("port "):
        proc.kill()
        raise RuntimeError("the fake API did not start")
    return proc, int(line.split()[1])


class Triggerer:
    """``airflow triggerer`` with its output read line by line and time-stamped on arrival."""

    def __init__(self, env: dict[str, str], logfile: Path) -> None:
        self.lines: list[tuple[float, str]] = []
        self.proc = subprocess.Popen(
            [AIRFLOW, "triggerer", "--skip-serve-logs"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=ROOT,
            start_new_session=True,
        )
        self._file = logfile.open("w")
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            now = time.time()
            self.lines.append((now, line))
            self._file.write(f"{now:.3f} {line}")
        self._file.close()

    def runner_pid(self, timeout: float = 90) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("the triggerer exited: see its log")
            kids = children(self.proc.pid)
            if kids:
                return kids[0]
            time.sleep(0.2)
        raise RuntimeError("the triggerer did not fork its runner")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._thread.join(timeout=5)


# --- One leg -----------------------------------------------------------------------------------


def leg_env(
    home: Path,
    port: int,
    cert: Path,
    n: int,
    shm: Path,
    profile_dir: Path | None,
    asyncio_debug: bool = False,
) -> dict[str, str]:
    env = base_env(home)
    host = f"127.0.0.1:{port}"
    env.update(
        {
            "AIRFLOW__TRIGGERER__CAPACITY": str(n + 10),
            "SSL_CERT_FILE": str(cert),
            "AIRFLOW_CONN_PLANASONIX_DEFAULT": json.dumps(
                {"conn_type": "planasonix", "host": f"https://{host}", "password": "bench-key"}
            ),
            "AIRFLOW_CONN_DBT_CLOUD_DEFAULT": json.dumps(
                {"conn_type": "dbt_cloud", "host": host, "login": "1", "password": "bench-token"}
            ),
        }
    )
    if asyncio_debug:
        env["PYTHONASYNCIODEBUG"] = "1"
    if profile_dir is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(HERE / "_airflow_profile"), env["PYTHONPATH"]])
        env.update(
            {"PBENCH_PROFILE_OUT": str(profile_dir), "PBENCH_SHM": str(shm), "PBENCH_N": str(n)}
        )
    return env


def wait_all_polled(mem: Shared, n: int, trig: Triggerer, timeout: float) -> float | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not trig.alive():
            raise RuntimeError("the triggerer exited during start-up")
        polled = sum(1 for v in mem.first_poll[:n] if v)
        if polled >= n:
            return time.time()
        time.sleep(0.25)
    return None


def summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": float("nan"), "p99": float("nan"), "max": float("nan"), "count": 0}
    return {
        "p50": percentile(values, 50),
        "p99": percentile(values, 99),
        "max": max(values),
        "count": len(values),
    }


def count_log_lines(logs: Path) -> dict[str, Any]:
    """Lines in the task log files the supervisor wrote for the benchmark DAG, by logger."""
    total = 0
    files = 0
    by_logger: dict[str, int] = {}
    by_event: dict[str, int] = {}
    for path in logs.rglob("*"):
        if not path.is_file() or "dag_id=bench_deferred" not in str(path):
            continue
        files += 1
        for line in path.read_text(errors="replace").splitlines():
            if not line.strip():
                continue
            total += 1
            name, event = "?", line[:60]
            if line.startswith("{"):
                try:
                    record = json.loads(line)
                    name = str(record.get("logger", "?"))
                    event = str(record.get("event", ""))[:60]
                except ValueError:
                    pass
            by_logger[name] = by_logger.get(name, 0) + 1
            key = f"{name}: {''.join(c if not c.isdigit() else '#' for c in event)}"
            by_event[key] = by_event.get(key, 0) + 1
    top = dict(sorted(by_event.items(), key=lambda kv: -kv[1])[:15])
    return {"lines": total, "files": files, "by_logger": by_logger, "top_events": top}


def phase_at(t: float, bounds: list[float]) -> str:
    """The phase a moment falls in: the last one whose start (``bounds``) it has reached."""
    phase = PHASES[0]
    for name, start in zip(PHASES[1:], bounds, strict=False):
        if t >= start:
            phase = name
    return phase


def blocked_lines(lines: list[tuple[float, str]]) -> Iterator[tuple[float, str, float]]:
    """Airflow's watchdog lines: when read, the line, and the seconds blocked (NaN unreadable)."""
    for t, line in lines:
        at = line.find(BLOCKED)
        if at < 0:
            continue
        try:
            seconds = float(line[at + len(BLOCKED) :].split()[0])
        except (IndexError, ValueError):
            seconds = float("nan")
        yield t, line, seconds


def blocked_warnings(lines: list[tuple[float, str]], bounds: list[float]) -> dict[str, Any]:
    """Airflow's watchdog lines per phase: count and longest block (seconds)."""
    out = {p: {"count": 0, "max_s": 0.0, "total_s": 0.0} for p in PHASES}
    for t, _, seconds in blocked_lines(lines):
        phase = phase_at(t, bounds)
        out[phase]["count"] += 1
        out[phase]["max_s"] = max(out[phase]["max_s"], seconds)
        out[phase]["total_s"] += seconds
    return out


def blocked_attribution(
    lines: list[tuple[float, str]], bounds: list[float], profile: dict[str, Any]
) -> dict[str, Any]:
    """Airflow's watchdog lines per phase, each matched with what the runner's main thread was
    doing while its loop was blocked (``--profile``'s wall-clock samples of its stack) and with
    its garbage collections. The interval ends at the line's own timestamp (the runner's clock
    when the watchdog woke; the supervisor relays the line later) and lasts the blocked time. A
    block is *in our frames* when at least half of its samples are under our frames."""
    samples = sorted(profile["wall_samples"])
    times = [sample[0] for sample in samples]
    out: dict[str, Any] = {
        p: {
            "count": 0,
            "ours": 0,
            "blocked_s": 0.0,
            "samples": 0,
            "ours_samples": 0,
            "gc_s": 0.0,
            "frames": Counter(),
        }
        for p in PHASES
    }
    for t, line, seconds in blocked_lines(lines):
        if seconds != seconds:
            continue
        stamp = LOG_TIME.search(line)
        end = datetime.fromisoformat(stamp[0].replace("Z", "+00:00")).timestamp() if stamp else t
        start = end - seconds
        inside = samples[bisect.bisect_left(times, start) : bisect.bisect_right(times, end)]
        ours = sum(sample[1] for sample in inside)
        in_gc = sum(
            max(0.0, min(end, begin + length) - max(start, begin))
            for begin, length, *_ in profile["gc_pauses"]
        )
        row = out[phase_at(t, bounds)]
        row["count"] += 1
        row["blocked_s"] += seconds
        row["samples"] += len(inside)
        row["ours_samples"] += ours
        row["gc_s"] += min(in_gc, seconds)
        row["frames"].update(sample[3] for sample in inside)
        if inside and ours >= len(inside) / 2:
            row["ours"] += 1
    for row in out.values():
        row["frames"] = dict(row["frames"].most_common(5))
    return out


def slow_callbacks(lines: list[tuple[float, str]], bounds: list[float]) -> list[dict[str, Any]]:
    """asyncio's debug-mode lines ("Executing <...> took X seconds"), with their phase and what
    ran: a trigger's task (its name is the task instance), Airflow's loop, or a callback."""
    out = []
    for t, line in lines:
        at = line.find("Executing <")
        if at < 0 or " took " not in line:
            continue
        what = line[at + len("Executing ") :].split(" took ", 1)[0]
        try:
            seconds = float(line.rsplit(" took ", 1)[1].split()[0])
        except (IndexError, ValueError):
            seconds = float("nan")
        phase = phase_at(t, bounds)
        if "TriggerRunner" in what:
            owner = "Airflow (TriggerRunner)"
        elif "name='bench_deferred/" in what:
            owner = "a trigger's task"
        else:
            owner = "a callback"
        out.append({"phase": phase, "seconds": seconds, "owner": owner, "what": what[:300]})
    return out


def run_leg(
    kind: str,
    n: int,
    poll: float,
    template: Path,
    work: Path,
    cert: Path,
    key: Path,
    args: argparse.Namespace,
) -> dict[str, Any]:
    home = work / f"{kind}-{n}"
    shutil.copytree(template, home)
    shm_path = shm_dir() / f"pbench-{os.getpid()}-{kind}-{n}"
    mem = Shared.create(shm_path, n)
    profile_dir = None
    if args.profile:
        profile_dir = args.results / "profile" / f"{kind}-{n}"
        shutil.rmtree(profile_dir, ignore_errors=True)
        profile_dir.mkdir(parents=True)
    fake, port = start_fake(shm_path, n, cert, key, base_env(home))
    env = leg_env(home, port, cert, n, shm_path, profile_dir, args.asyncio_debug)
    agent = DbAgent(env)
    trig = Triggerer(env, home / "triggerer.log")
    result: dict[str, Any] = {"kind": kind, "n": n, "poll_s": poll}
    try:
        trig.runner_pid()
        time.sleep(args.settle)
        # Read again after settling: the first child seen need not be the long-lived runner.
        probe = Probe(trig.proc.pid, trig.runner_pid())
        fake_cpu0, fake_t0 = cpu_seconds(fake.pid), time.time()
        idle0 = probe.sample()
        time.sleep(args.idle)
        idle1 = probe.sample()
        t0 = agent.ask(op="defer", kind=kind, n=n, poll=poll, shm=str(shm_path))["committed"]
        mem.phase = 1
        log(f"  {kind}: {n} task instances deferred; waiting until every trigger has polled once")
        t_all = wait_all_polled(mem, n, trig, args.startup_timeout)
        s1 = probe.sample()
        polled_once = sum(1 for v in mem.first_poll[:n] if v)
        lag1 = int(mem.header[1])
        mem.phase = 2
        polls1 = sum(mem.polls[:n])
        time.sleep(args.steady)
        s2 = probe.sample()
        polls2 = sum(mem.polls[:n])
        lag2 = int(mem.header[1])
        mem.phase = 3
        rng = random.Random(args.seed * 100_003 + n)
        t_ev = time.time()
        for i in range(n):
            mem.done_at[i] = t_ev + 0.5 + rng.uniform(0, args.spread)
        log(f"  {kind}: jobs done over {args.spread:.0f} s; waiting for every task to be scheduled")
        deadline = time.monotonic() + args.spread + args.drain_timeout
        scheduled = 0
        while time.monotonic() < deadline and trig.alive():
            scheduled = agent.ask(op="count")["scheduled"]
            if scheduled >= n:
                break
            time.sleep(1.0)
        t_end = time.time()
        exited = not trig.alive()
        if exited:
            log(f"  {kind}: THE TRIGGERER EXITED with {scheduled}/{n} scheduled: see its log")
            args.results.mkdir(parents=True, exist_ok=True)
            shutil.copy(home / "triggerer.log", args.results / f"triggerer-exited-{kind}-{n}.log")
        s3 = probe.sample()
        fake_cpu = cpu_seconds(fake.pid) - fake_cpu0
        lag3 = int(mem.header[1])
        tis = agent.ask(op="collect")["tis"]
    except BaseException:
        shm_path.unlink(missing_ok=True)
        raise
    finally:
        trig.stop()
        agent.close()
        fake.terminate()
        fake.wait(timeout=10)

    latencies, sizes, to_poll, from_poll = [], [], [], []
    for i in range(n):
        ti = tis.get(str(i), {})
        if ti.get("scheduled"):
            latencies.append(ti["scheduled"] - mem.done_at[i])
            sizes.append(ti["next_kwargs_bytes"])
            if mem.seen_done[i]:
                to_poll.append(mem.seen_done[i] - mem.done_at[i])
                from_poll.append(ti["scheduled"] - mem.seen_done[i])
    lag = mem.lag_samples()
    idle_rate = (idle1["sup_cpu"] + idle1["run_cpu"] - idle0["sup_cpu"] - idle0["run_cpu"]) / (
        idle1["t"] - idle0["t"]
    )

    def cpu(a: dict[str, float], b: dict[str, float], part: str) -> float:
        return b[f"{part}_cpu"] - a[f"{part}_cpu"]

    steady_polls = polls2 - polls1
    life_s = s3["t"] - t0
    result.update(
        {
            "all_polled_s": None if t_all is None else t_all - t0,
            "polled_once": polled_once,
            "steady_s": s2["t"] - s1["t"],
            "steady_polls": steady_polls,
            "steady_cpu_us_per_poll": {
                part: 1e6 * cpu(s1, s2, part) / max(steady_polls, 1) for part in ("sup", "run")
            },
            "life_s": life_s,
            "life_cpu_ms_per_trigger": {
                part: 1e3 * cpu(idle1, s3, part) / n for part in ("sup", "run")
            },
            "startup_cpu_ms_per_trigger": {
                part: 1e3 * cpu(idle1, s1, part) / n for part in ("sup", "run")
            },
            "events_cpu_ms_per_trigger": {
                part: 1e3 * cpu(s2, s3, part) / n for part in ("sup", "run")
            },
            "idle_cpu_ms_per_s": 1e3 * idle_rate,
            # The fake shares the machine's cores with the triggerer: its CPU over the leg (dbt
            # Cloud's trigger opens a TLS connection per poll, so the fake does a handshake each).
            "fake_cpu_s": fake_cpu,
            "fake_cpu_share_of_cores": fake_cpu / (s3["t"] - fake_t0) / (os.cpu_count() or 1),
            "life_cpu_ms_per_trigger_net_of_idle": 1e3
            * (cpu(idle1, s3, "sup") + cpu(idle1, s3, "run") - idle_rate * (s3["t"] - idle1["t"]))
            / n,
            "rss_kb_per_trigger": {
                "sup": (s2["sup_rss"] - idle1["sup_rss"]) / n,
                "run": (s2["run_rss"] - idle1["run_rss"]) / n,
            },
            "rss_mb": {"sup": s2["sup_rss"] / 1024, "run": s2["run_rss"] / 1024},
            "blocked": blocked_warnings(trig.lines, [t0, t_all or s1["t"], t_ev]),
            "slow_callbacks": slow_callbacks(trig.lines, [t0, t_all or s1["t"], t_ev]),
            "loop_lag_ms": {
                "start-up": summary([1e3 * v for v in lag[:lag1]]),
                "steady": summary([1e3 * v for v in lag[lag1:lag2]]),
                "events": summary([1e3 * v for v in lag[lag2:lag3]]),
            },
            "scheduled": len(latencies),
            "detection_s": summary(latencies),
            # The detection latency in two: until a poll saw the job done (the poll interval and
            # its phase), and from that poll to the task instance scheduled (the trigger's own
            # work after the answer, then Airflow's: the runner's sync with the supervisor and
            # the event's persistence).
            "detection_until_poll_s": summary(to_poll),
            "detection_after_poll_s": summary(from_poll),
            "event_bytes_mean": sum(sizes) / len(sizes) if sizes else float("nan"),
            "log": count_log_lines(home / "logs"),
            "triggerer_output_lines": len(trig.lines),
            "events_s": t_end - t_ev,
        }
    )
    result["log_lines_per_trigger"] = result["log"]["lines"] / n
    # Lines of the trigger's own loggers (Airflow's own lines carry no logger name in the file).
    own = sum(v for k, v in result["log"]["by_logger"].items() if k != "?")
    result["own_log_lines_per_trigger"] = own / n
    if profile_dir is not None:
        result["profile"] = profile_summary(profile_dir)
        runner: dict[str, Any] = {"gc_pauses": [], "wall_samples": []}
        for path in profile_dir.glob("runner-*.json"):
            data = json.loads(path.read_text())
            runner["gc_pauses"] += data.get("gc_pauses", [])
            runner["wall_samples"] += data.get("wall_samples", [])
        result["blocked_in_runner"] = blocked_attribution(
            trig.lines, [t0, t_all or s1["t"], t_ev], runner
        )
    result["triggerer_exited"] = exited
    if not args.keep:
        shutil.rmtree(home, ignore_errors=True)
    shm_path.unlink(missing_ok=True)
    return result


def profile_summary(profile_dir: Path) -> dict[str, Any]:
    """Per process and phase: CPU samples, the share under our frames, where in ours."""
    out: dict[str, Any] = {}
    for path in sorted(profile_dir.glob("*.json")):
        role = "runner" if path.name.startswith("runner") else "supervisor"
        data = json.loads(path.read_text())
        for number, b in data["phases"].items():
            phase = PHASES[int(number)] if int(number) < len(PHASES) else number
            ours = sum(b.get("ours_outer", {}).values())
            gc_s = {
                gen: seconds
                for key, seconds in data.get("gc_seconds", {}).items()
                for p, gen in [key.split(":")]
                if p == number
            }
            out.setdefault(role, {})[phase] = {
                "samples": b["samples"],
                "gc_s_by_generation": gc_s,
                "ours_share": ours / b["samples"] if b["samples"] else 0.0,
                "ours_inner": dict(list(b.get("ours_inner", {}).items())[:8]),
                "leaf_package": dict(list(b.get("leaf_package", {}).items())[:8]),
            }
    return out


def print_profiles(results: list[dict[str, Any]]) -> None:
    slow = [
        [LABELS[r["kind"]], r["n"], c["phase"], f"{c['seconds']:.3f}", c["owner"], c["what"][:90]]
        for r in results
        for c in r.get("slow_callbacks", [])
    ]
    if slow:
        print("\n### asyncio debug: callbacks and task steps over 100 ms (--asyncio-debug)\n")
        print(table(["trigger", "N", "phase", "seconds", "whose", "what"], slow))
    rows = []
    for r in results:
        for role, phases in r.get("profile", {}).items():
            for phase, p in phases.items():
                inner = ", ".join(
                    f"{k.split(':', 1)[1]} {v}" for k, v in list(p["ours_inner"].items())[:5]
                )
                rows.append(
                    [
                        LABELS[r["kind"]],
                        r["n"],
                        role,
                        phase,
                        p["samples"],
                        f"{100 * p['ours_share']:.0f} %",
                        inner or "-",
                    ]
                )
    blocked = [
        [
            LABELS[r["kind"]],
            r["n"],
            phase,
            b["count"],
            f"{b['blocked_s']:.1f} s",
            f"{100 * b['ours_samples'] / b['samples']:.0f} %" if b["samples"] else "-",
            b["ours"],
            f"{b['gc_s']:.1f} s",
            ", ".join(f"{k} {100 * v / b['samples']:.0f} %" for k, v in b["frames"].items()) or "-",
        ]
        for r in results
        for phase, b in r.get("blocked_in_runner", {}).items()
        if b["count"] or phase != PHASES[0]
    ]
    if blocked:
        print("\n### Blocked-loop warnings: what the runner did meanwhile (--profile)\n")
        print(
            table(
                [
                    "trigger",
                    "N",
                    "phase",
                    "warnings",
                    "blocked",
                    "stack samples in them under our frames",
                    "warnings mostly in our frames",
                    "GC in them",
                    "innermost frame outside the stdlib during them (share of samples)",
                ],
                blocked,
            )
        )
    if rows:
        print("\n### CPU samples (SIGPROF, --profile): share under planasonix_provider frames\n")
        print(
            table(
                [
                    "trigger",
                    "N",
                    "process",
                    "phase",
                    "samples",
                    "in our frames",
                    "innermost of our frames (samples)",
                ],
                rows,
            )
        )


# --- Output ------------------------------------------------------------------------------------


def nanmax(values: Any) -> float:
    real = [v for v in values if v == v]
    return max(real) if real else float("nan")


def total(d: dict[str, float]) -> float:
    return d["sup"] + d["run"]


def ratio(value: float, floor: float) -> str:
    if floor != floor or value != value or not floor:
        return "-"
    return f"{value / floor:.2f}x"


def split(part: dict[str, Any] | None) -> str:
    """p50 / p99 of one part of the detection latency (absent in results of older runs)."""
    if not part or not part.get("count"):
        return "-"
    return f"{part['p50']:.2f} / {part['p99']:.2f}"


def print_tables(results: list[dict[str, Any]], smoke: bool) -> None:
    title = "Inside the real airflow triggerer (SQLite)" + (
        " — SMOKE, small N, noisy" if smoke else ""
    )
    print(f"\n### {title}\n")
    rows = []
    for r in results:
        b, cpu, life, det = (
            r["blocked"],
            r["steady_cpu_us_per_poll"],
            r["life_cpu_ms_per_trigger"],
            r["detection_s"],
        )
        lag_max = nanmax(r["loop_lag_ms"][p]["max"] for p in ("start-up", "steady", "events"))
        blocked_max = max(b[p]["max_s"] for p in PHASES)
        rows.append(
            [
                LABELS[r["kind"]],
                r["n"],
                r["poll_s"],
                f"{cpu['run']:.0f} / {cpu['sup']:.0f}",
                f"{total(life):.2f} ({life['sup']:.2f})",
                "-" if r["all_polled_s"] is None else f"{r['all_polled_s']:.1f}",
                f"{det['p50']:.2f} / {det['p99']:.2f} / {det['max']:.2f}",
                split(r.get("detection_until_poll_s")),
                split(r.get("detection_after_poll_s")),
                " / ".join(f"{b[p]['count']}" for p in PHASES[1:]) + f" (max {blocked_max:.2f} s)",
                f"{r['loop_lag_ms']['steady']['p99']:.0f} / {lag_max:.0f}",
                f"{total(r['rss_kb_per_trigger']):.1f}",
                f"{r['log_lines_per_trigger']:.2f} ({r['own_log_lines_per_trigger']:.2f})",
                f"{r['event_bytes_mean']:.0f}",
                f"{r['scheduled']}/{r['n']}",
                f"{100 * r.get('fake_cpu_share_of_cores', float('nan')):.0f} %",
            ]
        )
    print(
        table(
            [
                "trigger",
                "N",
                "poll s",
                "steady CPU µs/poll runner / supervisor",
                "life CPU ms/trigger (supervisor)",
                "all polled once s",
                "detection s p50 / p99 / max",
                "of it until a poll saw it done, p50 / p99",
                "after that poll, p50 / p99",
                "blocked warnings start-up / steady / events",
                "loop lag ms steady p99 / max",
                "RSS KB/trigger",
                "log lines/trigger (trigger's own)",
                "event bytes",
                "scheduled",
                "fake API CPU, share of all cores",
            ],
            rows,
        )
    )
    print("\n### Against the floor trigger of the same size (same run)\n")
    rows = []
    by = {(r["n"], r["poll_s"], r["kind"]): r for r in results}
    for r in results:
        if r["kind"] == "floor":
            continue
        f = by.get((r["n"], r["poll_s"], "floor"))
        if f is None:
            continue
        rows.append(
            [
                LABELS[r["kind"]],
                r["n"],
                r["poll_s"],
                ratio(total(r["life_cpu_ms_per_trigger"]), total(f["life_cpu_ms_per_trigger"])),
                ratio(total(r["steady_cpu_us_per_poll"]), total(f["steady_cpu_us_per_poll"])),
                f"{r['detection_s']['p99'] - f['detection_s']['p99']:+.2f} s",
                ratio(r["all_polled_s"] or float("nan"), f["all_polled_s"] or float("nan")),
                ratio(r["log_lines_per_trigger"], f["log_lines_per_trigger"]),
            ]
        )
    print(
        table(
            [
                "trigger",
                "N",
                "poll s",
                "life CPU/trigger vs floor (target <= 1.5x at 5k, 10k)",
                "steady CPU/poll vs floor",
                "detection p99 minus floor's (target <= +0.5 s)",
                "all polled once vs floor",
                "log lines vs floor",
            ],
            rows,
        )
    )


def save(results: list[dict[str, Any]], out: Path, meta: dict[str, Any]) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "results.json"
    old: list[dict[str, Any]] = []
    if path.exists():
        old = json.loads(path.read_text()).get("results", [])
    fresh = {(r["kind"], r["n"], r["poll_s"]) for r in results}
    kept = [r for r in old if (r["kind"], r["n"], r["poll_s"]) not in fresh]
    merged = sorted(kept + results, key=lambda r: (r["n"], r["poll_s"], KINDS.index(r["kind"])))
    path.write_text(json.dumps({"meta": meta, "results": merged}, indent=1, default=str) + "\n")
    return path


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help=f"a small development run (sizes {SMOKE_SIZES}); results under results/.../smoke",
    )
    parser.add_argument("--sizes", help=f"N:poll_seconds pairs (default {DEFAULT_SIZES})")
    parser.add_argument("--triggers", default=",".join(KINDS), help="kinds, in leg order")
    parser.add_argument(
        "--steady", type=float, help="seconds of steady polling (default max(10, 3 polls))"
    )
    parser.add_argument(
        "--spread", type=float, help="jobs finish over this many seconds (default 2 polls, min 5)"
    )
    parser.add_argument("--settle", type=float, default=8.0, help="seconds after the runner starts")
    parser.add_argument("--idle", type=float, default=5.0, help="idle CPU window before deferral")
    parser.add_argument("--startup-timeout", type=float, default=900.0)
    parser.add_argument("--drain-timeout", type=float, default=600.0)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--profile", action="store_true", help="stack samples of both processes")
    parser.add_argument(
        "--asyncio-debug",
        action="store_true",
        help="PYTHONASYNCIODEBUG=1 in the triggerer: asyncio names each callback over 100 ms",
    )
    parser.add_argument("--keep", action="store_true", help="keep each leg's AIRFLOW_HOME")
    parser.add_argument("--results", type=Path, help="results directory")
    parser.add_argument("--no-charts", action="store_true")
    args = parser.parse_args(argv)
    sizes_arg = args.sizes or (SMOKE_SIZES if args.smoke else DEFAULT_SIZES)
    sizes = [(int(a), float(b)) for a, b in (s.split(":") for s in sizes_arg.split(","))]
    kinds = [k for k in args.triggers.split(",") if k]
    if unknown := set(kinds) - set(KINDS):
        parser.error(f"unknown trigger kinds {sorted(unknown)}")
    args.results = args.results or (RESULTS / "smoke" if args.smoke else RESULTS)
    work = Path(tempfile.mkdtemp(prefix="pbench-airflow-"))
    log(f"work directory {work}; results to {args.results}")
    from _airflow_fake_api import make_certificate

    cert, key = work / "cert.pem", work / "key.pem"
    make_certificate(cert, key)
    results: list[dict[str, Any]] = []
    setup: dict[str, Any] = {}
    started = time.time()
    try:
        for n, poll in sizes:
            saved = (args.steady, args.spread)
            args.steady = args.steady or max(10.0, 3 * poll)
            args.spread = args.spread or max(5.0, 2 * poll)
            log(f"N={n}, poll {poll:g} s: template database")
            template, timings = make_template(work, n)
            setup[str(n)] = timings
            log(f"  template ready: {json.dumps({k: round(v, 1) for k, v in timings.items()})}")
            for kind in kinds:
                t = time.time()
                log(f"N={n}: leg {kind}")
                r = run_leg(kind, n, poll, template, work, cert, key, args)
                r["leg_wall_s"] = time.time() - t
                r["steady_window_s"], r["spread_s"] = args.steady, args.spread
                results.append(r)
                log(f"  {kind}: done in {r['leg_wall_s']:.0f} s")
            shutil.rmtree(template, ignore_errors=True)
            args.steady, args.spread = saved
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    meta = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "smoke": args.smoke,
        "command": "benchmarks/bench_airflow_triggerer.py " + " ".join(argv),
        "cpus": os.cpu_count(),
        "load_avg_at_end": os.getloadavg(),
        "wall_s": time.time() - started,
        "setup": setup,
    }
    for r in results:  # runs merge in one file: each row says which run it comes from
        r["run"] = {"when": meta["when"], "command": meta["command"], "cpus": meta["cpus"]}
    path = save(results, args.results, meta)
    print_tables(results, args.smoke)
    print_profiles(results)
    log(f"results: {path} (wall {meta['wall_s']:.0f} s)")
    if not args.no_charts:
        from _airflow_charts import draw_all

        for svg in draw_all(path):
            log(f"chart: {svg}")
            if args.results == RESULTS:
                DOCS_CHARTS.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(svg, DOCS_CHARTS / svg.name)
                log(f"chart: {DOCS_CHARTS / svg.name} (embedded by the docs)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
