"""Triggers of the benchmark's own, run inside the real triggerer by bench_airflow_triggerer.py.

``FloorTrigger``: what a trigger costs Airflow when it does no I/O. It waits as a polling trigger
waits (the same interval, the same +-10 % jitter), and on each wake-up reads its job's state from
shared memory instead of an API; it fires on the first wake-up after the job is done. It logs
nothing. Its event payload is as small as a useful one gets.

``BareAiohttpTrigger``: what a trigger costs Airflow when it polls over HTTP and does nothing
else: one aiohttp session per event loop, shared by all (as ours shares its client), with the
same connection limit as ours; each poll is a GET of the job over TLS, ``json.loads`` and a look
at ``status``. It logs nothing and fires a payload as small as the floor's. Against it, what is
left of our trigger's cost is ours; against the floor, what is left is also the price of I/O.

``LagProbeTrigger``: one per run; sleeps 50 ms in a loop and records the overshoot (the event
loop's lag) in shared memory. It never fires; the benchmark stops the triggerer.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from _airflow_shared import shared
from airflow.triggers.base import BaseTrigger, TriggerEvent

from planasonix_provider.api.defaults import DEFAULT_MAX_CONNECTIONS

JITTER = 0.1
LAG_PERIOD = 0.05
_sessions: dict[asyncio.AbstractEventLoop, aiohttp.ClientSession] = {}


class FloorTrigger(BaseTrigger):
    def __init__(self, index: int, poll_interval: float, shm: str, n: int) -> None:
        super().__init__()
        self.index = index
        self.poll_interval = poll_interval
        self.shm = shm
        self.n = n

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "index": self.index,
                "poll_interval": self.poll_interval,
                "shm": self.shm,
                "n": self.n,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        mem = shared(self.shm, self.n)
        i = self.index
        mem.first_poll[i] = time.time()
        while True:
            mem.polls[i] += 1
            done_at = mem.done_at[i]
            now = time.time()
            if done_at and now >= done_at:
                mem.seen_done[i] = now
                break
            await asyncio.sleep(self.poll_interval * random.uniform(1 - JITTER, 1 + JITTER))
        yield TriggerEvent({"status": "success", "index": i})


class BareAiohttpTrigger(BaseTrigger):
    def __init__(self, url: str, api_key: str, poll_interval: float) -> None:
        super().__init__()
        self.url = url
        self.api_key = api_key
        self.poll_interval = poll_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {"url": self.url, "api_key": self.api_key, "poll_interval": self.poll_interval},
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        loop = asyncio.get_running_loop()
        session = _sessions.get(loop)
        if session is None:
            connector = aiohttp.TCPConnector(limit=DEFAULT_MAX_CONNECTIONS)
            session = _sessions[loop] = aiohttp.ClientSession(connector=connector)
        headers = {"Authorization": f"Bearer {self.api_key}", "Accept": "application/json"}
        while True:
            async with session.get(self.url, headers=headers) as response:
                body = await response.read()
            if json.loads(body)["data"]["status"] == "succeeded":
                break
            await asyncio.sleep(self.poll_interval * random.uniform(1 - JITTER, 1 + JITTER))
        yield TriggerEvent({"status": "success", "url": self.url})


class LagProbeTrigger(BaseTrigger):
    def __init__(self, shm: str, n: int) -> None:
        super().__init__()
        self.shm = shm
        self.n = n

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {"shm": self.shm, "n": self.n},
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        mem = shared(self.shm, self.n)
        while True:
            start = time.monotonic()
            await asyncio.sleep(LAG_PERIOD)
            mem.add_lag(time.monotonic() - start - LAG_PERIOD)
        yield TriggerEvent({})  # pragma: no cover - never reached
