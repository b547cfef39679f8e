"""Helpers shared by the benchmark scripts: the sandbox process, tables, targets, /proc probes."""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def quiet_airflow_env() -> dict[str, str]:
    """Environment for anything that imports Airflow: a throw-away AIRFLOW_HOME, no examples."""
    home = Path(tempfile.gettempdir()) / "planasonix-bench-airflow-home"
    home.mkdir(exist_ok=True)
    env = dict(os.environ)
    env.setdefault("AIRFLOW_HOME", str(home))
    env.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    env.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "False")
    env["PYTHONWARNINGS"] = "ignore"
    return env


def set_quiet_airflow_env() -> None:
    for key, value in quiet_airflow_env().items():
        os.environ.setdefault(key, value)


# --- The sandbox, in its own process -----------------------------------------------------------


@dataclass
class Sandbox:
    url: str
    api_key: str
    pid: int

    def conn_json(self, **extra: Any) -> str:
        return json.dumps(
            {
                "conn_type": "planasonix",
                "host": self.url,
                "password": self.api_key,
                "extra": extra,
            }
        )

    def cpu_seconds(self) -> float:
        """User + system CPU of the server process so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks


@contextlib.contextmanager
def sandbox_process(*, speed: float = 1.0, seed: int = 0) -> Iterator[Sandbox]:
    """``planasonix-sandbox --port 0`` as a separate process, so its CPU is not the client's."""
    proc = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "planasonix_provider.sandbox",
            "--port",
            "0",
            "--speed",
            str(speed),
            "--seed",
            str(seed),
            "--log-level",
            "warning",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=quiet_airflow_env(),
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        url = key = None
        deadline = time.monotonic() + 60
        while (url is None or key is None) and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            if line.startswith("Planasonix sandbox listening on "):
                url = line.split(" on ", 1)[1].strip()
            elif line.startswith("API key: "):
                key = line.split(": ", 1)[1].strip()
        if url is None or key is None:
            raise RuntimeError("the sandbox did not start")
        yield Sandbox(url, key, proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- Probes ------------------------------------------------------------------------------------


def proc_status_kb(name: str) -> int:
    """A ``VmRSS``/``VmHWM`` style field of /proc/self/status, in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    return 0


def reset_peak_rss() -> bool:
    """Reset VmHWM (Linux >= 4.0: write 5 to clear_refs); False when not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def open_sockets() -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                count += 1
        except OSError:
            pass
    return count


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


# --- Tables and targets ------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-markdown table, so that the output can be pasted into docs/performance.md."""
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + " |" for r in cells
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if value != value:
            return "-"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


@dataclass
class Targets:
    """Targets checked by one script; prints them side by side with the figures."""

    smoke: bool
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)
    missed: int = 0

    def check(
        self, name: str, measured: str, target: str, ok: bool, *, enforce: bool = True
    ) -> None:
        if ok:
            verdict = "met"
        elif enforce:
            verdict = "MISSED"
            self.missed += 1
        else:
            verdict = "missed (not enforced)"
        self.rows.append((name, measured, target, verdict))

    def info(self, name: str, measured: str, note: str) -> None:
        self.rows.append((name, measured, note, "info"))

    def report(self, title: str) -> int:
        print(f"\n#### {title}: targets\n")
        print(table(["target", "measured", "wanted", "verdict"], self.rows))
        if self.smoke:
            print(
                "\n(smoke mode: tiny sizes; targets marked 'not enforced' are only meaningful "
                "at full size)"
            )
        print()
        return 1 if self.missed else 0


def smoke_flag(argv: Sequence[str]) -> bool:
    return "--smoke" in argv


def import_string(dotted_path: str) -> Any:
    """A class by its dotted path, from where the running Airflow line's triggerer imports it."""
    try:
        from airflow.sdk.module_loading import import_string as airflow_import_string
    except ImportError:  # Airflow 3.0 and 3.1
        from airflow.utils.module_loading import import_string as airflow_import_string
    return airflow_import_string(dotted_path)
