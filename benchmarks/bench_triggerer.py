"""Triggerer scale: N PlanasonixJobTriggers in one asyncio loop, against the sandbox process.

Each (poller, N) pair runs in a fresh child process (so RSS and GC state do not carry over),
driving ``trigger.run()`` as the triggerer does: the trigger is rebuilt from its ``serialize()``
kwargs, each ``run()`` is a task, events are collected. The sandbox runs in another process.

Pollers, side by side:
  trigger        PlanasonixJobTrigger, connection extra http_transport=auto (aiohttp installed)
  trigger-httpx  PlanasonixJobTrigger, http_transport=httpx
  a-new-client   a trigger-like loop building a new httpx.AsyncClient per poll
  b-aiohttp      bare aiohttp, one shared ClientSession (limit 100)
  c-httpx        bare httpx, one shared AsyncClient (limits 100) + a semaphore of 100

Usage: bench_triggerer.py [--smoke] [--n 1000,5000,10000] [--duration 30] [--poll 10]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    PYTHON,
    ROOT,
    Sandbox,
    Targets,
    open_sockets,
    percentile,
    proc_status_kb,
    quiet_airflow_env,
    reset_peak_rss,
    sandbox_process,
    set_quiet_airflow_env,
    table,
)

MAX_CONNECTIONS = 100
JITTER = 0.1
POLL_COUNTER = "GET /api/v1/jobs/{job_id}"
TERMINAL = {"succeeded", "failed", "cancelled"}
ALL_POLLERS = ("trigger", "trigger-httpx", "a-new-client", "b-aiohttp", "c-httpx")


# --- Child: one poller, one N ------------------------------------------------------------------


async def create_jobs(url: str, key: str, connection_id: str, n: int) -> list[str]:
    import httpx

    ids: list[str] = []
    limit = asyncio.Semaphore(50)
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60
    ) as client:

        async def one() -> None:
            async with limit:
                r = await client.post(f"/api/v1/connections/{connection_id}/sync", json={})
                r.raise_for_status()
                ids.append(r.json()["data"]["job"]["id"])

        await asyncio.gather(*(one() for _ in range(n)))
    return ids


def poll_count(url: str, key: str) -> int:
    import httpx

    r = httpx.get(f"{url}/_sandbox/counters", headers={"Authorization": f"Bearer {key}"})
    r.raise_for_status()
    return int(r.json()["data"]["requests"].get(POLL_COUNTER, 0))


def _delay(poll: float) -> float:
    return poll * random.uniform(1 - JITTER, 1 + JITTER)


def make_coroutines(
    poller: str, ids: list[str], url: str, key: str, poll: float, events: dict[str, int]
) -> tuple[list[Any], Any]:
    """The N coroutines of a poller, and an async cleanup for its shared client (or None)."""
    headers = {"Authorization": f"Bearer {key}"}

    def deliver(job_id: str) -> None:
        events[job_id] = events.get(job_id, 0) + 1

    if poller.startswith("trigger"):
        from _common import import_string

        from planasonix_provider.triggers.planasonix import PlanasonixJobTrigger

        async def run_trigger(job_id: str) -> None:
            classpath, kwargs = PlanasonixJobTrigger(
                resource_id=job_id, poll_interval=poll
            ).serialize()
            trigger = import_string(classpath)(**kwargs)
            async for event in trigger.run():
                if event.payload.get("status") != "success":
                    raise RuntimeError(f"unexpected event {event.payload!r:.300}")
                deliver(job_id)

        return [run_trigger(j) for j in ids], None

    if poller == "b-aiohttp":
        import aiohttp

        session = aiohttp.ClientSession(
            base_url=url, headers=headers, connector=aiohttp.TCPConnector(limit=MAX_CONNECTIONS)
        )

        async def run_b(job_id: str) -> None:
            while True:
                async with session.get(f"/api/v1/jobs/{job_id}") as r:
                    body = await r.json()
                if body["data"]["status"] in TERMINAL:
                    deliver(job_id)
                    return
                await asyncio.sleep(_delay(poll))

        return [run_b(j) for j in ids], session.close

    import httpx

    if poller == "c-httpx":
        limits = httpx.Limits(
            max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS
        )
        client = httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=60)
        slots = asyncio.Semaphore(MAX_CONNECTIONS)

        async def run_c(job_id: str) -> None:
            while True:
                async with slots:
                    r = await client.get(f"/api/v1/jobs/{job_id}")
                if r.json()["data"]["status"] in TERMINAL:
                    deliver(job_id)
                    return
                await asyncio.sleep(_delay(poll))

        return [run_c(j) for j in ids], client.aclose

    if poller == "a-new-client":

        async def run_a(job_id: str) -> None:
            while True:
                async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as c:
                    r = await c.get(f"/api/v1/jobs/{job_id}")
                if r.json()["data"]["status"] in TERMINAL:
                    deliver(job_id)
                    return
                await asyncio.sleep(_delay(poll))

        return [run_a(j) for j in ids], None

    raise SystemExit(f"unknown poller {poller!r}")


async def child_main(args: argparse.Namespace) -> dict[str, Any]:
    url, key, n, poll = args.url, args.key, args.n, args.poll
    transport = "httpx" if args.poller == "trigger-httpx" else "auto"
    os.environ["AIRFLOW_CONN_PLANASONIX_DEFAULT"] = json.dumps(
        {
            "conn_type": "planasonix",
            "host": url,
            "password": key,
            "extra": {"http_transport": transport, "max_connections": MAX_CONNECTIONS},
        }
    )
    # Everything a triggerer has loaded before the triggers arrive.
    import aiohttp  # noqa: F401  (loaded by every poller that may need it, for a fair baseline)
    import httpx  # noqa: F401
    from _common import import_string  # noqa: F401
    from airflow.triggers.base import BaseTrigger  # noqa: F401

    import planasonix_provider.triggers.planasonix  # noqa: F401
    from planasonix_provider.airflow_lines import BaseHook

    # Airflow's connection machinery, which a triggerer has loaded before its first trigger: on
    # Airflow 3.0 the first connection read loads its ORM and secrets backends (seconds of CPU,
    # about 60 MB), which at smoke sizes would be charged to our trigger's polls.
    os.environ["AIRFLOW_CONN_BENCH_WARM_UP"] = json.dumps({"conn_type": "http", "host": url})
    BaseHook.get_connection("bench_warm_up")

    ids = await create_jobs(url, key, args.connection_id, n)
    polls_before = poll_count(url, key)
    gc.collect()
    await asyncio.sleep(0.2)
    rss_base = proc_status_kb("VmRSS")
    hwm_reset = reset_peak_rss()
    sockets_base = open_sockets()

    events: dict[str, int] = {}
    lags: list[float] = []
    peak = {"rss": rss_base, "sockets": 0}
    done = asyncio.Event()
    objects_base = len(gc.get_objects())
    census = {"objects": 0, "skip_sample": False, "running": False}

    async def sampler() -> None:
        tick = 0
        while not done.is_set():
            start = time.perf_counter()
            await asyncio.sleep(0.05)
            if census["skip_sample"]:  # the census below blocked the loop, not the pollers
                census["skip_sample"] = False
            else:
                lags.append(time.perf_counter() - start - 0.05)
            tick += 1
            if tick % 4 == 0:
                peak["rss"] = max(peak["rss"], proc_status_kb("VmRSS"))
                peak["sockets"] = max(peak["sockets"], open_sockets() - sockets_base)

    # Full collections stop the loop too: record their pauses, to tell them from our own work.
    gc_pauses: list[float] = []
    gc_started = [0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if info["generation"] == 2 and not census["running"]:
            if phase == "start":
                gc_started[0] = time.perf_counter()
            else:
                gc_pauses.append(time.perf_counter() - gc_started[0])

    gc.callbacks.append(on_gc)
    sampler_task = asyncio.create_task(sampler())
    cpu0, wall0 = time.process_time(), time.perf_counter()
    coroutines, cleanup = make_coroutines(args.poller, ids, url, key, poll, events)
    # As Airflow's TriggerRunner.create_triggers does: one task at a time, yielding to the loop
    # in between (it awaits asyncio.sleep(0) per trigger), not N tasks started in one tick.
    tasks = []
    for coroutine in coroutines:
        tasks.append(asyncio.create_task(coroutine))
        await asyncio.sleep(0)
    # What a full garbage collection must walk: objects the GC tracks, per waiting poller, half a
    # poll interval after the last one started (all are waiting then). Garbage is collected first
    # so that only live objects count; that collection is neither timed nor counted above.
    await asyncio.sleep(poll / 2)
    census["skip_sample"] = census["running"] = True
    gc.collect()
    census["objects"] = len(gc.get_objects()) - objects_base
    census["running"] = False
    results = await asyncio.gather(*tasks, return_exceptions=True)
    cpu1, wall1 = time.process_time(), time.perf_counter()
    done.set()
    await sampler_task
    rss_peak = max(peak["rss"], proc_status_kb("VmHWM") if hwm_reset else 0)
    if cleanup is not None:
        await cleanup()
    errors = [repr(r) for r in results if isinstance(r, BaseException)]
    polls = poll_count(url, key) - polls_before
    wall = wall1 - wall0
    return {
        "poller": args.poller,
        "n": n,
        "polls": polls,
        "wall_s": wall,
        "cpu_s": cpu1 - cpu0,
        "cpu_us_per_poll": (cpu1 - cpu0) / max(polls, 1) * 1e6,
        "polls_per_s": polls / wall,
        "lag_p50_ms": percentile(lags, 50) * 1000,
        "lag_p99_ms": percentile(lags, 99) * 1000,
        "lag_max_ms": max(lags, default=0.0) * 1000,
        "gc_full": len(gc_pauses),
        "gc_full_max_ms": max(gc_pauses, default=0.0) * 1000,
        "gc_objects_per_trigger": census["objects"] / n,
        "rss_base_mb": rss_base / 1024,
        "rss_per_trigger_kb": (rss_peak - rss_base) / n,
        "sockets_max": peak["sockets"],
        "events": sum(events.values()),
        "events_distinct": len(events),
        "duplicates": sum(1 for v in events.values() if v > 1),
        "errors": errors[:3],
        "error_count": len(errors),
    }


# --- Orchestrator ------------------------------------------------------------------------------


def set_scenario(sandbox: Sandbox, connection_id: str, duration: float) -> None:
    import httpx

    r = httpx.put(
        f"{sandbox.url}/_sandbox/scenarios/{connection_id}",
        json={"duration": duration, "queued_for": 0.5},
        headers={"Authorization": f"Bearer {sandbox.api_key}"},
    )
    r.raise_for_status()


def run_child(
    sandbox: Sandbox, poller: str, n: int, poll: float, duration: float
) -> dict[str, Any]:
    connection_id = f"bench-{poller}-{n}-{int(time.time() * 1000)}"
    set_scenario(sandbox, connection_id, duration)
    cmd = [
        PYTHON,
        __file__,
        "--child",
        "--poller",
        poller,
        "--n",
        str(n),
        "--poll",
        str(poll),
        "--url",
        sandbox.url,
        "--key",
        sandbox.api_key,
        "--connection-id",
        connection_id,
    ]
    server_cpu0 = sandbox.cpu_seconds()
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env=quiet_airflow_env(), cwd=ROOT, check=False
    )
    server_cpu = sandbox.cpu_seconds() - server_cpu0
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        sys.stderr.write(proc.stderr[-3000:])
        raise RuntimeError(f"child {poller} N={n} failed with exit code {proc.returncode}")
    result: dict[str, Any] = json.loads(lines[-1])
    result["server_cpu_us_per_poll"] = server_cpu / max(result["polls"], 1) * 1e6
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--n", default=None, help="comma-separated trigger counts")
    parser.add_argument("--duration", type=float, default=None, help="job duration, seconds")
    parser.add_argument("--poll", type=float, default=None, help="poll interval, seconds")
    parser.add_argument("--pollers", default=",".join(ALL_POLLERS))
    parser.add_argument("--a-max-n", type=int, default=None, help="largest N for a-new-client")
    parser.add_argument("--c-max-n", type=int, default=None, help="largest N for c-httpx")
    parser.add_argument(
        "--httpx-trigger-max-n", type=int, default=None, help="largest N for trigger-httpx"
    )
    # Child mode
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--poller")
    parser.add_argument("--url")
    parser.add_argument("--key")
    parser.add_argument("--connection-id")
    args = parser.parse_args(argv)

    if args.child:
        set_quiet_airflow_env()
        import logging

        # The triggerer writes trigger logs to a file; /dev/null keeps the formatting cost.
        logging.basicConfig(level=logging.INFO, stream=open(os.devnull, "w"))  # noqa: SIM115
        args.n = int(args.n)
        print(json.dumps(asyncio.run(child_main(args))))
        return 0

    smoke = args.smoke
    ns = [int(x) for x in (args.n or ("200" if smoke else "1000,5000,10000")).split(",")]
    duration = args.duration or (6.0 if smoke else 30.0)
    poll = args.poll or (2.0 if smoke else 10.0)
    a_max = args.a_max_n or (50 if smoke else 300)
    c_max = args.c_max_n or (10**9 if smoke else 5000)
    h_max = args.httpx_trigger_max_n or (10**9 if smoke else 5000)
    pollers = args.pollers.split(",")

    print(
        f"## Triggerer scale: jobs last {duration:.0f} s, poll interval {poll:.0f} s "
        f"(±{JITTER:.0%} jitter), pool {MAX_CONNECTIONS}; sandbox in its own process"
    )
    results: list[dict[str, Any]] = []
    with sandbox_process() as sandbox:
        for n in ns:
            for poller in pollers:
                size = n
                if poller == "a-new-client":
                    size = min(n, a_max)
                    if n != ns[0]:
                        continue  # very slow: run once, at a small N
                elif (poller == "c-httpx" and n > c_max) or (
                    poller == "trigger-httpx" and n > h_max
                ):
                    continue
                print(f"  running {poller} N={size} ...", flush=True)
                results.append(run_child(sandbox, poller, size, poll, duration))

    headers = [
        "poller",
        "N",
        "polls",
        "CPU µs/poll",
        "server CPU µs/poll",
        "polls/s",
        "intended polls/s",
        "lag p50 ms",
        "lag p99 ms",
        "lag max ms",
        "full GCs (max ms)",
        "GC objects/trigger",
        "RSS KB/trigger",
        "max sockets",
        "events",
        "dup",
        "errors",
    ]
    rows = [
        [
            r["poller"],
            r["n"],
            r["polls"],
            r["cpu_us_per_poll"],
            r["server_cpu_us_per_poll"],
            r["polls_per_s"],
            r["n"] / poll,
            r["lag_p50_ms"],
            r["lag_p99_ms"],
            r["lag_max_ms"],
            f"{r['gc_full']} ({r['gc_full_max_ms']:.0f})",
            r["gc_objects_per_trigger"],
            r["rss_per_trigger_kb"],
            r["sockets_max"],
            f"{r['events_distinct']}/{r['n']}",
            r["duplicates"],
            r["error_count"],
        ]
        for r in results
    ]
    print()
    print(table(headers, rows))
    for r in results:
        if r["errors"]:
            print(f"  {r['poller']} N={r['n']} errors: {r['errors']}")

    targets = Targets(smoke)
    by = {(r["poller"], r["n"]): r for r in results}
    a_runs = [r for r in results if r["poller"] == "a-new-client"]
    big = max(ns)
    for r in results:
        if not r["poller"].startswith("trigger"):
            continue
        label = f"{r['poller']} N={r['n']:,}"
        b = by.get(("b-aiohttp", r["n"]))
        if b is not None and r["poller"] == "trigger":
            ratio = r["cpu_us_per_poll"] / b["cpu_us_per_poll"]
            targets.check(
                f"{label}: CPU/poll vs (b) bare aiohttp", f"{ratio:.2f}x", "<= 2.5x", ratio <= 2.5
            )
        elif b is not None:
            ratio = r["cpu_us_per_poll"] / b["cpu_us_per_poll"]
            targets.info(
                f"{label}: CPU/poll vs (b) bare aiohttp",
                f"{ratio:.2f}x",
                "httpx transport, for the transport choice",
            )
        if b is not None and r["poller"] == "trigger":
            # What a full collection walks: a trigger should cost it no more than a bare poller.
            targets.check(
                f"{label}: GC objects per trigger vs (b) bare aiohttp",
                f"{r['gc_objects_per_trigger']:.1f} vs {b['gc_objects_per_trigger']:.1f}",
                "<= (b)",
                r["gc_objects_per_trigger"] <= b["gc_objects_per_trigger"],
                enforce=not smoke and r["n"] >= 1000,
            )
        if a_runs and r["poller"] == "trigger":
            ratio = r["cpu_us_per_poll"] / a_runs[0]["cpu_us_per_poll"]
            targets.check(
                f"{label}: CPU/poll vs (a) client per poll (N={a_runs[0]['n']})",
                f"1/{1 / ratio:.0f}",
                "<= 1/20",
                ratio <= 1 / 20,
            )
        if r["poller"] == "trigger" and r["n"] == big:
            enforce = not smoke and big >= 10_000
            targets.check(
                f"{label}: loop lag p99",
                f"{r['lag_p99_ms']:.0f} ms",
                "< 100 ms (N=10,000)",
                r["lag_p99_ms"] < 100,
                enforce=enforce,
            )
            targets.check(
                f"{label}: loop lag max",
                f"{r['lag_max_ms']:.0f} ms",
                "< 200 ms (N=10,000)",
                r["lag_max_ms"] < 200,
                enforce=enforce,
            )
        if r["poller"] == "trigger":
            targets.check(
                f"{label}: RSS per trigger",
                f"{r['rss_per_trigger_kb']:.1f} KB",
                "< 20 KB",
                r["rss_per_trigger_kb"] < 20,
                enforce=not smoke and r["n"] >= 1000,
            )
        targets.check(
            f"{label}: open sockets",
            str(r["sockets_max"]),
            f"<= pool ({MAX_CONNECTIONS}), not N",
            r["sockets_max"] <= MAX_CONNECTIONS,
        )
        targets.check(
            f"{label}: events",
            f"{r['events_distinct']}/{r['n']}, {r['duplicates']} twice, {r['error_count']} errors",
            "all, none twice",
            r["events_distinct"] == r["n"] and r["duplicates"] == 0 and r["error_count"] == 0,
        )
    return targets.report("Triggerer scale")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
