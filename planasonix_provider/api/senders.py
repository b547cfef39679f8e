"""Senders: what puts one operation on the wire with one HTTP library and reads the whole answer.

A sender knows its library and nothing of the retry policy. It raises only this package's
:class:`~planasonix_provider.api.errors.NotSentError` or
:class:`~planasonix_provider.api.errors.MaybeSentError` when no answer came, mapping its library's
errors into them here, in one table per library (httpx's below, aiohttp's in
``aiohttp_sender.py``), so that ``retry.py`` decides every retry from our vocabulary alone.

The sync client sends with :class:`HttpxSender`; the async one with ``AiohttpSender`` (the
default), or :class:`AsyncHttpxSender` behind a proxy aiohttp cannot use, or with an httpx
transport passed in (tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import httpx

from planasonix_provider.api.answers import HttpAnswer
from planasonix_provider.api.config import ClientSettings
from planasonix_provider.api.errors import MaybeSentError, NotSentError, SendError
from planasonix_provider.api.operations import Operation

T_co = TypeVar("T_co", covariant=True)


@dataclass(frozen=True, slots=True)
class Prepared(Generic[T_co]):
    """An operation with its absolute URL resolved once by the client's sender, for an
    operation sent again and again (a poll): the URL is in the sender's own type, which the
    I/O-free operation does not hold. Made by ``client.prepare(operation)``."""

    operation: Operation[T_co]
    url: object


def unpack(request: Operation[T_co] | Prepared[T_co]) -> tuple[Operation[T_co], object | None]:
    """The operation to send, and its URL if a client prepared it."""
    if isinstance(request, Prepared):
        return request.operation, request.url
    return request, None


class AsyncSender(Protocol):
    """Sends one request; raises :class:`NotSentError` or :class:`MaybeSentError` on failure."""

    def resolve(self, operation: Operation[Any]) -> object: ...

    async def send(self, operation: Operation[Any], url: object | None) -> HttpAnswer: ...

    async def aclose(self) -> None: ...


# Failures that happen before a single byte of the request reached the server. Every other
# httpx transport error counts as "may have been sent".
_NOT_SENT: tuple[type[httpx.TransportError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)


def send_error_from_httpx(exc: httpx.TransportError) -> SendError:
    """httpx's transport error in our terms, named as httpx names it."""
    kind = NotSentError if isinstance(exc, _NOT_SENT) else MaybeSentError
    return kind(type(exc).__name__, str(exc))


def _httpx_options(settings: ClientSettings) -> dict[str, Any]:
    return {
        "base_url": settings.base_url,
        "headers": settings.headers(),
        "timeout": settings.timeout,
        "limits": httpx.Limits(
            max_connections=settings.max_connections,
            max_keepalive_connections=settings.max_connections,
        ),
        "follow_redirects": False,
    }


def _target(operation: Operation[Any], url: object | None) -> httpx.URL | str:
    return url if isinstance(url, httpx.URL) else operation.path


def _request_options(operation: Operation[Any]) -> dict[str, Any]:
    options: dict[str, Any] = {"params": operation.params, "json": operation.body}
    if operation.accept is not None:  # per-request headers cost a merge on every poll
        options["headers"] = {"Accept": operation.accept}
    return options


class HttpxSender:
    """Sends with one ``httpx.Client`` and its pool, for the client's lifetime."""

    def __init__(self, settings: ClientSettings, transport: httpx.BaseTransport | None) -> None:
        self._http = httpx.Client(transport=transport, **_httpx_options(settings))

    def resolve(self, operation: Operation[Any]) -> httpx.URL:
        """The operation's absolute URL, resolved once as the httpx client would resolve it."""
        return self._http.build_request(operation.method, operation.path).url

    def send(self, operation: Operation[Any], url: object | None = None) -> httpx.Response:
        try:
            return self._http.request(
                operation.method, _target(operation, url), **_request_options(operation)
            )
        except httpx.TransportError as exc:
            raise send_error_from_httpx(exc) from exc

    def close(self) -> None:
        self._http.close()


class AsyncHttpxSender:
    """Sends with one ``httpx.AsyncClient``: behind a proxy aiohttp cannot use (docs/client.md),
    and the way tests plug in an ``httpx.MockTransport``."""

    def __init__(
        self, settings: ClientSettings, transport: httpx.AsyncBaseTransport | None
    ) -> None:
        self._http = httpx.AsyncClient(transport=transport, **_httpx_options(settings))

    def resolve(self, operation: Operation[Any]) -> httpx.URL:
        """The operation's absolute URL, resolved once as the httpx client would resolve it."""
        return self._http.build_request(operation.method, operation.path).url

    async def send(self, operation: Operation[Any], url: object | None = None) -> httpx.Response:
        try:
            return await self._http.request(
                operation.method, _target(operation, url), **_request_options(operation)
            )
        except httpx.TransportError as exc:
            raise send_error_from_httpx(exc) from exc

    async def aclose(self) -> None:
        await self._http.aclose()
