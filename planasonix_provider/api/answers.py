"""What the clients read of an HTTP answer, whichever library carried it.

``httpx.Response`` has this shape already; the aiohttp sender builds a :class:`BufferedAnswer`.
Parsing, error mapping and the retry policy read answers through :class:`HttpAnswer` only, so
they exist once for both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


class SentRequest(Protocol):
    """The request an answer belongs to: its headers hold our key, to blank it out of errors."""

    @property
    def headers(self) -> Mapping[str, str]: ...


class HttpAnswer(Protocol):
    """A complete HTTP answer whose body has been read."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...  # names case-insensitive

    @property
    def content(self) -> bytes: ...

    @property
    def text(self) -> str: ...

    @property
    def is_success(self) -> bool: ...

    @property
    def request(self) -> SentRequest: ...


@dataclass(frozen=True, slots=True)
class BufferedAnswer:
    """An answer read in full, as the aiohttp sender hands it over."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes
    request: SentRequest = field(repr=False)  # its headers hold the API key

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300
