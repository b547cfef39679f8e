"""Shared memory between the benchmark, its fake API and the triggerer (bench_airflow_triggerer).

One file (under /dev/shm when there is one) holds, for trigger index i in 0..N-1:

- ``done_at[i]``: the wall time (UNIX seconds) from which job i is done; 0 = not done yet. The
  benchmark writes it; the fake API answers "done" from then on, and the floor trigger fires on
  its first wake-up after it. It is the start of the detection latency.
- ``first_poll[i]``: when job i was first polled (by the fake for ours and dbt Cloud's, by the
  floor trigger itself for the floor), 0 = never.
- ``polls[i]``: polls of job i so far.
- ``seen_done[i]``: when a poll first saw job i done (the fake's answer for ours and dbt Cloud's,
  the floor trigger's wake-up for the floor), 0 = not yet. It splits the detection latency into
  the wait for a poll and the way from that poll to the task instance scheduled.

and a header: the phase the benchmark is in (for the profiler), and a ring of event-loop lag
samples written by the lag-probe trigger. Reads and writes are plain memory accesses: no system
call, so the floor trigger does no I/O.
"""

from __future__ import annotations

import mmap
import os
import tempfile
from pathlib import Path

HEADER = 64  # phase (d), lag count (d), spare
LAG_SLOTS = 400_000  # 50 ms samples: more than 5 hours


def shm_dir() -> Path:
    shm = Path("/dev/shm")  # noqa: S108 - a private, pid-named file; memory, not disk
    return shm if shm.is_dir() else Path(tempfile.gettempdir())


def size_for(n: int) -> int:
    return HEADER + 8 * LAG_SLOTS + n * (8 + 8 + 8 + 8)


class Shared:
    """The mapped file. ``create`` zero-fills it; everyone else opens it."""

    def __init__(self, path: str | os.PathLike[str], n: int) -> None:
        self.path = str(path)
        self.n = n
        fd = os.open(self.path, os.O_RDWR)
        try:
            self._mm = mmap.mmap(fd, size_for(n))
        finally:
            os.close(fd)
        view = memoryview(self._mm)
        self.header = view[0:HEADER].cast("d")
        lag_end = HEADER + 8 * LAG_SLOTS
        self.lag = view[HEADER:lag_end].cast("d")
        a = lag_end
        self.done_at = view[a : a + 8 * n].cast("d")
        self.first_poll = view[a + 8 * n : a + 16 * n].cast("d")
        self.polls = view[a + 16 * n : a + 24 * n].cast("d")
        self.seen_done = view[a + 24 * n : a + 32 * n].cast("d")

    @classmethod
    def create(cls, path: str | os.PathLike[str], n: int) -> Shared:
        with open(path, "wb") as f:
            f.truncate(size_for(n))
        return cls(path, n)

    # header[0]: phase; header[1]: lag samples written
    @property
    def phase(self) -> int:
        return int(self.header[0])

    @phase.setter
    def phase(self, value: int) -> None:
        self.header[0] = float(value)

    def add_lag(self, seconds: float) -> None:
        i = int(self.header[1])
        if i < LAG_SLOTS:
            self.lag[i] = seconds
            self.header[1] = float(i + 1)

    def lag_samples(self) -> list[float]:
        return list(self.lag[: int(self.header[1])])


_OPEN: dict[str, Shared] = {}


def shared(path: str, n: int) -> Shared:
    """One mapping per process and file (the triggers of one run share it)."""
    found = _OPEN.get(path)
    if found is None:
        found = _OPEN[path] = Shared(path, n)
    return found
