"""The version matrix: one virtual environment per Airflow line and per Python, each installed from
its committed constraint file, each running its suites. ``make test-matrix`` runs it.

The newest line (Airflow 3.3.2 on Python 3.11) is ``make test``'s own environment and runs every
suite there; this script covers the others:
- each older Airflow line, on Python 3.11: the unit, sandbox and end-to-end suites;
- the lowest Airflow line, also the real-stack stage (scheduler, triggerer, api-server);
- each other declared Python, on the newest Airflow line: the unit suite and one ``dag.test()``
  of a deferrable sync.

It prints one line per cell with its time, and exits non-zero when any cell fails.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENVS = ROOT / ".venvs"
UV = ROOT / ".venv" / "bin" / "uv"
CONSTRAINTS = ROOT / "constraints"

#: Airflow line -> its constraint file; the first is the lowest supported line.
AIRFLOW_LINES = {
    "3.0": "airflow-3.0.txt",
    "3.1": "airflow-3.1.txt",
    "3.2": "airflow-3.2.txt",
}
NEWEST_LINE = "airflow-3.3.txt"
PYTHONS = ("3.10", "3.12", "3.13")
LINE_SUITES = ("tests/unit", "tests/sandbox", "tests/e2e")
STACK_SUITE = ("tests/stack/test_deployment.py",)
PYTHON_SUITES = (
    "tests/unit",
    "tests/e2e/test_operators_e2e.py::test_deferrable_sync_succeeds_with_results_in_xcom",
)


@dataclass
class Cell:
    name: str
    python: str
    constraints: str
    suites: tuple[str, ...]


def interpreter(version: str) -> str:
    """The interpreter of a Python version: pyenv's (the machines have 3.10-3.13), else PATH's."""
    pyenv_root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    found = sorted(glob.glob(f"{pyenv_root}/versions/{version}.*/bin/python{version}"))
    if found:
        return found[-1]
    on_path = shutil.which(f"python{version}")
    if on_path and subprocess.run([on_path, "--version"], capture_output=True).returncode == 0:
        return on_path
    raise SystemExit(f"test-matrix: no Python {version} interpreter (pyenv or PATH)")


def build(cell: Cell) -> Path:
    """A venv with this package installed (editable) from the cell's constraint file."""
    venv = VENVS / cell.name
    stamp = venv / ".installed"
    pins = CONSTRAINTS / cell.constraints
    if stamp.exists() and stamp.read_text() == pins.read_text():
        return venv
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run(
        [str(UV), "venv", "--quiet", "--python", interpreter(cell.python), str(venv)], check=True
    )
    subprocess.run(
        [
            str(UV),
            "pip",
            "install",
            "--quiet",
            "--python",
            str(venv / "bin" / "python"),
            "-c",
            str(pins),
            "-e",
            f"{ROOT}[dev,bench]",
        ],
        check=True,
    )
    stamp.write_text(pins.read_text())
    return venv


def run(cell: Cell) -> tuple[bool, float, str]:
    started = time.monotonic()
    venv = build(cell)
    built = time.monotonic() - started
    result = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            *cell.suites,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    tail = (result.stdout + result.stderr).strip().splitlines()
    summary = tail[-1] if tail else "(no output)"
    if result.returncode != 0:
        print(result.stdout[-20000:], result.stderr[-5000:], sep="\n", flush=True)
    elapsed = time.monotonic() - started
    return result.returncode == 0, elapsed, f"{summary} (set-up {built:.0f} s)"


def cells(args: argparse.Namespace) -> list[Cell]:
    lines = [line for line in AIRFLOW_LINES if line in args.airflow]
    found = [Cell(f"airflow-{line}", "3.11", AIRFLOW_LINES[line], LINE_SUITES) for line in lines]
    if args.stack and lines:
        lowest = lines[0]
        found.append(Cell(f"airflow-{lowest}", "3.11", AIRFLOW_LINES[lowest], STACK_SUITE))
    found += [
        Cell(f"python-{python}", python, NEWEST_LINE, PYTHON_SUITES)
        for python in PYTHONS
        if python in args.python
    ]
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--airflow", default=",".join(AIRFLOW_LINES), help="lines, e.g. 3.0,3.2")
    parser.add_argument("--python", default=",".join(PYTHONS), help="Pythons, e.g. 3.10")
    parser.add_argument("--no-stack", dest="stack", action="store_false")
    parser.add_argument(
        "--no-tests", dest="tests", action="store_false", help="only build the venvs"
    )
    args = parser.parse_args()
    args.airflow = args.airflow.split(",")
    args.python = args.python.split(",")
    if not args.tests:
        for cell in cells(args):
            build(cell)
        return 0
    results = []
    for cell in cells(args):
        suites = " ".join(cell.suites)
        print(f"test-matrix: {cell.name} (Python {cell.python}): {suites}", flush=True)
        ok, elapsed, summary = run(cell)
        results.append((cell, ok))
        print(f"test-matrix: {cell.name}: {'ok' if ok else 'FAILED'} in {elapsed:.0f} s: {summary}")
    failed = [cell.name for cell, ok in results if not ok]
    print(f"test-matrix: {len(results) - len(failed)}/{len(results)} cells passed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
