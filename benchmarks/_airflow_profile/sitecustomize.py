"""A stack sampler for the triggerer's two processes (bench_airflow_triggerer.py --profile).

Loaded by Python at start-up (this directory is put on the triggerer's PYTHONPATH only with
--profile). After every PBENCH_SAMPLE_MS (default 2 ms) of the process's CPU time, SIGPROF
records the main thread's stack under the benchmark's current phase (read from the shared memory
file). The supervisor samples from start; the TriggerRunner child, which the supervisor forks,
arms its own timer after the fork (timers are not inherited). Each writes a JSON summary at most
every 2 s to PBENCH_PROFILE_OUT/<role>.json. A thread-sampling profiler would be biased: it gets
the GIL mostly while the loop waits in C, so it misses pure-Python work. CPU that other threads
use is charged to the main thread's stack at that moment (the runner's threads are idle here).

Garbage collection runs in C and delays the signal until it ends, so a sample would charge a
collection to whichever Python frame happened to allocate: each collection of 50 ms or more is
therefore recorded on its own (``gc.callbacks``: wall-clock start, seconds, generation, phase),
with the total collection time per phase and generation, so that a blocked loop can be told
apart from the frames it happened in. For the same reason (a long C call, or a wait with the
GIL released, takes one CPU sample or none), the runner also has a wall-clock sampler thread
that records its main thread's stack every 20 ms: during a blocked loop, it shows what the loop
was stuck in.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter

OUT = os.environ.get("PBENCH_PROFILE_OUT")
SHM = os.environ.get("PBENCH_SHM")
N = int(os.environ.get("PBENCH_N", "0") or 0)
PERIOD = float(os.environ.get("PBENCH_SAMPLE_MS", "2")) / 1000
GC_PAUSE_S = 0.05
WALL_PERIOD = 0.02
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


class _Sampler:
    """CPU-time sampling: ``ITIMER_PROF`` sends SIGPROF after every PERIOD of the process's CPU
    time, and the handler (which Python runs in the main thread, between bytecodes) records
    the main thread's stack. Idle time is never sampled, so the counts are where CPU goes."""

    def __init__(self, role: str) -> None:
        from _airflow_shared import shared

        self.mem = shared(SHM, N) if SHM else None
        self.path = os.path.join(OUT, f"{role}.json")  # type: ignore[arg-type]
        self.role = role
        self.phases: dict[int, dict[str, Counter[str]]] = {}
        self.totals: Counter[int] = Counter()
        self.last_dump = time.monotonic()
        self.dumping = False
        self.gc_started = (0.0, 0.0)
        self.gc_seconds: Counter[str] = Counter()
        self.gc_pauses: list[list[float]] = []
        #: The runner's main-thread stack in wall-clock time (see :func:`_wall_sampler`).
        self.wall: list[tuple[float, int, str, str]] = []

    def on_gc(self, event: str, info: dict[str, int]) -> None:
        if event == "start":
            self.gc_started = (time.time(), time.perf_counter())
            return
        seconds = time.perf_counter() - self.gc_started[1]
        phase = self.mem.phase if self.mem is not None else 0
        self.gc_seconds[f"{phase}:{info['generation']}"] += seconds
        if seconds >= GC_PAUSE_S:
            self.gc_pauses.append(
                [round(self.gc_started[0], 3), round(seconds, 4), info["generation"], phase]
            )

    def handler(self, signum, frame) -> None:  # type: ignore[no-untyped-def]
        if self.dumping:  # a signal inside dump() must not change the counters dump() reads
            return
        phase = self.mem.phase if self.mem is not None else 0
        self.totals[phase] += 1
        if frame is not None:
            stack = []
            f = frame
            while f is not None and len(stack) < 80:
                stack.append(_frame_name(f))
                f = f.f_back
            bucket = self.phases.setdefault(
                phase,
                {
                    "leaf_package": Counter(),
                    "ours_outer": Counter(),
                    "ours_inner": Counter(),
                    "stacks": Counter(),
                    "leaf": Counter(),
                },
            )
            leaf = stack[0]
            bucket["leaf_package"][leaf.split(":", 1)[0]] += 1
            bucket["leaf"][leaf] += 1
            ours = [s for s in stack if s.startswith(OURS)]
            if ours:
                bucket["ours_outer"][ours[-1]] += 1
                bucket["ours_inner"][ours[0]] += 1
            bucket["stacks"][";".join(reversed(stack[:40]))] += 1
        now = time.monotonic()
        if now - self.last_dump >= 2:
            self.last_dump = now
            self.dump()

    def dump(self) -> None:
        self.dumping = True
        try:
            self._write()
        finally:
            self.dumping = False

    def _write(self) -> None:
        data = {
            "role": self.role,
            "period_cpu_s": PERIOD,
            "phases": {
                str(p): {
                    "samples": self.totals[p],
                    **{
                        k: dict(c.most_common(60 if k != "stacks" else 400))
                        for k, c in self.phases.get(p, {}).items()
                    },
                }
                for p in self.totals
            },
            "gc_seconds": dict(self.gc_seconds),
            "gc_pauses": self.gc_pauses,
            "wall_period_s": WALL_PERIOD,
            "wall_samples": list(self.wall),
        }
        tmp = self.path + ".tmp"
        with open(tmp, "w") as fh:
            json.dump(data, fh)
        os.replace(tmp, self.path)


def _start(role: str) -> _Sampler:
    import gc
    import signal

    for inherited in [c for c in gc.callbacks if getattr(c, "__name__", "") == "on_gc"]:
        gc.callbacks.remove(inherited)  # the supervisor's, copied into the forked runner
    sampler = _Sampler(role)
    gc.callbacks.append(sampler.on_gc)
    signal.signal(signal.SIGPROF, sampler.handler)
    signal.setitimer(signal.ITIMER_PROF, PERIOD, PERIOD)
    return sampler


def _wall_sampler(sampler: _Sampler, main_ident: int) -> None:
    """Every WALL_PERIOD of wall-clock time, the runner's main thread's stack: what the event
    loop is doing, including while it waits with the GIL released (a blocking call), which CPU
    sampling cannot see. Kept: time, 1 if under our frames, the innermost frame and the
    innermost frame outside the standard library."""
    while True:
        time.sleep(WALL_PERIOD)
        frame = sys._current_frames().get(main_ident)
        if frame is None:
            continue
        names = []
        while frame is not None and len(names) < 80:
            names.append(_frame_name(frame))
            frame = frame.f_back
        outside = next((n for n in names if not n.startswith("stdlib:")), "-")
        ours = any(n.startswith(OURS) for n in names)
        sampler.wall.append((round(time.time(), 3), 1 if ours else 0, names[0], outside))


def _after_fork() -> None:
    if not _started["child"]:
        _started["child"] = True
        import threading

        sampler = _start(f"runner-{os.getpid()}")
        threading.Thread(
            target=_wall_sampler, args=(sampler, threading.get_ident()), daemon=True
        ).start()


if OUT and "triggerer" in " ".join(sys.argv):
    _start("supervisor")
    os.register_at_fork(after_in_child=_after_fork)
