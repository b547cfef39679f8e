"""Which planasonix_provider files a sync crosses on its way to the socket.

Runs ``PlanasonixSyncOperator.execute`` (worker mode, ``wait_for_completion=False``) against a
sandbox in this process, under ``sys.setprofile``, and prints the ordered list of distinct
``planasonix_provider`` files entered before the first socket send, their count, and how many
times control moved from one of these files to another.

Two traces: ``cold``, the first task of the process, where the lazy imports run (module and
class bodies are not counted, the functions they call are); and ``warm``, a second task, the
steady path. Only ``execute`` is traced, not the operator's construction (that happens at DAG
parse). The sandbox serves from its own thread, which ``sys.setprofile`` does not watch.

Run it from the root of the tree to measure, with that tree's package first on the path:
``cd /work/main && python /path/to/scripts/trace_call_path.py``.
"""

from __future__ import annotations

import inspect
import os
import socket
import sys
import tempfile
from pathlib import Path
from types import FrameType
from typing import Any

sys.path.insert(0, os.getcwd())  # the tree being measured, not the one this script lives in
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="planasonix-trace-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

import planasonix_provider

PACKAGE_DIR = Path(planasonix_provider.__file__).resolve().parent
SEND_NAMES = {"send", "sendall", "sendmsg"}
#: Set on the code of functions; module and class bodies lack it.
CO_OPTIMIZED = inspect.CO_OPTIMIZED


class _TI:
    dag_id, run_id, task_id, map_index, try_number = "trace", "manual__trace", "sync", -1, 1

    def xcom_push(self, key: str, value: Any) -> None:
        pass


class _Stop(Exception):
    pass


def _package_file(frame: FrameType | None) -> str | None:
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith(str(PACKAGE_DIR)):
            return str(Path(filename).resolve().relative_to(PACKAGE_DIR.parent))
        return None
    return None


def trace(run: Any) -> tuple[list[str], int]:
    """The files entered by ``run()`` up to the first socket send, and the moves between them."""
    entered: list[str] = []
    moves = 0
    current: str | None = None

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        nonlocal moves, current
        if event == "c_call":
            owner = getattr(arg, "__self__", None)
            if isinstance(owner, socket.socket) and arg.__name__ in SEND_NAMES:
                raise _Stop
            return
        if event not in ("call", "return"):
            return
        target = frame if event == "call" else frame.f_back
        if target is None or not target.f_code.co_flags & CO_OPTIMIZED:
            return  # module and class bodies run on import: not the path of a call
        where = _package_file(target)
        if where is None:
            return
        if where not in entered:
            entered.append(where)
        if current is not None and where != current:
            moves += 1
        current = where

    sys.setprofile(profile)
    try:
        run()
    except _Stop:
        pass
    finally:
        sys.setprofile(None)
    return entered, moves


def main() -> None:
    from planasonix_provider.operators.planasonix import PlanasonixSyncOperator
    from planasonix_provider.sandbox.testing import run_sandbox

    with run_sandbox(seed=1) as sandbox:
        os.environ["AIRFLOW_CONN_PLANASONIX_DEFAULT"] = sandbox.airflow_conn_json

        print(f"tree: {PACKAGE_DIR.parent}")
        for label in ("cold", "warm"):
            operator = PlanasonixSyncOperator(
                task_id="sync", connection_id="conn_trace", wait_for_completion=False
            )
            entered, moves = trace(lambda op=operator: op.execute({"ti": _TI()}))
            print(f"--- {label}")
            for number, name in enumerate(entered, 1):
                print(f"{number:3d}  {name}")
            print(f"{label}: files entered before the first socket send: {len(entered)}")
            print(f"{label}: moves between these files: {moves}")


if __name__ == "__main__":
    main()
