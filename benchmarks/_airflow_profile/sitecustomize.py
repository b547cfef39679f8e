"""A stack sampler for the triggerer's two processes (bench_airflow_triggerer.py --profile).

Loaded by Python at start-up (this directory is put on the triggerer's PYTHONPATH only with
--profile). Every PBENCH_SAMPLE_MS (default 5 ms) a daemon thread reads the main thread's stack
(``sys._current_frames``) and counts it under the benchmark's current phase (read from the shared
memory file). The supervisor samples from start; the TriggerRunner child, which the supervisor
forks, starts its own sampler after the fork. Each writes a JSON summary every 2 s to
PBENCH_PROFILE_OUT/<role>.json. A sample whose innermost frame is the selector's wait is idle;
every other one is time the event loop (or the supervisor's loop) was busy.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections import Counter

OUT = os.environ.get("PBENCH_PROFILE_OUT")
SHM = os.environ.get("PBENCH_SHM")
N = int(os.environ.get("PBENCH_N", "0") or 0)
PERIOD = float(os.environ.get("PBENCH_SAMPLE_MS", "5")) / 1000
OURS = "planasonix_provider"
_started = {"child": False}


def _package(filename: str) -> str:
    parts = filename.replace("\\", "/").split("/")
    if "site-packages" in parts:
        rest = parts[parts.index("site-packages") + 1 :]
        top = rest[0] if rest else "?"
        if top == "airflow" and len(rest) > 2 and rest[1] == "providers":
            return "airflow.providers." + rest[2]
        return top.removesuffix(".py")
    if OURS in parts:
        return OURS
    if "benchmarks" in parts:
        return "benchmarks"
    if "python3" in filename and "/lib/" in filename:
        return "stdlib:" + parts[-1].removesuffix(".py")
    return parts[-1]


def _frame_name(frame) -> str:  # type: ignore[no-untyped-def]
    code = frame.f_code
    return f"{_package(code.co_filename)}:{getattr(code, 'co_qualname', code.co_name)}"


def _sampler(role: str) -> None:
    from _airflow_shared import shared

    mem = shared(SHM, N) if SHM else None
    main_id = threading.main_thread().ident
    phases: dict[int, dict[str, Counter[str]]] = {}
    totals: Counter[int] = Counter()
    last_dump = time.monotonic()
    path = os.path.join(OUT, f"{role}.json")  # type: ignore[arg-type]
    while True:
        time.sleep(PERIOD)
        frame = sys._current_frames().get(main_id)  # type: ignore[arg-type]
        phase = mem.phase if mem is not None else 0
        if frame is not None:
            stack = []
            f = frame
            while f is not None and len(stack) < 80:
                stack.append(_frame_name(f))
                f = f.f_back
            leaf = stack[0]
            bucket = phases.setdefault(
                phase,
                {
                    "leaf_package": Counter(),
                    "ours_outer": Counter(),
                    "ours_inner": Counter(),
                    "stacks": Counter(),
                    "leaf": Counter(),
                },
            )
            totals[phase] += 1
            idle = leaf.endswith(("select", "poll", "epoll")) or "selectors:" in leaf
            if idle:
                bucket["leaf_package"]["(idle: selector wait)"] += 1
                continue
            bucket["leaf_package"][leaf.split(":", 1)[0]] += 1
            bucket["leaf"][leaf] += 1
            ours = [s for s in stack if s.startswith(OURS)]
            if ours:
                bucket["ours_outer"][ours[-1]] += 1
                bucket["ours_inner"][ours[0]] += 1
            bucket["stacks"][";".join(reversed(stack[:40]))] += 1
        now = time.monotonic()
        if now - last_dump >= 2:
            last_dump = now
            dump = {
                "role": role,
                "period_s": PERIOD,
                "phases": {
                    str(p): {
                        "samples": totals[p],
                        **{
                            k: dict(c.most_common(60 if k != "stacks" else 40))
                            for k, c in b.items()
                        },
                    }
                    for p, b in phases.items()
                },
            }
            tmp = path + ".tmp"
            with open(tmp, "w") as fh:
                json.dump(dump, fh)
            os.replace(tmp, path)


def _start(role: str) -> None:
    threading.Thread(target=_sampler, args=(role,), name="pbench-sampler", daemon=True).start()


def _after_fork() -> None:
    if not _started["child"]:
        _started["child"] = True
        _start(f"runner-{os.getpid()}")


if OUT and "triggerer" in " ".join(sys.argv):
    _start("supervisor")
    os.register_at_fork(after_in_child=_after_fork)
