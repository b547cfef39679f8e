"""Client overhead: ``get_job`` through our clients against raw httpx (and aiohttp) on the same URL.

One warm process, the sandbox in another. Calls are sequential; the clients take turns in blocks
(A B C ... A B C ...) so that machine noise hits all alike; figures are medians over the blocks.

Usage: bench_client.py [--smoke] [--calls 300] [--rounds 7]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Targets, median, sandbox_process, set_quiet_airflow_env, table

TARGET_RATIO = 1.3


def create_job(url: str, key: str) -> str:
    import httpx

    headers = {"Authorization": f"Bearer {key}"}
    httpx.put(
        f"{url}/_sandbox/scenarios/bench-client", json={"duration": 3600}, headers=headers
    ).raise_for_status()
    r = httpx.post(f"{url}/api/v1/connections/bench-client/sync", json={}, headers=headers)
    r.raise_for_status()
    job_id: str = r.json()["data"]["job"]["id"]
    return job_id


def timed_sync(fn: Callable[[], Any], calls: int) -> tuple[float, float]:
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - wall0) / calls * 1e6, (time.process_time() - cpu0) / calls * 1e6


async def timed_async(fn: Callable[[], Awaitable[Any]], calls: int) -> tuple[float, float]:
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for _ in range(calls):
        await fn()
    return (time.perf_counter() - wall0) / calls * 1e6, (time.process_time() - cpu0) / calls * 1e6


def run_sync(url: str, key: str, job_id: str, calls: int, rounds: int) -> dict[str, list[Any]]:
    import httpx

    from planasonix_provider.api import PlanasonixClient

    ours = PlanasonixClient(url, key)
    raw = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    path = f"/api/v1/jobs/{job_id}"
    cases: dict[str, Callable[[], Any]] = {
        "sync: raw httpx.Client.get": lambda: raw.get(path),
        "sync: raw httpx.Client.get + .json()": lambda: raw.get(path).json(),
        "sync: PlanasonixClient.get_job": lambda: ours.get_job(job_id),
    }
    out: dict[str, list[Any]] = {name: [] for name in cases}
    for fn in cases.values():
        timed_sync(fn, 20)  # warm
    for _ in range(rounds):
        for name, fn in cases.items():
            out[name].append(timed_sync(fn, calls))
    ours.close()
    raw.close()
    return out


async def run_async(
    url: str, key: str, job_id: str, calls: int, rounds: int
) -> dict[str, list[Any]]:
    import aiohttp
    import httpx

    from planasonix_provider.hooks.planasonix import ConnectionSettings, build_async_client

    def settings(transport: str) -> ConnectionSettings:
        return ConnectionSettings.parse(
            "bench", host=url, port=None, password=key, extra={"http_transport": transport}
        )

    via_aiohttp = build_async_client(settings("aiohttp"))
    via_httpx = build_async_client(settings("httpx"))
    headers = {"Authorization": f"Bearer {key}"}
    raw = httpx.AsyncClient(base_url=url, headers=headers, timeout=30)
    session = aiohttp.ClientSession(base_url=url, headers=headers)
    path = f"/api/v1/jobs/{job_id}"

    async def bare_aiohttp() -> Any:
        async with session.get(path) as r:
            return await r.read()

    cases: dict[str, Callable[[], Awaitable[Any]]] = {
        "async: raw httpx.AsyncClient.get": lambda: raw.get(path),
        "async: bare aiohttp session.get": bare_aiohttp,
        "async: AsyncPlanasonixClient.get_job, httpx transport": lambda: via_httpx.get_job(job_id),
        "async: AsyncPlanasonixClient.get_job, aiohttp transport": lambda: via_aiohttp.get_job(
            job_id
        ),
    }
    out: dict[str, list[Any]] = {name: [] for name in cases}
    for fn in cases.values():
        await timed_async(fn, 20)
    for _ in range(rounds):
        for name, fn in cases.items():
            out[name].append(await timed_async(fn, calls))
    await via_aiohttp.aclose()
    await via_httpx.aclose()
    await raw.aclose()
    await session.close()
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--calls", type=int, default=None, help="calls per block")
    parser.add_argument("--rounds", type=int, default=None, help="blocks per client")
    args = parser.parse_args(argv)
    calls = args.calls or (100 if args.smoke else 300)
    rounds = args.rounds or (3 if args.smoke else 7)
    set_quiet_airflow_env()
    print(
        f"## Client overhead: get_job vs raw GET of the same URL, {rounds} blocks of {calls} "
        "sequential calls each, sandbox in its own process\n"
    )
    with sandbox_process() as sandbox:
        job_id = create_job(sandbox.url, sandbox.api_key)
        results = run_sync(sandbox.url, sandbox.api_key, job_id, calls, rounds)
        results.update(asyncio.run(run_async(sandbox.url, sandbox.api_key, job_id, calls, rounds)))

    wall = {name: median([w for w, _ in v]) for name, v in results.items()}
    cpu = {name: median([c for _, c in v]) for name, v in results.items()}
    sync_raw = "sync: raw httpx.Client.get"
    async_raw = "async: raw httpx.AsyncClient.get"
    rows = []
    for name in results:
        base = sync_raw if name.startswith("sync") else async_raw
        rows.append(
            [
                name,
                wall[name],
                cpu[name],
                f"{wall[name] / wall[base]:.2f}x",
                f"{cpu[name] / cpu[base]:.2f}x",
            ]
        )
    print(
        table(
            [
                "client",
                "wall µs/call",
                "client CPU µs/call",
                "wall vs raw httpx",
                "CPU vs raw httpx",
            ],
            rows,
        )
    )

    targets = Targets(args.smoke)
    ratio = wall["sync: PlanasonixClient.get_job"] / wall[sync_raw]
    targets.check(
        "PlanasonixClient.get_job vs httpx.Client.get (wall)",
        f"{ratio:.2f}x",
        f"<= {TARGET_RATIO}x",
        ratio <= TARGET_RATIO,
        enforce=not args.smoke,
    )
    for transport in ("httpx", "aiohttp"):
        name = f"async: AsyncPlanasonixClient.get_job, {transport} transport"
        targets.info(
            f"async client, {transport} transport, vs httpx.AsyncClient.get",
            f"wall {wall[name] / wall[async_raw]:.2f}x, CPU {cpu[name] / cpu[async_raw]:.2f}x",
            "for the transport choice",
        )
    return targets.report("Client overhead")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
