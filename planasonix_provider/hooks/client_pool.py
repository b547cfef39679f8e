"""One async client per (event loop, Airflow connection), shared by the triggers of a triggerer.

A client per poll costs an SSL context and a new connection pool each time, so every trigger of a
triggerer process that uses a connection borrows the same client. The pool knows connection ids
and a factory that makes a client, not the hook: the hook uses the pool, never the reverse.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from planasonix_provider.api import AsyncPlanasonixClient

#: Makes the async client of one connection, off the event loop where it is costly.
ClientFactory = Callable[[], Awaitable["AsyncPlanasonixClient"]]


class SharedClient:
    """A loop's client of one connection, how many leases hold it, and whether someone asked to
    keep it for the life of the loop."""

    __slots__ = ("client", "pinned", "users")

    def __init__(self, client: AsyncPlanasonixClient) -> None:
        self.client = client
        self.users = 0
        self.pinned = False


_shared_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, SharedClient]] = (
    weakref.WeakKeyDictionary()
)
_shared_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


async def shared(conn_id: str, make: ClientFactory) -> SharedClient:
    """The running loop's entry for ``conn_id``, made once with ``make`` under a lock."""
    loop = asyncio.get_running_loop()
    clients = _shared_clients.setdefault(loop, {})
    entry = clients.get(conn_id)
    if entry is not None:
        return entry
    lock = _shared_locks.setdefault(loop, {}).setdefault(conn_id, asyncio.Lock())
    async with lock:
        entry = clients.get(conn_id)
        if entry is None:
            entry = SharedClient(await make())
            clients[conn_id] = entry
    return entry


class AsyncClientLease:
    """One borrowing of a connection's shared async client, as an async context manager; the
    last borrower to leave closes it, unless someone pinned it for the life of the loop.

    A class with slots rather than ``@asynccontextmanager``: a triggerer holds one lease per
    waiting task, and a generator-based one costs five objects more each.
    """

    __slots__ = ("_conn_id", "_entry", "_make")

    def __init__(self, conn_id: str, make: ClientFactory) -> None:
        self._conn_id = conn_id
        self._make: ClientFactory | None = make
        self._entry: SharedClient | None = None

    async def __aenter__(self) -> AsyncPlanasonixClient:
        if self._make is None:
            raise RuntimeError("an async client lease can be entered once")
        entry = await shared(self._conn_id, self._make)
        self._make = None
        entry.users += 1
        self._entry = entry
        return entry.client

    async def __aexit__(self, *exc_info: object) -> None:
        entry, self._entry = self._entry, None
        if entry is None:
            return
        entry.users -= 1
        if entry.users == 0 and not entry.pinned:
            loop = asyncio.get_running_loop()
            if _shared_clients.get(loop, {}).get(self._conn_id) is entry:
                del _shared_clients[loop][self._conn_id]
            await entry.client.aclose()
