"""Lists: one page of items, and the cursors a listing has followed.

The clients iterate every page lazily with these; a cursor that comes back ends the listing with
an error instead of a loop for ever (DESIGN.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from planasonix_provider.api.errors import RequestInfo, ResponseParseError

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """The items of one page, and the cursor of the next (None on the last page)."""

    items: list[T]
    next_cursor: str | None


class CursorTrail:
    """The cursors a listing has followed: a cursor that comes back (repeated, or a cycle) is
    an error, never a loop for ever."""

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def next(self, request: RequestInfo, cursor: str) -> str:
        if cursor in self._seen:
            raise ResponseParseError(
                request,
                200,
                f"the pagination cursor {cursor[:40]!r} came back after {len(self._seen)} "
                "page(s): the listing would loop for ever, so it stops here",
            )
        self._seen.add(cursor)
        return cursor
