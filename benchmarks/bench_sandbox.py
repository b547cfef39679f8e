"""Sandbox throughput on GET /api/v1/jobs/{id}: requests/s with C concurrent clients.

The sandbox is a separate process (``planasonix-sandbox``); the load comes from one aiohttp
session in this process (the cheapest client measured, so that the server is what saturates).
The server's own CPU per request (from /proc) gives its capacity on one core, which answers:
at N triggers polling every P seconds (N/P requests/s), is the server the bottleneck?

Usage: bench_sandbox.py [--smoke] [--seconds 5] [--concurrency 1,10,50,100]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Sandbox, Targets, sandbox_process, set_quiet_airflow_env, table

TRIGGERS = 5_000
POLL_INTERVAL = 10.0


async def load(
    sandbox: Sandbox, concurrency: int, seconds: float, job_ids: list[str]
) -> dict[str, Any]:
    import aiohttp

    headers = {"Authorization": f"Bearer {sandbox.api_key}"}
    done = 0
    errors = 0
    async with aiohttp.ClientSession(
        base_url=sandbox.url, headers=headers, connector=aiohttp.TCPConnector(limit=concurrency)
    ) as session:

        async def worker(offset: int) -> None:
            nonlocal done, errors
            i = offset
            while time.perf_counter() < stop:
                async with session.get(f"/api/v1/jobs/{job_ids[i % len(job_ids)]}") as r:
                    await r.read()
                    if r.status != 200:
                        errors += 1
                done += 1
                i += concurrency

        # Warm the connections first.
        stop = time.perf_counter() + 0.5
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        done = errors = 0
        server0, client0 = sandbox.cpu_seconds(), time.process_time()
        start = time.perf_counter()
        stop = start + seconds
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        wall = time.perf_counter() - start
        server_cpu, client_cpu = sandbox.cpu_seconds() - server0, time.process_time() - client0
    return {
        "concurrency": concurrency,
        "requests": done,
        "rps": done / wall,
        "server_cpu_us": server_cpu / max(done, 1) * 1e6,
        "server_core_use": server_cpu / wall,
        "client_cpu_us": client_cpu / max(done, 1) * 1e6,
        "errors": errors,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--concurrency", default="1,10,50,100")
    parser.add_argument("--jobs", type=int, default=1000)
    args = parser.parse_args(argv)
    seconds = args.seconds or (1.5 if args.smoke else 5.0)
    jobs = 100 if args.smoke else args.jobs
    set_quiet_airflow_env()
    import httpx

    print(
        f"## Sandbox throughput: GET /api/v1/jobs/{{id}} over {jobs} jobs, "
        f"{seconds:.0f} s per level\n"
    )
    results = []
    with sandbox_process() as sandbox:
        headers = {"Authorization": f"Bearer {sandbox.api_key}"}
        with httpx.Client(base_url=sandbox.url, headers=headers) as client:
            client.put("/_sandbox/scenarios/bench-rps", json={"duration": 3600}).raise_for_status()
            ids = [
                client.post("/api/v1/connections/bench-rps/sync", json={}).json()["data"]["job"][
                    "id"
                ]
                for _ in range(jobs)
            ]
        for c in (int(x) for x in args.concurrency.split(",")):
            results.append(asyncio.run(load(sandbox, c, seconds, ids)))

    rows = [
        [
            r["concurrency"],
            r["requests"],
            r["rps"],
            r["server_cpu_us"],
            r["server_core_use"],
            r["client_cpu_us"],
            r["errors"],
        ]
        for r in results
    ]
    print(
        table(
            [
                "concurrent",
                "requests",
                "requests/s",
                "server CPU µs/req",
                "server cores busy",
                "load-generator CPU µs/req",
                "errors",
            ],
            rows,
        )
    )
    best = max(results, key=lambda r: r["rps"])
    capacity = 1e6 / best["server_cpu_us"]
    needed = TRIGGERS / POLL_INTERVAL
    targets = Targets(args.smoke)
    targets.info(
        "best measured requests/s",
        f"{best['rps']:,.0f} (at {best['concurrency']} concurrent)",
        "load generator on the same 2 cores",
    )
    targets.info(
        "server capacity on one core (1 / server CPU per request)",
        f"{capacity:,.0f} req/s",
        "single-process uvicorn: one core at most",
    )
    targets.check(
        f"N={TRIGGERS:,} triggers at a {POLL_INTERVAL:.0f} s poll need {needed:,.0f} req/s",
        f"server at {needed / capacity:.0%} of one core",
        "server not the bottleneck (< 100% of a core)",
        needed < capacity,
        enforce=not args.smoke,
    )
    targets.check(
        "errors under load",
        str(sum(r["errors"] for r in results)),
        "0",
        not any(r["errors"] for r in results),
    )
    return targets.report("Sandbox throughput")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
